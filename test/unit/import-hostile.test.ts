/**
 * Hostile files an attacker can hand a user: inputs crafted to burn CPU in the readers
 * (PEM scanner, .ovpn blocks, PKCS#12 key derivation) or to crash them with something
 * other than an ImportError (dates no calendar has). Each must be refused with one
 * actionable line, quickly: the old code took seconds to hours on most of them, and
 * vitest's per-test timeout is the hang guard (no timed assertion here).
 */
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { deflateSync, strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeCertificate } from '../../core/profile/certificates.js';
import { importFiles, MAX_FILE_BYTES, type ImportOptions } from '../../core/profile/import.js';
import { FerryError } from '../../core/util/errors.js';
import { tempDir } from '../support/cli.js';
import { NOW, inline, makeCa, makeClient, makePkcs12, writeFiles, type Identity } from '../fixtures/import/generate.js';
import { encryptedKeyWithIterations, pkcs12WithCounts, withValidity, type RawTime } from '../fixtures/import/hostile.js';
import { refusal } from '../fixtures/import/refusal.js';

const GW = { gateway: { host: 'vpn.example.com' }, now: NOW } satisfies ImportOptions;
/** The old code spent seconds to minutes here; the fixed code milliseconds. */
const HANG_GUARD = { timeout: 10_000 };
const HUGE = 2 ** 31 - 1;
/** The PKCS#12 bounds Ferry states in its refusals: per derivation, and for the whole file. */
const MAX_PKCS12_ITERATIONS = 20_000;
const MAX_PKCS12_TOTAL_ITERATIONS = 50_000;

let dir: string;
let ca: Identity;
let client: Identity;
let rsaCa: Identity;
let rsaClient: Identity;
let n = 0;

beforeAll(async () => {
  dir = await tempDir('ferry-hostile-');
  ca = await makeCa({ cn: 'Hostile CA' });
  client = await makeClient(ca, { cn: 'mallory' });
  rsaCa = await makeCa({ cn: 'Hostile RSA CA', kind: 'rsa' });
  rsaClient = await makeClient(rsaCa, { cn: 'trudy', kind: 'rsa' });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(content: Record<string, string | Uint8Array>): Promise<string[]> {
  return writeFiles(path.join(dir, `h${++n}`), content);
}

/** `unit` repeated to just under the 1 MiB file limit. */
function fill(head: string, unit: string, limit = MAX_FILE_BYTES): string {
  return head + unit.repeat(Math.floor((limit - head.length) / unit.length));
}

describe('PEM scanner: linear on crafted text', () => {
  it('a BEGIN line, then "-----END " repeated on one 1 MiB line', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': fill('-----BEGIN CERTIFICATE-----\n', '-----END ') });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'ca.crt: the CERTIFICATE block starting on line 1 has no END line (the file is cut short) — get ca.crt again from your administrator',
    );
  });

  it('a BEGIN line, then "-----END " lines to 1 MiB', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': fill('-----BEGIN CERTIFICATE-----\n', '-----END \n') });
    expect((await refusal(importFiles(paths, GW))).message).toMatch(/^ca\.crt: the CERTIFICATE block starting on line 1 has no END line/);
  });

  it('an otherwise valid profile whose <ca> ends in a line of "-----END " to 1 MiB is read, not chewed on', HANG_GUARD, async () => {
    const head = ['client', 'remote vpn.example.com', inline('cert', client.certPem), inline('key', client.keyPem), '<ca>', ca.certPem.trim(), ''].join('\n');
    const paths = await files({ 'p.ovpn': `${fill(head, '-----END ', MAX_FILE_BYTES - 8)}\n</ca>\n` });
    expect((await importFiles(paths, GW)).draft.name).toBe('p');
  });

  // The old scanner looked for each END from the top of the file: seconds, not minutes, at 1 MiB.
  it('1 MiB of tiny blocks', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': fill('', '-----BEGIN A-----\n-----END A-----\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe('ca.crt holds a "A" block — leave it out and import again');
  });

  it('the same crafted line as a bundle entry', HANG_GUARD, async () => {
    const entry = fill('-----BEGIN CERTIFICATE-----\n', '-----END ', 256 * 1024);
    const paths = await files({ 'b.zip': zipSync({ 'ca.crt': strToU8(entry), 'client.crt': strToU8(client.certPem), 'client.key': strToU8(client.keyPem) }) });
    expect((await refusal(importFiles(paths, GW))).message).toMatch(/^b\.zip:ca\.crt: the CERTIFICATE block starting on line 1 has no END line/);
  });
});

