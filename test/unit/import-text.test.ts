/**
 * Text from a file that ends up on a person's terminal or screen: the account name an
 * .ovpn's comment gives, profile names, certificate subjects, the static-challenge prompt,
 * error messages. None may carry a terminal escape, a C1 control (0x9b is a one-byte CSI
 * to some terminals), a bidi control that reorders what is shown, or a Unicode line
 * separator. One character class (core/util/unprintable.ts) says which, for all of them.
 */
import { strToU8, zipSync } from 'fflate';
import { beforeAll, describe, expect, it } from 'vitest';
import { summarizeCertificate } from '../../core/profile/certificates.js';
import { importFiles, type ImportOptions } from '../../core/profile/import.js';
import { ProfileSchema } from '../../core/profile/schema.js';
import { hasUnprintable } from '../../core/util/unprintable.js';
import { NOW, inline, makeCa, makeClient, type Identity } from '../fixtures/import/generate.js';
import { craftedCert, rsaSpki } from '../fixtures/import/crafted.js';
import { refusal } from '../fixtures/import/refusal.js';
import { importWorkspace } from '../fixtures/import/workspace.js';

const GW = { gateway: { host: 'vpn.example.com' }, now: NOW } satisfies ImportOptions;
/** Named for the test titles: printed raw, they would do to vitest's output what they are tested for. */
const HOSTILE: [string, string][] = [
  ['a terminal escape (ESC, BEL)', '\u001b]0;pwned\u0007'],
  ['CSI as one C1 byte', '\u009b2J'],
  ['NEL (C1)', '\u0085'],
  ['RLO (bidi override)', '\u202e'],
  ['RLI (bidi isolate)', '\u2067'],
  ['LRM', '\u200e'],
  ['the Arabic letter mark', '\u061c'],
  ['the line separator', '\u2028'],
  ['the paragraph separator', '\u2029'],
];
const named = (chars: string[]) => HOSTILE.filter(([, c]) => chars.includes(c));

let ca: Identity;
let client: Identity;
const { files } = importWorkspace('ferry-text-');

beforeAll(async () => {
  ca = await makeCa({ cn: 'Text CA' });
  client = await makeClient(ca, { cn: 'grace' });
});

function ovpn(first: string, extra: string[] = []): string {
  return [first, 'client', 'remote vpn.example.com', ...extra, inline('ca', ca.certPem), inline('cert', client.certPem), inline('key', client.keyPem), ''].join('\n');
}

describe('usernames', () => {
  it.each(HOSTILE)('the account comment of an .ovpn holding %s is refused naming its line', async (_name, bad) => {
    const paths = await files({ 'p.ovpn': ovpn(`# Ferry profile for account "ali${bad}ce"`) });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'p.ovpn line 1: the account name in "# Ferry profile for account" holds control characters or bidi controls — remove them (or give --username) and import again',
    );
  });

  it('still takes a plain account name from the comment', async () => {
    const paths = await files({ 'p.ovpn': ovpn('# Ferry profile for account "alice.b"') });
    expect((await importFiles(paths, GW)).draft.username).toBe('alice.b');
  });

  it.each(HOSTILE)('--username holding %s is refused', async (_name, bad) => {
    const paths = await files({ 'p.ovpn': ovpn('# a profile') });
    expect((await refusal(importFiles(paths, { ...GW, username: `bob${bad}` }))).message).toMatch(
      /^--username "bob[^"]*": a username cannot contain control characters or bidi controls$/,
    );
  });

  it('a client certificate name that cannot be a username asks for --username', async () => {
    const odd = await makeClient(ca, { cn: 'eve\u202egnp.exe' });
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': odd.certPem, 'client.key': odd.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'client.crt: the client certificate\'s name (CN=eve?gnp.exe) holds control characters or bidi controls, so it cannot be the username — give --username U',
    );
    expect((await importFiles(paths, { ...GW, username: 'eve' })).draft.name).toBe('eve-gnp.exe');
  });

  it('a stored profile whose username holds one is damaged', () => {
    const stored = { version: 1, id: 'p-1', name: 'p', remotes: [{ host: 'h', port: 1, proto: 'udp' }], passwordRequired: true, files: [], engine: {}, createdAt: 'x' };
    for (const [, bad] of HOSTILE) expect(ProfileSchema.safeParse({ ...stored, username: `u${bad}` }).success).toBe(false);
    expect(ProfileSchema.safeParse({ ...stored, username: 'u' }).success).toBe(true);
  });
});

