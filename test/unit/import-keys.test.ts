/**
 * Private keys an attacker writes by hand. OpenSSL derives a DSA key's public value
 * (g^x mod p) while loading it, cubic in the size of p: a 64k-bit group took ~85 s, from a
 * plain .pem, an .ovpn <key>, a PKCS#12 key bag or behind a passphrase. So the key's type
 * and size are read from its DER before Node is given it, and only RSA (bounded), EC on
 * named curves and Ed25519/Ed448 pass. Encrypted keys are bounded before the passphrase is
 * asked, failing closed: trailing bytes or a second (legacy) encryption layer no longer hide
 * the iteration count. vitest's timeout is the hang guard.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { importFiles, type ImportOptions } from '../../core/profile/import.js';
import { NOW, encryptKey, inline, makeCa, makeClient, type Identity } from '../fixtures/import/generate.js';
import { encryptedKeyWithIterations } from '../fixtures/import/hostile.js';
import { OID, algorithm, derOf, dsaPkcs8, legacyEncrypted, oddNumber, pbes2Encrypt, pkcs12Of, rsaPkcs1, rsaPkcs8 } from '../fixtures/import/crafted.js';
import { explicit, int, octets, oid, pem, seq } from '../fixtures/import/der.js';
import { refusal } from '../fixtures/import/refusal.js';
import { importWorkspace } from '../fixtures/import/workspace.js';

const GW = { gateway: { host: 'vpn.example.com' }, now: NOW } satisfies ImportOptions;
const HANG_GUARD = { timeout: 15_000 };
const HUGE = 2 ** 31 - 1;
const neverAsk = { ...GW, askPassphrase: async () => expect.fail('asked for a passphrase: a key was about to be derived') };
const withPw = { ...GW, askPassphrase: async () => 'pw' };
const damaged = (display: string) => `${display}: the private key is damaged and cannot be read — get ${display} again from your administrator`;
const notAccepted = (display: string, type: string) =>
  `${display} holds a private key of type ${type}; Ferry accepts RSA, EC and Ed25519/Ed448 keys — ask your administrator for a key of one of those types`;

let ca: Identity;
let client: Identity;
let rsaCa: Identity;
let rsaClient: Identity;
const { files } = importWorkspace('ferry-keys-');

beforeAll(async () => {
  ca = await makeCa({ cn: 'Keys CA' });
  client = await makeClient(ca, { cn: 'erin' });
  rsaCa = await makeCa({ cn: 'Keys RSA CA', kind: 'rsa' });
  rsaClient = await makeClient(rsaCa, { cn: 'frank', kind: 'rsa' });
});

/** The three files with `key` as client.key. */
async function withKey(key: string, set: { ca: Identity; client: Identity } = { ca, client }): Promise<string[]> {
  return files({ 'ca.crt': set.ca.certPem, 'client.crt': set.client.certPem, 'client.key': key });
}

describe('a 64k-bit DSA key is refused by its type before OpenSSL computes anything', () => {
  it('as a plain PKCS#8 file', HANG_GUARD, async () => {
    expect((await refusal(importFiles(await withKey(pem('PRIVATE KEY', dsaPkcs8())), GW))).message).toBe(notAccepted('client.key', 'DSA'));
  });

  it('inline in an .ovpn', HANG_GUARD, async () => {
    const paths = await files({ 'p.ovpn': ['client', 'remote vpn.example.com', inline('ca', ca.certPem), inline('cert', client.certPem), inline('key', pem('PRIVATE KEY', dsaPkcs8()))].join('\n') });
    expect((await refusal(importFiles(paths, GW))).message).toBe(notAccepted('p.ovpn <key>', 'DSA'));
  });

  it('in a PKCS#12 key bag (loaded before any certificate is looked at)', HANG_GUARD, async () => {
    const paths = await files({ 'id.p12': pkcs12Of([rsaCa.certPem, rsaClient.certPem], [dsaPkcs8()]) });
    expect((await refusal(importFiles(paths, GW))).message).toBe(notAccepted('id.p12', 'DSA'));
  });

  it('behind a passphrase (seen only after decrypting)', HANG_GUARD, async () => {
    const key = pem('ENCRYPTED PRIVATE KEY', pbes2Encrypt(dsaPkcs8(), 'pw'));
    expect((await refusal(importFiles(await withKey(key), withPw))).message).toBe(notAccepted('client.key', 'DSA'));
  });
});