describe('zip reader: linear on crafted archives', () => {
  /** A local header for `name` (deflate, sizes in a data descriptor), its stream, 1 MiB of junk, an empty directory. */
  function junkAfterStream(name: string, content: string): Buffer {
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(8, 6); // sizes follow the data
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(name.length, 26);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    return Buffer.concat([header, Buffer.from(name), deflateSync(strToU8(content)), Buffer.alloc(MAX_FILE_BYTES - 4096, 0x41), end]);
  }

  // fflate kept the junk after the stream and copied it on every push: quadratic (~0.5 s at 1 MiB).
  it('an entry whose deflate stream is followed by a megabyte of junk', HANG_GUARD, async () => {
    const paths = await files({ 'b.zip': junkAfterStream('ca.crt', ca.certPem) });
    expect((await refusal(importFiles(paths, GW))).message).toBe('b.zip is damaged (ca.crt holds data that unpacks to nothing) — download it again');
  });
});

describe('.ovpn reader: linear on crafted text', () => {
  // Each line copied and re-validated the whole list so far: ~100 s of CPU at 1 MiB.
  it('1 MiB of "pull-filter ignore" lines is read once, each filter kept once', HANG_GUARD, async () => {
    const head = ['client', 'remote vpn.example.com', inline('ca', ca.certPem), inline('cert', client.certPem), inline('key', client.keyPem), ''].join('\n');
    const paths = await files({ 'p.ovpn': fill(head, 'pull-filter ignore "route"\n') });
    expect((await importFiles(paths, GW)).draft.engine.directives.filter((d) => d.name === 'pull-filter')).toEqual([{ name: 'pull-filter', args: ['ignore', 'route'] }]);
  });

  // Each "setenv opt" applied the rest of the line again, recursively: a RangeError (stack) after ~17 s.
  it('"setenv opt" nested 90,000 times on one line', HANG_GUARD, async () => {
    const paths = await files({ 'p.ovpn': `client\n${'setenv opt '.repeat(90_000)}verb 3\n` });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'p.ovpn line 2: "setenv opt setenv opt setenv opt setenv opt setenv opt setenv opt setenv opt se…" has a value Ferry does not accept — "setenv opt" applies one option, not another setenv; fix or remove the line and import again',
    );
  });

  // Each closing tag was searched for from the top of the file: ~10 s of CPU at 1 MiB.
  it('1 MiB of inline blocks', HANG_GUARD, async () => {
    const paths = await files({ 'p.ovpn': fill('client\n', '<ca>\n</ca>\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe('p.ovpn line 4: "ca" is given again (first on line 2) — keep one and import again');
  });

  it('1 MiB of <connection> blocks', HANG_GUARD, async () => {
    const paths = await files({ 'p.ovpn': fill('client\n', '<connection>\nremote a.example.com\n</connection>\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe('p.ovpn has no client certificate ("cert" or <cert>) and no "auth-user-pass" — ask your administrator for the complete profile');
  });

});

describe('what a file puts in a message', () => {
  it('a zip entry named with a line break and a terminal escape is quoted on one printable line', async () => {
    const paths = await files({ 'b.zip': zipSync({ 'ca.crt\n\u001b[2Jevil': strToU8('x') }) });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'b.zip: entry "ca.crt??[2Jevil" points outside the archive — this is not a Ferry bundle; ask your administrator for a new one',
    );
  });

  it('a 10,000-character PEM label is cut short in the message', async () => {
    const label = 'X'.repeat(10_000);
    const paths = await files({ 'ca.crt': `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n` });
    const { message } = await refusal(importFiles(paths, GW));
    expect(message).toBe(`ca.crt holds a "${'X'.repeat(79)}…" block — leave it out and import again`);
  });
});

describe('PKCS#12: iteration counts are read before any key is derived', () => {
  const neverAsk = { ...GW, askPassphrase: async () => expect.fail('asked for a passphrase: a key was about to be derived') };
  const advice = 'export it again with the default settings (or import the PEM files instead)';

  it('refuses a MAC iteration count of 2^31-1 before deriving the MAC key', HANG_GUARD, async () => {
    const paths = await files({ 'id.p12': pkcs12WithCounts(rsaClient, [rsaCa], 'pw', { mac: HUGE }) });
    expect((await refusal(importFiles(paths, neverAsk))).message).toBe(
      `id.p12 asks for ${HUGE} key-derivation iterations; Ferry reads at most ${MAX_PKCS12_ITERATIONS} — ${advice}`,
    );
  });

  it('refuses a MAC iteration count no JavaScript number holds', HANG_GUARD, async () => {
    const paths = await files({ 'id.p12': pkcs12WithCounts(rsaClient, [rsaCa], 'pw', { mac: 2n ** 80n }) });
    expect((await refusal(importFiles(paths, neverAsk))).message).toContain(`asks for ${2n ** 80n} key-derivation iterations;`);
  });

  it('refuses a shrouded key bag with 2^31-1 PBKDF2 iterations before deriving', HANG_GUARD, async () => {
    const paths = await files({ 'id.pfx': pkcs12WithCounts(rsaClient, [rsaCa], '', { keyBag: HUGE }) });
    expect((await refusal(importFiles(paths, neverAsk))).message).toBe(
      `id.pfx asks for ${HUGE} key-derivation iterations; Ferry reads at most ${MAX_PKCS12_ITERATIONS} — ${advice}`,
    );
  });

  it('refuses the same key bag hidden inside encrypted contents (seen only after decrypting them)', HANG_GUARD, async () => {
    const paths = await files({ 'id.p12': pkcs12WithCounts(rsaClient, [rsaCa], 'pw', { keyBag: HUGE, nestKeyBag: true }) });
    const e = await refusal(importFiles(paths, { ...GW, askPassphrase: async () => 'pw' }));
    expect(e.message).toBe(`id.p12 asks for ${HUGE} key-derivation iterations; Ferry reads at most ${MAX_PKCS12_ITERATIONS} — ${advice}`);
  });

  it('refuses many bags that are each within the bound but together are not', HANG_GUARD, async () => {
    const copies = Math.ceil(MAX_PKCS12_TOTAL_ITERATIONS / MAX_PKCS12_ITERATIONS) + 1;
    const paths = await files({ 'id.p12': pkcs12WithCounts(rsaClient, [rsaCa], '', { keyBag: MAX_PKCS12_ITERATIONS, keyBagCopies: copies }) });
    expect((await refusal(importFiles(paths, neverAsk))).message).toMatch(
      new RegExp(`^id\\.p12 asks for \\d+ key-derivation iterations in all; Ferry reads at most ${MAX_PKCS12_TOTAL_ITERATIONS} — ${advice.replace(/[()]/g, '\\$&')}$`),
    );
  });

  it('still reads what real exporters write: OpenSSL 1.x (-legacy) and the largest count we accept', async () => {
    const sub = path.join(dir, 'legacy');
    const [cert, key, caFile] = await writeFiles(sub, { 'c.pem': rsaClient.certPem, 'k.pem': rsaClient.keyPem, 'ca.pem': rsaCa.certPem });
    const out = path.join(sub, 'old.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-legacy', '-in', cert!, '-inkey', key!, '-certfile', caFile!, '-out', out, '-passout', 'pass:pw']);
    expect((await importFiles([out], { ...GW, askPassphrase: async () => 'pw' })).draft.name).toBe('trudy');

    const [p12] = await files({ 'big.p12': makePkcs12(rsaClient, [rsaCa], 'pw', MAX_PKCS12_ITERATIONS) });
    expect((await importFiles([p12!], { ...GW, askPassphrase: async () => 'pw' })).draft.name).toBe('trudy');
  });
});

describe('encrypted PEM keys: the iteration count is read before asking the passphrase', () => {
  // OpenSSL derives natively (~0.2 s per million PBKDF2 rounds here): 2^31-1 was ~15 minutes.
  it('refuses an ENCRYPTED PRIVATE KEY asking for 2^31-1 PBKDF2 iterations', HANG_GUARD, async () => {
    const key = encryptedKeyWithIterations(client.keyPem, 'pw', HUGE);
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': client.certPem, 'client.key': key });
    const neverAsk = { ...GW, askPassphrase: async () => expect.fail('asked for a passphrase: a key was about to be derived') };
    expect((await refusal(importFiles(paths, neverAsk))).message).toBe(
      `client.key asks for ${HUGE} key-derivation iterations; Ferry reads at most 1000000 — export the key again with the default settings`,
    );
  });

  it('opens one that openssl made with a million iterations (the bound)', async () => {
    const [plain] = await files({ 'plain.key': client.keyPem });
    const key = execFileSync('openssl', ['pkcs8', '-topk8', '-in', plain!, '-v2', 'aes-256-cbc', '-iter', '1000000', '-passout', 'pass:pw']).toString();
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': client.certPem, 'client.key': key });
    expect((await importFiles(paths, { ...GW, askPassphrase: async () => 'pw' })).draft.keyEncrypted).toBe(true);
  });
});

describe('certificate dates no calendar has', () => {
  const ok: RawTime = { type: 'utc', text: '200101000000Z' };
  const damaged = (file: string) =>
    `${file}: the certificate is damaged (its validity dates cannot be read) — ask your administrator for a new one`;

  it.each([
    ['UTCTime garbage', { type: 'utc', text: 'garbage!!!!!Z' }],
    ['UTCTime 30 February', { type: 'utc', text: '300230000000Z' }],
    ['GeneralizedTime year 0000', { type: 'generalized', text: '00000101000000Z' }],
    ['GeneralizedTime year 10000', { type: 'generalized', text: '100000101000000Z' }],
    ['an empty GeneralizedTime', { type: 'generalized', text: '' }],
  ] as [string, RawTime][])('refuses a CA whose notAfter is %s', async (_label, notAfter) => {
    const bad = withValidity(ca, ca, ok, notAfter);
    const paths = await files({ 'ca.crt': bad, 'client.crt': client.certPem, 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(damaged('ca.crt'));
  });

  it('refuses a client certificate whose notBefore is garbage (it used to crash with RangeError)', async () => {
    const bad = withValidity(client, ca, { type: 'utc', text: 'xxxxxxxxxxxxZ' }, { type: 'generalized', text: '20400101000000Z' });
    const paths = await files({ 'p.ovpn': ['client', 'remote vpn.example.com', inline('ca', ca.certPem), inline('cert', bad), inline('key', client.keyPem)].join('\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe(damaged('p.ovpn <cert>'));
  });

  it('accepts 9999-12-31 23:59:59, RFC 5280\'s "no expiry"', async () => {
    const forever = withValidity(client, ca, ok, { type: 'generalized', text: '99991231235959Z' });
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': forever, 'client.key': client.keyPem });
    const result = await importFiles(paths, GW);
    expect(result.certificates[1]!.validTo).toBe('9999-12-31T23:59:59.000Z');
  });

  it('refuses a PKCS#12 whose client certificate has a garbage notAfter', async () => {
    const bad = withValidity(rsaClient, rsaCa, ok, { type: 'utc', text: 'garbage!!!!!Z' });
    const paths = await files({ 'id.p12': makePkcs12({ ...rsaClient, certPem: bad }, [rsaCa], '') });
    expect((await refusal(importFiles(paths, GW))).message).toBe(damaged('id.p12'));
  });

  it('ferry show on a stored certificate with damaged dates says so instead of crashing', () => {
    const bad = withValidity(ca, ca, ok, { type: 'utc', text: 'garbage!!!!!Z' });
    let err: unknown;
    try {
      summarizeCertificate(bad, 'ca');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FerryError);
    expect((err as Error).message).toBe(
      "this profile's ca.crt is damaged (its validity dates cannot be read) — remove the profile with `ferry remove` and import it again",
    );
  });
});
