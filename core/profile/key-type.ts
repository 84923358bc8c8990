/**
 * What a private key is, read from its DER before Node (OpenSSL) is given it. OpenSSL
 * computes a DSA or DH key's public value while loading it — g^x mod p, with no bound on p
 * (a 64k-bit group took ~85 s) — and works on whatever numbers an RSA or EC key holds. So
 * only the keys a VPN client certificate uses pass, within sizes no real key exceeds: RSA,
 * EC on named curves, Ed25519 and Ed448.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { integer, integerBits, kids, octetString, oidOf, parseDer, tagged, type Asn1 } from './asn1.js';
import { ImportError } from './pem.js';

/** How the DER is laid out: PKCS#8 PrivateKeyInfo, PKCS#1 RSAPrivateKey, SEC1 ECPrivateKey. */
export type KeyFormat = 'pkcs8' | 'pkcs1' | 'sec1';

/** Where a key came from, for messages. */
export interface KeySource {
  display: string;
  file?: string | undefined;
}

/** OpenSSL's own ceiling for RSA (OPENSSL_RSA_MAX_MODULUS_BITS); real keys are 2048-4096. */
export const MAX_RSA_BITS = 16384;
/** OpenSSL caps exponents only above 3072-bit moduli; everyone uses 65537 (17 bits). */
export const MAX_RSA_EXPONENT_BITS = 32;

const RSA = new Set(['1.2.840.113549.1.1.1', '1.2.840.113549.1.1.10']); // rsaEncryption, RSASSA-PSS
const EC = '1.2.840.10045.2.1';
/** Ed25519, Ed448: the private key is an OCTET STRING of this many bytes. */
const EDWARDS: Record<string, number> = { '1.3.101.112': 32, '1.3.101.113': 57 };
/** Named curves openvpn's OpenSSL signs with, and the byte size of their private scalar. */
const CURVES: Record<string, number> = {
  '1.2.840.10045.3.1.7': 32, // P-256
  '1.3.132.0.34': 48, // P-384
  '1.3.132.0.35': 66, // P-521
  '1.3.36.3.3.2.8.1.1.7': 32, // brainpoolP256r1
  '1.3.36.3.3.2.8.1.1.11': 48, // brainpoolP384r1
  '1.3.36.3.3.2.8.1.1.13': 64, // brainpoolP512r1
};
const CURVE_NAMES = 'P-256, P-384, P-521 and brainpoolP256r1/P384r1/P512r1';
/** Key types people may recognise in a refusal; others are named by OID. */
const OTHER_TYPES: Record<string, string> = {
  '1.2.840.10040.4.1': 'DSA',
  '1.2.840.113549.1.3.1': 'DH',
  '1.2.840.10046.2.1': 'DH (X9.42)',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.2.156.10197.1.301': 'SM2',
};

/** The refusal for a key whose bytes make no sense (also used by key-decrypt.ts and pem-key.ts). */
export function damagedKey(src: KeySource): ImportError {
  return new ImportError(`${src.display}: the private key is damaged and cannot be read — get ${src.display} again from your administrator`, src.file);
}

/** Refuses a key whose type or size is not one Ferry accepts (see above), reading only its DER. */
export function checkPrivateKey(der: Uint8Array, format: KeyFormat, src: KeySource): void {
  const root = parseDer(der);
  if (!root) throw damagedKey(src);
  if (format === 'pkcs1') checkRsa(root, src);
  else if (format === 'sec1') checkEc(root, undefined, src);
  else checkPkcs8(root, src);
}

/** checkPrivateKey, then the key as Node's KeyObject. */
export function openPrivateKey(der: Uint8Array, format: KeyFormat, src: KeySource): KeyObject {
  checkPrivateKey(der, format, src);
  try {
    return createPrivateKey({ key: Buffer.from(der), format: 'der', type: format });
  } catch {
    throw damagedKey(src);
  }
}

/** PrivateKeyInfo / OneAsymmetricKey { version, AlgorithmIdentifier { oid, params }, privateKey OCTET STRING, … }. */
function checkPkcs8(root: Asn1, src: KeySource): void {
  const [version, algorithm, key] = kids(root);
  const body = octetString(key);
  const type = oidOf(kids(algorithm)[0]);
  if (integer(version) === undefined || body === undefined || !type) throw damagedKey(src);
  if (!RSA.has(type) && type !== EC && EDWARDS[type] === undefined) {
    throw new ImportError(
      `${src.display} holds a private key of type ${OTHER_TYPES[type] ?? type}; Ferry accepts RSA, EC and Ed25519/Ed448 keys — ask your administrator for a key of one of those types`,
      src.file,
    );
  }
  const inner = parseDer(body);
  if (!inner) throw damagedKey(src);
  if (RSA.has(type)) checkRsa(inner, src);
  else if (type === EC) checkEc(inner, kids(algorithm)[1], src);
  else if (octetString(inner)?.length !== EDWARDS[type]) throw damagedKey(src);
}

/** RSAPrivateKey { version 0, n, e, d, p, q, dp, dq, qinv }: two primes, as every VPN key has. */
function checkRsa(node: Asn1, src: KeySource): void {
  const fields = kids(node);
  if (fields.length !== 9 || integer(fields[0]) !== 0n) throw damagedKey(src);
  const bits = fields.slice(1).map(integerBits);
  if (bits.some((b) => b === undefined)) throw damagedKey(src);
  const [modulus, exponent] = bits as [number, number];
  if (modulus > MAX_RSA_BITS) {
    throw new ImportError(
      `${src.display} holds an RSA key of ${modulus} bits; Ferry reads RSA keys of at most ${MAX_RSA_BITS} bits — ask your administrator for a standard key (RSA 2048-4096 or EC P-256)`,
      src.file,
    );
  }
  if (exponent > MAX_RSA_EXPONENT_BITS) {
    throw new ImportError(
      `${src.display} holds an RSA key whose public exponent has ${exponent} bits; Ferry reads exponents of at most ${MAX_RSA_EXPONENT_BITS} bits (65537 is usual) — ask your administrator for a standard key`,
      src.file,
    );
  }
  // No number in an RSA key is larger than its modulus; a larger one is work, not a key.
  if ((bits as number[]).some((b) => b > modulus)) throw damagedKey(src);
}

/** ECPrivateKey { version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey }, on a named curve (here or in PKCS#8's AlgorithmIdentifier). */
function checkEc(node: Asn1, algorithmParams: Asn1 | undefined, src: KeySource): void {
  const [version, scalar, ...rest] = kids(node);
  const privateKey = octetString(scalar);
  if (integer(version) !== 1n || privateKey === undefined) throw damagedKey(src);
  const given = [algorithmParams, kids(tagged(rest, 0))[0]].filter((p): p is Asn1 => p !== undefined);
  const curve = (what: string) =>
    new ImportError(`${src.display} holds an EC key on ${what}; Ferry reads EC keys on the named curves ${CURVE_NAMES} — ask your administrator for a standard key`, src.file);
  if (given.length === 0) throw curve('no named curve');
  const oids = given.map(oidOf);
  if (oids.some((o) => o === undefined)) throw curve('explicit curve parameters');
  const size = CURVES[oids[0]!];
  if (size === undefined) throw curve(`the curve ${oids[0]}`);
  if (oids.some((o) => o !== oids[0])) throw damagedKey(src);
  const publicKey = kids(tagged(rest, 1))[0];
  const publicBytes = typeof publicKey?.value === 'string' ? publicKey.value.length : 0;
  if (privateKey.length > size || publicBytes > 2 * size + 2) throw damagedKey(src);
}
