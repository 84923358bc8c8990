/**
 * Encrypted private keys opened natively, with every parameter read (and the work
 * bounded by the caller) first. Node's createPrivateKey decrypts and loads in one step,
 * so the key inside could not be looked at before OpenSSL works on it; here decrypting
 * yields the plain DER, which key-type.ts checks before anything loads it. Read: what
 * OpenSSL and Node write — PBES2 (PBKDF2 with HMAC-SHA1/SHA-2, or scrypt) with AES-CBC or
 * 3DES, and the traditional Proc-Type/DEK-Info encryption (one MD5 round) of RSA/EC keys.
 */
import { createDecipheriv, createHash, pbkdf2Sync, scryptSync } from 'node:crypto';
import { integer, kids, octetString, oidOf, parseDer, type Asn1 } from './asn1.js';
import { ImportError } from './pem.js';
import { damagedKey, type KeySource } from './key-type.js';

/** An encrypted key, read as far as it can be without the passphrase. */
export interface SealedKey {
  /** The derivation's work: PBKDF2 iterations, scrypt N·r·p, 1 for the traditional MD5 round. */
  work: bigint;
  /** The plain bytes, or undefined when the passphrase is wrong. */
  open(passphrase: string): Buffer | undefined;
}

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const SCRYPT = '1.3.6.1.4.1.11591.4.11';
/** PBKDF2's pseudo-random function, HMAC-SHA1 when the parameters do not say. */
const PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
interface Cipher {
  name: string;
  keyLength: number;
  ivLength: number;
}
const aes = (bits: number): Cipher => ({ name: `aes-${bits}-cbc`, keyLength: bits / 8, ivLength: 16 });
const DES3: Cipher = { name: 'des-ede3-cbc', keyLength: 24, ivLength: 8 };
const PBES2_CIPHERS: Record<string, Cipher> = {
  '2.16.840.1.101.3.4.1.2': aes(128),
  '2.16.840.1.101.3.4.1.22': aes(192),
  '2.16.840.1.101.3.4.1.42': aes(256),
  '1.2.840.113549.3.7': DES3,
};
/** DEK-Info names (OpenSSL spells them in capitals). */
const LEGACY_CIPHERS: Record<string, Cipher> = { 'AES-128-CBC': aes(128), 'AES-192-CBC': aes(192), 'AES-256-CBC': aes(256), 'DES-EDE3-CBC': DES3 };
/** scrypt's memory is 128·N·r bytes; the work bound (N·r·p) keeps it under this. */
const SCRYPT_MAXMEM = 256 * 1024 * 1024;

function unreadable(src: KeySource, what: string): ImportError {
  return new ImportError(
    `${src.display} is encrypted in a way Ferry does not read (${what}) — export it again with AES-256 (openssl pkcs8 -topk8 -v2 aes-256-cbc)`,
    src.file,
  );
}

/** Bytes from a forge binary string. */
const bytes = (s: string) => Buffer.from(s, 'binary');

