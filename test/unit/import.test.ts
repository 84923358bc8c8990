/**
 * Profile import from certificate files: the three PEM files (any order, RSA and EC,
 * combined files, encrypted keys), PKCS#12, and a corpus of bad inputs each refused with
 * its one-line message asserted.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles, type ImportOptions } from '../../core/profile/import.js';
import { refusal } from '../fixtures/import/refusal.js';
import { summarizeCertificate } from '../../core/profile/certificates.js';
import { PROFILE_VERSION, ProfileSchema } from '../../core/profile/schema.js';
import { tempDir } from '../support/cli.js';
import {
  DAY,
  NOW,
  encryptKey,
  encryptKeyLegacy,
  makeCa,
  makeClient,
  makePkcs12,
  staticKey,
  writeFiles,
  type Identity,
} from '../fixtures/import/generate.js';

const GW = { gateway: { host: 'vpn.example.com' }, now: NOW } satisfies ImportOptions;

interface Set3 {
  ca: Identity;
  client: Identity;
}

let rsa: Set3;
let ec: Set3;
let foreignCa: Identity;
let dir: string;

beforeAll(async () => {
  const rsaCa = await makeCa({ cn: 'Ferry Test CA', kind: 'rsa' });
  rsa = { ca: rsaCa, client: await makeClient(rsaCa, { cn: 'alice', kind: 'rsa' }) };
  const ecCa = await makeCa({ cn: 'Ferry EC CA', kind: 'ec' });
  ec = { ca: ecCa, client: await makeClient(ecCa, { cn: 'bob', kind: 'ec' }) };
  foreignCa = await makeCa({ cn: 'Other CA' });
  dir = await tempDir('ferry-import-');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function files(name: string, content: Record<string, string | Uint8Array>): Promise<string[]> {
  return writeFiles(path.join(dir, name), content);
}

function three(set: Set3) {
  return { 'ca.crt': set.ca.certPem, 'client.crt': set.client.certPem, 'client.key': set.client.keyPem };
}

describe('PEM import: the seed\'s three files', () => {
  it.each([
    ['RSA', () => rsa, 'alice', 'RSA 2048'],
    ['EC', () => ec, 'bob', 'EC P-256'],
  ] as const)('%s: accepts CA, client certificate and key in any order', async (_kind, set, cn, keyType) => {
    const paths = await files(`order-${cn}`, three(set()));
    const forward = await importFiles(paths, GW);
    const backward = await importFiles([...paths].reverse(), GW);
    expect(backward).toEqual(forward);

    const { draft } = forward;
    expect(draft).toMatchObject({
      name: cn,
      username: cn,
      remotes: [{ host: 'vpn.example.com', port: 1194, proto: 'tcp' }],
      passwordRequired: true,
      keyEncrypted: false,
      files: ['ca.crt', 'client.crt', 'client.key'],
      engine: { dev: 'tun', directives: [{ name: 'remote-cert-tls', args: ['server'] }] },
    });
    // Valid per the stored schema once the store adds id, createdAt and version.
    expect(ProfileSchema.parse({ ...draft, id: 'p1', createdAt: NOW.toISOString(), version: PROFILE_VERSION })).toBeTruthy();
    expect(forward.files['ca.crt']).toBe(set().ca.cert.toString('pem') + '\n');
    expect(createPrivateKey(forward.files['client.key']!).asymmetricKeyType).toBe(keyType.startsWith('RSA') ? 'rsa' : 'ec');
    expect(forward.certificates.map((c) => [c.role, c.subject, c.keyType])).toEqual([
      ['ca', set().ca === rsa.ca ? 'CN=Ferry Test CA' : 'CN=Ferry EC CA', keyType],
      ['client', `CN=${cn}`, keyType],
    ]);
    expect(forward.warnings).toEqual([]);
  });

  it('applies --name, --gateway HOST:PORT, --proto, --username and --no-password', async () => {
    const paths = await files('opts', three(ec));
    const { draft } = await importFiles(paths, {
      now: NOW,
      name: 'Office',
      gateway: { host: '198.18.0.1', port: 4443 },
      proto: 'udp',
      username: 'b.smith',
      noPassword: true,
    });
    expect(draft).toMatchObject({ name: 'Office', username: 'b.smith', passwordRequired: false, remotes: [{ host: '198.18.0.1', port: 4443, proto: 'udp' }] });
  });

  it('accepts a certificate and key combined in one file, with openssl text and bag attributes around them', async () => {
    const dump = `Bag Attributes\n    localKeyID: 01 02\nsubject=/CN=alice\nCertificate:\n    Data:\n        Version: 3 (0x2)\n`;
    const paths = await files('combined', { 'ca.pem': `${dump}${rsa.ca.certPem}`, 'alice.pem': `${dump}${rsa.client.certPem}\n${rsa.client.keyPem}` });
    const result = await importFiles(paths, GW);
    expect(result.draft.files).toEqual(['ca.crt', 'client.crt', 'client.key']);
    expect(result.files['client.crt']).toBe(rsa.client.cert.toString('pem') + '\n');
  });

  it('accepts a CA bundle of two CAs, even glued without a newline (cat a.crt b.crt)', async () => {
    const root = await makeCa({ cn: 'Root' });
    const extra = await makeCa({ cn: 'Unrelated but valid CA' });
    const client = await makeClient(root, { cn: 'carol' });
    const paths = await files('chain', { 'ca.crt': root.certPem + extra.certPem, 'client.crt': client.certPem, 'client.key': client.keyPem });
    const result = await importFiles(paths, GW);
    expect(result.certificates.map((c) => c.subject)).toEqual(['CN=Root', 'CN=Unrelated but valid CA', 'CN=carol']);
  });

  it('ignores an expired extra root in a CA bundle: only the issuing CA must be in date', async () => {
    const expired = await makeCa({ cn: 'Retired Root', fromDays: -4000, toDays: -10 });
    const paths = await files('old-root', { 'ca.crt': expired.certPem + '\n' + ec.ca.certPem, 'client.crt': ec.client.certPem, 'client.key': ec.client.keyPem });
    const result = await importFiles(paths, GW);
    expect(result.certificates.map((c) => c.subject)).toEqual(['CN=Retired Root', 'CN=Ferry EC CA', 'CN=bob']);
    expect(result.warnings).toEqual([]);
  });

  it('summarizes certificates: fingerprints as colon-separated uppercase hex, ISO dates, key type', async () => {
    const s = summarizeCertificate(rsa.client.certPem, 'client');
    const hex = async (alg: string) => Buffer.from(await rsa.client.cert.getThumbprint(alg)).toString('hex').toUpperCase().match(/../g)!.join(':');
    expect(s.sha1).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(s.sha1).toBe(await hex('SHA-1'));
    expect(s.sha256).toBe(await hex('SHA-256'));
    expect(s).toMatchObject({ role: 'client', subject: 'CN=alice', issuer: 'CN=Ferry Test CA', keyType: 'RSA 2048' });
    expect(s.validFrom).toBe(new Date(NOW.getTime() - DAY).toISOString());
    expect(s.validTo).toBe(new Date(NOW.getTime() + 365 * DAY).toISOString());
  });

  it('warns when the client certificate expires within 30 days', async () => {
    const soon = await makeClient(ec.ca, { cn: 'dave', toDays: 12 });
    const paths = await files('soon', { 'ca.crt': ec.ca.certPem, 'client.crt': soon.certPem, 'client.key': soon.keyPem });
    const { warnings } = await importFiles(paths, GW);
    expect(warnings).toEqual([expect.stringMatching(/^client certificate expires in 1[12] days \(2030-06-1[34] \d\d:\d\d UTC\); ask your administrator for a new one$/)]);
  });
});

describe('encrypted keys', () => {
  it.each([
    ['PKCS#8 (ENCRYPTED PRIVATE KEY)', (k: string) => encryptKey(k, 'correct horse')],
    ['traditional (Proc-Type: 4,ENCRYPTED)', (k: string) => encryptKeyLegacy(k, 'correct horse')],
  ])('%s: asks the passphrase, keeps the key encrypted', async (_label, encrypt) => {
    const keyPem = encrypt(rsa.client.keyPem);
    const paths = await files(`enc-${_label.length}`, { 'ca.crt': rsa.ca.certPem, 'client.crt': rsa.client.certPem, 'client.key': keyPem });
    const asked: string[] = [];
    const result = await importFiles(paths, { ...GW, askPassphrase: async (f) => (asked.push(f), 'correct horse') });
    expect(asked).toEqual(['client.key']);
    expect(result.draft.keyEncrypted).toBe(true);
    expect(result.files['client.key']).toBe(keyPem.replace(/\r\n/g, '\n'));
  });

  it('refuses a wrong passphrase without repeating it', async () => {
    const paths = await files('enc-wrong', { 'ca.crt': rsa.ca.certPem, 'client.crt': rsa.client.certPem, 'client.key': encryptKey(rsa.client.keyPem, 'right') });
    const e = await refusal(importFiles(paths, { ...GW, askPassphrase: async () => 'wrong-guess-123' }), 'wrong-guess-123');
    expect(e.message).toBe('wrong passphrase for client.key — run the import again and type the passphrase of this key');
    expect(e.file).toBe(paths[2]);
  });

  it.each([
    ['no way to ask', {}],
    ['the prompt gave up', { askPassphrase: async () => undefined }],
  ])('refuses an encrypted key when there is %s', async (_label, extra) => {
    const paths = await files('enc-noask', { 'ca.crt': ec.ca.certPem, 'client.crt': ec.client.certPem, 'client.key': encryptKey(ec.client.keyPem, 'pw') });
    const e = await refusal(importFiles(paths, { ...GW, ...extra }));
    expect(e.message).toBe('the key client.key is passphrase-protected; run the import from a terminal so Ferry can ask');
  });
});

describe('PKCS#12', () => {
  it('asks the passphrase, extracts CA, certificate and key, and re-encrypts the key with it', async () => {
    const p12 = makePkcs12(rsa.client, [rsa.ca], 'p12 secret');
    const paths = await files('p12', { 'alice.p12': p12 });
    const asked: string[] = [];
    const result = await importFiles(paths, { ...GW, askPassphrase: async (f) => (asked.push(f), 'p12 secret') });
    expect(asked).toEqual(['alice.p12']);
    expect(result.draft).toMatchObject({ name: 'alice', keyEncrypted: true, files: ['ca.crt', 'client.crt', 'client.key'] });
    expect(result.files['client.key']).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const key = createPrivateKey({ key: result.files['client.key']!, format: 'pem', passphrase: 'p12 secret' });
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(() => createPrivateKey({ key: result.files['client.key']!, format: 'pem', passphrase: 'other' })).toThrow();
  });

  it('opens a PKCS#12 without a passphrase without asking, and stores the key unencrypted', async () => {
    const paths = await files('p12-open', { 'id.pfx': makePkcs12(rsa.client, [rsa.ca], '') });
    const result = await importFiles(paths, { ...GW, askPassphrase: async () => expect.fail('must not ask') });
    expect(result.draft.keyEncrypted).toBe(false);
    expect(result.files['client.key']).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('reads an EC PKCS#12 written by openssl 3 (AES-256, PBKDF2)', async () => {
    const sub = path.join(dir, 'p12-openssl');
    const [cert, key, ca] = await writeFiles(sub, { 'c.pem': ec.client.certPem, 'k.pem': ec.client.keyPem, 'ca.pem': ec.ca.certPem });
    const out = path.join(sub, 'bob.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-in', cert!, '-inkey', key!, '-certfile', ca!, '-out', out, '-passout', 'pass:ec pass']);
    const result = await importFiles([out], { ...GW, askPassphrase: async () => 'ec pass' });
    expect(result.certificates.map((c) => c.keyType)).toEqual(['EC P-256', 'EC P-256']);
    expect(result.draft.keyEncrypted).toBe(true);
  });

  it('takes the CA from a PEM file beside a PKCS#12 that lacks it', async () => {
    const paths = await files('p12-ca', { 'alice.p12': makePkcs12(rsa.client, [], 'pw'), 'ca.crt': rsa.ca.certPem });
    const result = await importFiles(paths, { ...GW, askPassphrase: async () => 'pw' });
    expect(result.certificates.map((c) => c.role)).toEqual(['ca', 'client']);
  });

  it('refuses a wrong passphrase, no way to ask, and a missing CA', async () => {
    const [p12] = await files('p12-bad', { 'alice.p12': makePkcs12(rsa.client, [], 'pw') });
    expect((await refusal(importFiles([p12!], { ...GW, askPassphrase: async () => 'nope-secret' }), 'nope-secret')).message).toBe(
      'wrong passphrase for alice.p12 — run the import again and type the passphrase of this file',
    );
    expect((await refusal(importFiles([p12!], GW))).message).toBe('the PKCS#12 file alice.p12 is passphrase-protected; run the import from a terminal so Ferry can ask');
    expect((await refusal(importFiles([p12!], { ...GW, askPassphrase: async () => 'pw' }))).message).toBe(
      'no CA certificate found among: alice.p12 — add the ca.crt file your administrator sent',
    );
  });
});

/**
 * The corpus: each bad input with the exact line a person sees. `setup` returns the paths
 * (and options); `message` is the whole message or a pattern for the parts that vary.
 */
