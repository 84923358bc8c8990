/**
 * Certificates by the hundred: each signature check against a crafted RSA key with a
 * ~3070-bit public exponent costs milliseconds, and the importer used to check every
 * certificate against every other (n², 100 certificates ≈ 80 s of CPU) and every CA
 * candidate in turn. A profile needs a CA, a few intermediates at most and one client
 * certificate: more is refused before any signature is checked. vitest's timeout is the
 * hang guard; the spy counts the signature checks.
 */
import { X509Certificate } from 'node:crypto';
import { strToU8, zipSync } from 'fflate';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { importFiles, type ImportOptions } from '../../core/profile/import.js';
import { NOW, inline, makeCa, makeClient, type Identity } from '../fixtures/import/generate.js';
import { algorithm, craftedCert, pkcs12Of, rsaSpki, selfIssued } from '../fixtures/import/crafted.js';
import { bits, seq } from '../fixtures/import/der.js';
import { refusal } from '../fixtures/import/refusal.js';
import { importWorkspace } from '../fixtures/import/workspace.js';

const GW = { gateway: { host: 'vpn.example.com' }, now: NOW } satisfies ImportOptions;
const HANG_GUARD = { timeout: 15_000 };
const MAX_CERTIFICATES = 16;
const tooMany = (display: string) =>
  `${display}: more than ${MAX_CERTIFICATES} certificates in all — a profile needs only the CA certificate (and its intermediates, if any) and one client certificate; remove the others and import again`;

let ca: Identity;
let client: Identity;
const { files } = importWorkspace('ferry-bounds-');
/** 100 self-issued certificates: the old pairwise search made ~9,900 costly signature checks. */
let hundred: string;

beforeAll(async () => {
  ca = await makeCa({ cn: 'Bounds CA' });
  client = await makeClient(ca, { cn: 'carol' });
  hundred = selfIssued(100);
});

afterEach(() => {
  vi.restoreAllMocks();
});

function countVerify() {
  return vi.spyOn(X509Certificate.prototype, 'verify');
}

describe('at most 16 certificates per import, refused before any signature check', () => {
  it.each([
    ['one .pem file', async () => files({ 'all.pem': `${ca.certPem}${hundred}${client.keyPem}` }), 'all.pem'],
    ['extra certificates in an .ovpn <cert>', async () => files({ 'p.ovpn': ['client', 'remote vpn.example.com', inline('ca', ca.certPem), inline('cert', hundred), inline('key', client.keyPem)].join('\n') }), 'p.ovpn <cert>'],
    ['PEM entries of a zip', async () => files({ 'b.zip': zipSync({ 'ca.crt': strToU8(ca.certPem), 'client.crt': strToU8(hundred), 'client.key': strToU8(client.keyPem) }) }), 'b.zip:client.crt'],
    ['cert bags of a PKCS#12 file', async () => files({ 'id.p12': pkcs12Of(hundred.split(/(?=-----BEGIN)/)) }), 'id.p12'],
  ])('%s', HANG_GUARD, async (_label, make, display) => {
    const verify = countVerify();
    expect((await refusal(importFiles(await make(), GW))).message).toBe(tooMany(display));
    expect(verify).not.toHaveBeenCalled();
  });

  it('counts across files: a CA file and a client file that together hold 17', HANG_GUARD, async () => {
    const paths = await files({ 'ca.crt': selfIssued(10, 'Many CA', true), 'client.crt': selfIssued(7), 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(tooMany('client.crt'));
  });

  it('17 CA candidates whose name matches the client certificate\'s issuer are refused before any is checked', HANG_GUARD, async () => {
    const verify = countVerify();
    const paths = await files({ 'ca.crt': selfIssued(17, 'Bounds CA', true), 'client.crt': client.certPem, 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(tooMany('ca.crt'));
    expect(verify).not.toHaveBeenCalled();
  });

  it('still reads 16: a CA bundle of 14 roots, the issuing CA and the client certificate', async () => {
    const verify = countVerify();
    const roots = Array.from({ length: 14 }, (_, i) => craftedCert({ subject: `Other root ${i}`, ca: true })).join('');
    const paths = await files({ 'ca.crt': `${roots}${ca.certPem}`, 'client.crt': client.certPem, 'client.key': client.keyPem });
    const result = await importFiles(paths, GW);
    expect(result.certificates).toHaveLength(16);
    // Only the candidate whose name is the client certificate's issuer has its signature checked.
    expect(verify).toHaveBeenCalledTimes(1);
  });
});

describe('two client certificates are named at once, without signature checks', () => {
  it('two self-issued certificates beside a CA: "a second client certificate"', async () => {
    const verify = countVerify();
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': selfIssued(2), 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'client.crt holds a second client certificate (CN=X) besides the one in client.crt (CN=X) — import one account at a time',
    );
    expect(verify).not.toHaveBeenCalled();
  });

  it('a would-be CA without CA:TRUE is named by its name alone when there is no CA', async () => {
    const verify = countVerify();
    const fake = await makeCa({ cn: 'Fake CA', isCa: false });
    const signed = await makeClient(fake, { cn: 'dave' });
    const paths = await files({ 'ca.crt': fake.certPem, 'client.crt': signed.certPem, 'client.key': signed.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'ca.crt (CN=Fake CA) is not a CA certificate (basicConstraints CA:TRUE is missing), so it cannot vouch for the client certificate — ask your administrator for the CA certificate',
    );
    expect(verify).not.toHaveBeenCalled();
  });
});

describe('certificates Node reads only in part', () => {
  const unknownKey = () => seq(algorithm('1.2.3.4'), bits(Buffer.from('not a key')));

  it('an extra CA with an unknown key type is an ImportError naming the file, not a raw OpenSSL error', async () => {
    const odd = craftedCert({ subject: 'Odd CA', ca: true, spki: unknownKey() });
    const paths = await files({ 'ca.crt': `${ca.certPem}${odd}`, 'client.crt': client.certPem, 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      "ca.crt (CN=Odd CA): the certificate's public key is of a type Ferry cannot read — ask your administrator for the certificate again",
    );
  });

  it('the same as the client certificate', async () => {
    const odd = craftedCert({ subject: 'odd', issuer: 'Bounds CA', spki: unknownKey() });
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': odd, 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      "client.crt (CN=odd): the certificate's public key is of a type Ferry cannot read — ask your administrator for the certificate again",
    );
  });

  it('an empty subject (Node reports it as undefined) is named, not a crash', async () => {
    const anonymous = craftedCert({ subject: '', spki: rsaSpki(2048, 17) });
    const paths = await files({ 'ca.crt': ca.certPem, 'client.crt': anonymous, 'client.key': client.keyPem });
    expect((await refusal(importFiles(paths, GW))).message).toBe(
      'client.crt (no subject) was not issued by the CA in ca.crt (CN=Bounds CA): the files come from different servers — ask your administrator for a matching set',
    );
    const extraCa = await files({ 'ca.crt': `${ca.certPem}${craftedCert({ subject: '', ca: true, spki: rsaSpki(2048, 17) })}`, 'client.crt': client.certPem, 'client.key': client.keyPem });
    expect((await importFiles(extraCa, GW)).certificates.map((c) => c.subject)).toEqual(['CN=Bounds CA', '', 'CN=carol']);
  });

  it('an RSA key with an ordinary exponent still reads (the crafted keys above differ only in size)', () => {
    expect(new X509Certificate(craftedCert({ subject: 'fine', spki: rsaSpki(2048, 17) })).publicKey.asymmetricKeyType).toBe('rsa');
  });
});