describe('key types and sizes', () => {
  it('refuses X25519 (a key-agreement key, not a signing key)', async () => {
    const x = generateKeyPairSync('x25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await refusal(importFiles(await withKey(x), GW))).message).toBe(notAccepted('client.key', 'X25519'));
  });

  it('names an unknown key type by its OID', async () => {
    const odd = pem('PRIVATE KEY', seq(int(0), algorithm('1.2.3.4'), octets(int(5))));
    expect((await refusal(importFiles(await withKey(odd), GW))).message).toBe(notAccepted('client.key', '1.2.3.4'));
  });

  it('refuses an RSA modulus over 16384 bits (PKCS#1 and PKCS#8)', async () => {
    const big = 'holds an RSA key of 20000 bits; Ferry reads RSA keys of at most 16384 bits — ask your administrator for a standard key (RSA 2048-4096 or EC P-256)';
    expect((await refusal(importFiles(await withKey(pem('RSA PRIVATE KEY', rsaPkcs1(20000))), GW))).message).toBe(`client.key ${big}`);
    expect((await refusal(importFiles(await withKey(pem('PRIVATE KEY', rsaPkcs8(20000))), GW))).message).toBe(`client.key ${big}`);
  });

  it('refuses an RSA public exponent over 32 bits', async () => {
    const key = pem('PRIVATE KEY', rsaPkcs8(2048, 2n ** 40n + 1n));
    expect((await refusal(importFiles(await withKey(key), GW))).message).toBe(
      'client.key holds an RSA key whose public exponent has 41 bits; Ferry reads exponents of at most 32 bits (65537 is usual) — ask your administrator for a standard key',
    );
  });

  it('refuses RSA numbers larger than the modulus (a megabit private exponent)', async () => {
    const half = oddNumber(1024);
    const key = pem('RSA PRIVATE KEY', seq(int(0), int(oddNumber(2048)), int(65537), int(oddNumber(1 << 20)), int(half), int(half), int(half), int(half), int(half)));
    expect((await refusal(importFiles(await withKey(key), GW))).message).toBe(damaged('client.key'));
  });

  it('refuses an EC key with explicit curve parameters, and one on an unknown curve', async () => {
    const explicitParams = pem('EC PRIVATE KEY', seq(int(1), octets(oddNumber(256)), explicit(0, seq(int(1), seq(oid('1.2.840.10045.1.1'), int(oddNumber(256)))))));
    const curve = (what: string) =>
      `client.key holds an EC key on ${what}; Ferry reads EC keys on the named curves P-256, P-384, P-521 and brainpoolP256r1/P384r1/P512r1 — ask your administrator for a standard key`;
    expect((await refusal(importFiles(await withKey(explicitParams), GW))).message).toBe(curve('explicit curve parameters'));
    const unknown = pem('PRIVATE KEY', seq(int(0), algorithm(OID.ec, oid('1.3.132.0.1')), octets(seq(int(1), octets(oddNumber(160))))));
    expect((await refusal(importFiles(await withKey(unknown), GW))).message).toBe(curve('the curve 1.3.132.0.1'));
  });

  it('reads RSA as PKCS#1, EC as SEC1 and Ed25519 as far as matching it to the certificate', async () => {
    const pkcs1 = createPrivateKey(rsaClient.keyPem).export({ type: 'pkcs1', format: 'pem' }).toString();
    expect((await importFiles(await withKey(pkcs1, { ca: rsaCa, client: rsaClient }), GW)).draft.name).toBe('frank');
    const sec1 = createPrivateKey(client.keyPem).export({ type: 'sec1', format: 'pem' }).toString();
    expect((await importFiles(await withKey(sec1), GW)).draft.name).toBe('erin');
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await refusal(importFiles(await withKey(ed), GW))).message).toBe(
      'client.key does not belong to the certificate in client.crt (CN=erin) — import the key that was issued with this certificate',
    );
  });
});