describe('corpus of refused inputs', () => {
  type Case = [label: string, setup: () => Promise<{ paths: string[]; opts?: ImportOptions }>, message: string | RegExp];
  const cases: Case[] = [
    [
      'garbage bytes',
      async () => ({ paths: await files('garbage', { 'x.bin': randomBytes(4096) }) }),
      'x.bin is not a PEM certificate or key, an .ovpn profile, a .zip bundle or a PKCS#12 file — import the files your administrator sent',
    ],
    [
      'plain text',
      async () => ({ paths: await files('text', { 'notes.txt': 'hello, these are my VPN notes\n' }) }),
      'notes.txt is not a PEM certificate or key, an .ovpn profile, a .zip bundle or a PKCS#12 file — import the files your administrator sent',
    ],
    [
      'an empty file',
      async () => ({ paths: await files('empty', { 'client.crt': '' }) }),
      'client.crt is not a PEM certificate or key, an .ovpn profile, a .zip bundle or a PKCS#12 file — import the files your administrator sent',
    ],
    [
      'a file over 1 MiB',
      async () => ({ paths: await files('huge', { 'huge.pem': Buffer.alloc(1024 * 1024 + 1, 65) }) }),
      'huge.pem is 1.0 MiB; profile files are at most 1 MiB — is this the right file?',
    ],
    [
      'a truncated PEM (no END line)',
      async () => ({ paths: await files('trunc', { ...three(ec), 'client.crt': ec.client.certPem.slice(0, 200) }) }),
      /^client\.crt: the CERTIFICATE block starting on line 1 has no END line \(the file is cut short\) — get client\.crt again from your administrator$/,
    ],
    [
      'a damaged certificate (base64 cut, END kept)',
      async () => {
        const lines = ec.client.certPem.trim().split('\n');
        return { paths: await files('damaged', { ...three(ec), 'client.crt': [lines[0], lines[1], lines.at(-1)].join('\n') }) };
      },
      'client.crt: the certificate is damaged and cannot be read — get client.crt again from your administrator',
    ],
    [
      'a damaged key',
      async () => ({ paths: await files('damaged-key', { ...three(ec), 'client.key': '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }) }),
      'client.key: the private key is damaged and cannot be read — get client.key again from your administrator',
    ],
    [
      'the wrong key',
      async () => {
        const other = await makeClient(ec.ca, { cn: 'eve' });
        return { paths: await files('wrongkey', { ...three(ec), 'client.key': other.keyPem }) };
      },
      'client.key does not belong to the certificate in client.crt (CN=bob) — import the key that was issued with this certificate',
    ],
    [
      'a client certificate from a foreign CA',
      async () => {
        const stranger = await makeClient(foreignCa, { cn: 'mallory' });
        return { paths: await files('foreign', { 'ca.crt': ec.ca.certPem, 'client.crt': stranger.certPem, 'client.key': stranger.keyPem }) };
      },
      'client.crt (CN=mallory) was not issued by the CA in ca.crt (CN=Ferry EC CA): the files come from different servers — ask your administrator for a matching set',
    ],
    [
      'an expired client certificate',
      async () => {
        const old = await makeClient(ec.ca, { cn: 'old', fromDays: -400, toDays: -3 });
        return { paths: await files('expired', { 'ca.crt': ec.ca.certPem, 'client.crt': old.certPem, 'client.key': old.keyPem }) };
      },
      /^client\.crt \(CN=old\) expired on 2030-05-29 \d\d:\d\d UTC — ask your administrator for a new certificate$/,
    ],
    [
      'a client certificate not yet valid',
      async () => {
        const early = await makeClient(ec.ca, { cn: 'early', fromDays: 10, toDays: 400 });
        return { paths: await files('early', { 'ca.crt': ec.ca.certPem, 'client.crt': early.certPem, 'client.key': early.keyPem }) };
      },
      /^client\.crt \(CN=early\) is not valid before 2030-06-11 12:00 UTC — check this computer's date and time, or ask your administrator$/,
    ],
    [
      'an expired CA',
      async () => {
        const ca = await makeCa({ cn: 'Old CA', fromDays: -800, toDays: -1 });
        const client = await makeClient(ca, { cn: 'x', fromDays: -400, toDays: 30 });
        return { paths: await files('expired-ca', { 'ca.crt': ca.certPem, 'client.crt': client.certPem, 'client.key': client.keyPem }) };
      },
      /^ca\.crt \(CN=Old CA\) expired on 2030-05-31 \d\d:\d\d UTC — ask your administrator for the current CA certificate$/,
    ],
    [
      'a "CA" that is not a CA (no CA:TRUE)',
      async () => {
        const fake = await makeCa({ cn: 'Fake CA', isCa: false });
        const client = await makeClient(fake, { cn: 'frank' });
        return { paths: await files('notca', { 'ca.crt': fake.certPem, 'client.crt': client.certPem, 'client.key': client.keyPem }) };
      },
      'ca.crt (CN=Fake CA) is not a CA certificate (basicConstraints CA:TRUE is missing), so it cannot vouch for the client certificate — ask your administrator for the CA certificate',
    ],
    [
      'a missing key',
      async () => ({ paths: await files('nokey', { 'a.pem': ec.ca.certPem, 'b.pem': ec.client.certPem }) }),
      'no client key found among: a.pem, b.pem — add the client.key file your administrator sent',
    ],
    [
      'a missing client certificate',
      async () => ({ paths: await files('nocert', { 'ca.crt': ec.ca.certPem, 'client.key': ec.client.keyPem }) }),
      'no client certificate found among: ca.crt, client.key — add the client.crt file your administrator sent',
    ],
    [
      'a missing CA',
      async () => ({ paths: await files('noca', { 'client.crt': ec.client.certPem, 'client.key': ec.client.keyPem }) }),
      'no CA certificate found among: client.crt, client.key — add the ca.crt file your administrator sent',
    ],
    [
      'a second client certificate',
      async () => ({ paths: await files('two-clients', { ...three(ec), 'other.crt': rsa.client.certPem }) }),
      'other.crt holds a second client certificate (CN=alice) besides the one in client.crt (CN=bob) — import one account at a time',
    ],
    [
      'a second key',
      async () => ({ paths: await files('two-keys', { ...three(ec), 'other.key': rsa.client.keyPem }) }),
      'other.key holds a second private key besides the one in client.key — keep only the key that belongs to the client certificate',
    ],
    [
      'the same file twice',
      async () => {
        const paths = await files('twice', three(ec));
        return { paths: [...paths, paths[0]!] };
      },
      'ca.crt is given twice — give each file once',
    ],
    [
      'the same certificate under two names',
      async () => ({ paths: await files('dup', { ...three(ec), 'copy.crt': ec.ca.certPem }) }),
      'copy.crt holds the same certificate as ca.crt — give it once',
    ],
    [
      'a certificate request among the files',
      async () => ({ paths: await files('csr', { ...three(ec), 'bob.csr': '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }) }),
      'bob.csr holds a certificate request (CSR), not a certificate — leave it out and import again',
    ],
    [
      'a tls-auth key among the PEM files',
      async () => ({ paths: await files('ta', { ...three(ec), 'ta.key': staticKey() }) }),
      'ta.key is an OpenVPN static key (tls-auth/tls-crypt); only an .ovpn says how to use it — import the .ovpn profile your administrator sent',
    ],
    [
      'PEM files without --gateway',
      async () => ({ paths: await files('nogw', three(ec)), opts: { now: NOW } }),
      'ca.crt, client.crt, client.key: certificate files do not say which gateway to connect to — add --gateway HOST[:PORT]',
    ],
    [
      'a bad --gateway host',
      async () => ({ paths: await files('badgw', three(ec)), opts: { now: NOW, gateway: { host: 'vpn example;rm' } } }),
      '--gateway "vpn example;rm" is not a hostname or an IP address',
    ],
    [
      'a bad --name',
      async () => ({ paths: await files('badname', three(ec)), opts: { ...GW, name: 'a/b' } }),
      '--name "a/b": a profile name cannot contain control characters or slashes',
    ],
    [
      'a file that does not exist',
      async () => ({ paths: [path.join(dir, 'nowhere', 'ca.crt')] }),
      /\/nowhere\/ca\.crt not found — check the file name and import again$/,
    ],
    [
      'a directory',
      async () => ({ paths: [dir] }),
      /^ferry-import-\w+ is not a regular file — give the three PEM files/,
    ],
    [
      'a device (never read)',
      async () => ({ paths: ['/dev/zero'] }),
      /^zero is not a regular file/,
    ],
    [
      'an .ovpn mixed with PEM files',
      async () => ({ paths: await files('mixed', { 'p.ovpn': 'client\nremote vpn.example.com\n', 'ca.crt': ec.ca.certPem }) }),
      'p.ovpn cannot be combined with ca.crt — give the three PEM files (CA certificate, client certificate, client key), one .ovpn, one .zip bundle or one PKCS#12 file',
    ],
    [
      'no files at all',
      async () => ({ paths: [] }),
      'no files to import — give the three PEM files (CA certificate, client certificate, client key), one .ovpn, one .zip bundle or one PKCS#12 file',
    ],
    [
      'a damaged .p12',
      async () => ({ paths: await files('p12-junk', { 'id.p12': randomBytes(300) }) }),
      'id.p12 is not a valid PKCS#12 file (it is damaged or not a .p12 at all) — export it again',
    ],
  ];

  it.each(cases)('refuses %s', async (_label, setup, message) => {
    const { paths, opts } = await setup();
    const e = await refusal(importFiles(paths, opts ?? GW));
    if (typeof message === 'string') expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
  });

  it('names the file the failure is about', async () => {
    const other = await makeClient(ec.ca, { cn: 'eve' });
    const paths = await files('which-file', { ...three(ec), 'client.key': other.keyPem });
    expect((await refusal(importFiles(paths, GW))).file).toBe(paths[2]);
  });

  it('refuses a symlink to a huge file by its size, and a fifo as not a file', async () => {
    const big = path.join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(3 * 1024 * 1024));
    const link = path.join(dir, 'innocent.crt');
    await symlink(big, link);
    expect((await refusal(importFiles([link], GW))).message).toBe('innocent.crt is 3.0 MiB; profile files are at most 1 MiB — is this the right file?');
    const fifo = path.join(dir, 'pipe.crt');
    execFileSync('mkfifo', [fifo]);
    expect((await refusal(importFiles([fifo], GW))).message).toMatch(/^pipe\.crt is not a regular file/);
  });
});