function decrypt(cipher: Cipher, key: Buffer, iv: Buffer, data: Buffer): Buffer | undefined {
  try {
    const d = createDecipheriv(cipher.name, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    return undefined; // bad padding: the wrong key
  }
}

/** EncryptedPrivateKeyInfo { AlgorithmIdentifier { PBES2, { kdf, encryptionScheme } }, encryptedData } (DER). */
export function sealedPkcs8(der: Buffer, src: KeySource): SealedKey {
  const root = parseDer(der);
  const [algorithm, encrypted] = kids(root);
  const data = octetString(encrypted);
  const scheme = oidOf(kids(algorithm)[0]);
  if (!root || kids(root).length !== 2 || data === undefined || !scheme) throw damagedKey(src);
  if (scheme !== PBES2) throw unreadable(src, `scheme ${scheme}`);
  const [kdf, encryption] = kids(kids(algorithm)[1]);
  const cipherOid = oidOf(kids(encryption)[0]);
  const cipher = PBES2_CIPHERS[cipherOid ?? ''];
  const iv = octetString(kids(encryption)[1]);
  if (!cipher) throw unreadable(src, `cipher ${cipherOid ?? 'unknown'}`);
  if (iv?.length !== cipher.ivLength) throw damagedKey(src);
  const derive = keyDerivation(kdf, cipher.keyLength, src);
  return {
    work: derive.work,
    open: (passphrase) => {
      let key: Buffer;
      try {
        key = derive.key(passphrase);
      } catch {
        throw damagedKey(src); // parameters Node's KDF refuses (checked as far as the work bound needs)
      }
      return decrypt(cipher, key, bytes(iv), bytes(data));
    },
  };
}

/** PBKDF2-params { salt, iterationCount, keyLength?, prf? } or scrypt-params { salt, N, r, p, keyLength? }. */
function keyDerivation(kdf: Asn1 | undefined, keyLength: number, src: KeySource): { work: bigint; key: (passphrase: string) => Buffer } {
  const kdfOid = oidOf(kids(kdf)[0]);
  const params = kids(kids(kdf)[1]);
  const salt = octetString(params[0]);
  if (salt === undefined) throw kdfOid === PBKDF2 || kdfOid === SCRYPT ? damagedKey(src) : unreadable(src, `key derivation ${kdfOid ?? 'unknown'}`);
  const rest = params.slice(1);
  // An optional keyLength must be the cipher's; OpenSSL refuses any other.
  const lengthOk = (n: Asn1 | undefined) => n === undefined || integer(n) === BigInt(keyLength);
  if (kdfOid === PBKDF2) {
    const iterations = integer(rest[0]);
    const optional = rest.slice(1);
    const length = optional.find((x) => integer(x) !== undefined);
    const prfNode = optional.find((x) => integer(x) === undefined);
    const prf = prfNode ? PRFS[oidOf(kids(prfNode)[0]) ?? ''] : 'sha1';
    if (iterations === undefined || iterations < 1n || !lengthOk(length) || optional.length > 2) throw damagedKey(src);
    if (!prf) throw unreadable(src, `PBKDF2 with ${oidOf(kids(prfNode)[0]) ?? 'an unknown function'}`);
    return { work: iterations, key: (passphrase) => pbkdf2Sync(passphrase, bytes(salt), Number(iterations), keyLength, prf) };
  }
  if (kdfOid === SCRYPT) {
    const [n, r, p] = rest.slice(0, 3).map(integer);
    // N is a power of two above 1; r and p at least 1 (RFC 7914).
    if (!n || !r || !p || n < 2n || (n & (n - 1n)) !== 0n || !lengthOk(rest[3]) || rest.length > 4) throw damagedKey(src);
    return {
      work: n * r * p,
      key: (passphrase) => scryptSync(passphrase, bytes(salt), keyLength, { N: Number(n), r: Number(r), p: Number(p), maxmem: SCRYPT_MAXMEM }),
    };
  }
  throw unreadable(src, `key derivation ${kdfOid ?? 'unknown'}`);
}

/**
 * The traditional encryption: `Proc-Type: 4,ENCRYPTED` and `DEK-Info: CIPHER,IV` before the
 * body; the key is EVP_BytesToKey(MD5, passphrase, first 8 bytes of the IV), one round.
 * Returns the DEK-Info line as it is to be stored (capitals) with the sealed key.
 */
export function sealedLegacy(headers: string[], body: Buffer, src: KeySource): SealedKey & { dekInfo: string } {
  const dek = /^DEK-Info:\s*([A-Za-z0-9-]+),([0-9A-Fa-f]+)$/.exec(headers[1] ?? '');
  if (headers.length !== 2 || !/^Proc-Type:\s*4,ENCRYPTED$/i.test(headers[0]!) || !dek) throw damagedKey(src);
  const name = dek[1]!.toUpperCase();
  const cipher = LEGACY_CIPHERS[name];
  if (!cipher) throw unreadable(src, name);
  const iv = Buffer.from(dek[2]!, 'hex');
  if (iv.length !== cipher.ivLength || dek[2]!.length !== 2 * cipher.ivLength || body.length === 0 || body.length % cipher.ivLength !== 0) throw damagedKey(src);
  return {
    work: 1n,
    dekInfo: `DEK-Info: ${name},${dek[2]!.toUpperCase()}`,
    open: (passphrase) => decrypt(cipher, bytesToKey(passphrase, iv.subarray(0, 8), cipher.keyLength), iv, body),
  };
}

/** OpenSSL's EVP_BytesToKey with MD5 and one round: D_i = MD5(D_{i-1} ‖ passphrase ‖ salt). */
function bytesToKey(passphrase: string, salt: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let have = 0; have < length; have += previous.length) {
    previous = createHash('md5').update(previous).update(passphrase, 'utf8').update(salt).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}