describe('encrypted keys: the work is bounded before the passphrase is asked, failing closed', () => {
  it('a byte after the EncryptedPrivateKeyInfo no longer hides a 2^31-1 iteration count', HANG_GUARD, async () => {
    const der = Buffer.concat([derOf(encryptedKeyWithIterations(client.keyPem, 'pw', HUGE)), Buffer.from([0])]);
    expect((await refusal(importFiles(await withKey(pem('ENCRYPTED PRIVATE KEY', der)), neverAsk))).message).toBe(damaged('client.key'));
  });

  it('nor does a legacy Proc-Type layer around an ENCRYPTED PRIVATE KEY', HANG_GUARD, async () => {
    const key = legacyEncrypted('ENCRYPTED PRIVATE KEY', derOf(encryptedKeyWithIterations(client.keyPem, 'pw', HUGE)), 'pw');
    expect((await refusal(importFiles(await withKey(key), neverAsk))).message).toBe(
      'client.key: the ENCRYPTED PRIVATE KEY block has header lines ("Proc-Type: 4,ENCRYPTED") it should not have — export the key again with the default settings',
    );
  });

  it('legacy encryption is read only on RSA PRIVATE KEY and EC PRIVATE KEY blocks', async () => {
    const key = legacyEncrypted('PRIVATE KEY', dsaPkcs8(), 'pw');
    expect((await refusal(importFiles(await withKey(key), neverAsk))).message).toBe(
      'client.key: the PRIVATE KEY block has header lines ("Proc-Type: 4,ENCRYPTED") it should not have — export the key again with the default settings',
    );
  });

  it('a legacy RSA PRIVATE KEY must decrypt to a plain RSA key, not to another encrypted layer', async () => {
    const key = legacyEncrypted('RSA PRIVATE KEY', derOf(encryptedKeyWithIterations(rsaClient.keyPem, 'pw', HUGE)), 'pw');
    expect((await refusal(importFiles(await withKey(key, { ca: rsaCa, client: rsaClient }), withPw))).message).toBe(damaged('client.key'));
  });

  it('a key-derivation function Ferry cannot read is refused, not let through unbounded', async () => {
    const key = pem('ENCRYPTED PRIVATE KEY', pbes2Encrypt(derOf(client.keyPem), 'pw', { kdf: '1.2.3.4', iterations: 5 }));
    expect((await refusal(importFiles(await withKey(key), neverAsk))).message).toBe(
      'client.key is encrypted in a way Ferry does not read (key derivation 1.2.3.4) — export it again with AES-256 (openssl pkcs8 -topk8 -v2 aes-256-cbc)',
    );
  });

  it('reads what openssl writes: PBKDF2 and scrypt PKCS#8, legacy AES and 3DES', async () => {
    const [plain] = await files({ 'plain.key': rsaClient.keyPem });
    const scrypt = execFileSync('openssl', ['pkcs8', '-topk8', '-in', plain!, '-scrypt', '-passout', 'pass:pw']).toString();
    const legacy3des = createPrivateKey(rsaClient.keyPem).export({ type: 'pkcs1', format: 'pem', cipher: 'des-ede3-cbc', passphrase: 'pw' }).toString();
    const legacyEc = createPrivateKey(client.keyPem).export({ type: 'sec1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
    for (const [key, set] of [
      [encryptKey(rsaClient.keyPem, 'pw'), { ca: rsaCa, client: rsaClient }],
      [scrypt, { ca: rsaCa, client: rsaClient }],
      [legacy3des, { ca: rsaCa, client: rsaClient }],
      [legacyEc, { ca, client }],
    ] as const) {
      const result = await importFiles(await withKey(key, set), withPw);
      expect(result.draft.keyEncrypted).toBe(true);
      expect(result.files['client.key']).toBe(key);
    }
  });

  it('a wrong passphrase on a legacy key is named as such', async () => {
    const key = createPrivateKey(rsaClient.keyPem).export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'right' }).toString();
    const e = await refusal(importFiles(await withKey(key, { ca: rsaCa, client: rsaClient }), { ...GW, askPassphrase: async () => 'wrong-guess' }), 'wrong-guess');
    expect(e.message).toBe('wrong passphrase for client.key — run the import again and type the passphrase of this key');
  });
});