describe('profile names', () => {
  it.each(HOSTILE)('--name holding %s is refused', async (_name, bad) => {
    const paths = await files({ 'p.ovpn': ovpn('# a profile') });
    expect((await refusal(importFiles(paths, { ...GW, name: `x${bad}y` }))).message).toMatch(
      /^--name "x[^"]*y": a profile name cannot contain control characters or slashes$/,
    );
  });

  it('a name taken from a zip entry or a certificate is cleaned, not refused', async () => {
    const zipped = await files({ 'b.zip': zipSync({ 'ali\u202ece\u2028.ovpn': strToU8(ovpn('# a profile')) }) });
    expect((await importFiles(zipped, GW)).draft.name).toBe('ali-ce-');
    const odd = await makeClient(ca, { cn: 'x\u009by\u2066z' });
    const pems = await files({ 'ca.crt': ca.certPem, 'client.crt': odd.certPem, 'client.key': odd.keyPem });
    expect((await importFiles(pems, { ...GW, username: 'u' })).draft.name).toBe('x-y-z');
  });
});

describe('certificate subjects as shown', () => {
  it('ferry show and the import summary never print the raw characters (Node prints C1 and bidi as they are)', async () => {
    const crafted = craftedCert({ subject: 'a\u009b2Jb\u202ec\u2028d\u0085', issuer: 'x\u2066y', spki: rsaSpki(2048, 17) });
    const summary = summarizeCertificate(crafted, 'client');
    expect([summary.subject, summary.issuer]).toEqual(['CN=a?2Jb?c?d?', 'CN=x?y']);
    const odd = await makeClient(ca, { cn: 'a\u009b2Jb\u202ecd' });
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': odd.certPem, 'client.key': odd.keyPem });
    const result = await importFiles(paths, { ...GW, username: 'u' });
    expect(result.certificates[1]!.subject).toBe('CN=a?2Jb?cd');
  });
});

describe('text written into the openvpn config', () => {
  it.each(named(['\u202e', '\u2067', '\u200e', '\u061c', '\u0085', '\u2028']))('refuses a static-challenge or verify-x509-name holding %s', async (_name, bad) => {
    for (const line of [`static-challenge "Enter the ${bad}code" 1`, `verify-x509-name "vpn${bad}server" name`]) {
      const paths = await files({ 'p.ovpn': ovpn('# a profile', ['auth-user-pass', line]) });
      expect((await refusal(importFiles(paths, GW))).message).toMatch(/^p\.ovpn line 5: ".*" has a value Ferry does not accept — /);
    }
    expect(hasUnprintable(`a${bad}b`)).toBe(true);
  });
});

describe('error messages', () => {
  it.each(named(['\u2028', '\u2029', '\u061c', '\u200e']))('a PEM label holding %s is quoted with it replaced', async (_name, bad) => {
    const paths = await files({ 'ca.crt': `-----BEGIN A${bad}B-----\nAAAA\n-----END A${bad}B-----\n` });
    expect((await refusal(importFiles(paths, GW))).message).toBe('ca.crt holds a "A?B" block — leave it out and import again');
  });
});

describe('gateway hosts', () => {
  it.each(['-', '--up', '-x.example.com', '.:.', '...', ':'])('refuses %s as a host (it must not start with "-" and needs a letter or digit)', async (host) => {
    const paths = await files({ 'p.ovpn': ovpn('# a profile') });
    expect((await refusal(importFiles(paths, { ...GW, gateway: { host } }))).message).toBe(`--gateway "${host}" is not a hostname or an IP address`);
  });

  it('refuses the same in a remote line, and still reads hostnames and IPv6 literals', async () => {
    const refused = await files({ 'p.ovpn': ovpn('# a profile', ['remote .:. 1194']) });
    expect((await refusal(importFiles(refused, { now: NOW }))).message).toMatch(/^p\.ovpn line 4: "remote \.:\. 1194" has a value Ferry does not accept/);
    const fine = await files({ 'p.ovpn': ovpn('# a profile', ['remote 2001:db8::1 1195', 'remote a-1.example.com']) });
    expect((await importFiles(fine, { now: NOW })).draft.remotes.map((r) => r.host)).toEqual(['vpn.example.com', '2001:db8::1', 'a-1.example.com']);
  });
});
