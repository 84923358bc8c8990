/**
 * A private key's PEM block read as far as it can be without its passphrase, failing
 * closed: its body strict base64, header lines only where OpenSSL's traditional encryption
 * puts them (RSA and EC PRIVATE KEY), the derivation work of an encrypted key bounded before
 * anyone is asked for the passphrase, the key's type and size checked (key-type.ts) before
 * Node loads it. An encrypted key is stored re-encoded from the very bytes that were
 * checked, so openvpn reads exactly what Ferry read.
 */
import type { KeyObject } from 'node:crypto';
import { parseDer } from './asn1.js';
import { sealedLegacy, sealedPkcs8, type SealedKey } from './key-decrypt.js';
import { checkPrivateKey, damagedKey, openPrivateKey, type KeyFormat, type KeySource } from './key-type.js';
import { ImportError, printable, type PemBlock } from './pem.js';

/**
 * Most key-derivation iterations an encrypted key may ask for. OpenSSL (and Node) write
 * 2048; OWASP's PBKDF2-SHA256 advice is 600,000. Derived natively at ~0.2 s per million
 * here, so the bound costs little; 2^31-1 would have been ~15 minutes.
 */
export const MAX_KEY_ITERATIONS = 1_000_000;

/** Labels of the keys that carry OpenSSL's traditional encryption in PEM headers, and their DER layout. */
const LEGACY_FORMATS: Record<string, KeyFormat> = { 'RSA PRIVATE KEY': 'pkcs1', 'EC PRIVATE KEY': 'sec1' };

export interface PemKey {
  encrypted: boolean;
  /** The block as it is to be stored when encrypted: re-encoded from the checked bytes. */
  text: string;
  /** The key, decrypted with `passphrase` when encrypted (a wrong one is an ImportError). */
  open(passphrase?: string): KeyObject;
}

export function readPemKey(block: PemBlock, src: KeySource): PemKey {
  const { headers, der } = pemParts(block, src);
  const legacy = LEGACY_FORMATS[block.label];
  if (headers.length > 0 && !(legacy && /^Proc-Type:/i.test(headers[0]!))) {
    throw new ImportError(
      `${src.display}: the ${printable(block.label)} block has header lines ("${printable(headers[0]!)}") it should not have — export the key again with the default settings`,
      src.file,
    );
  }
  if (block.label === 'ENCRYPTED PRIVATE KEY') {
    const sealed = bounded(sealedPkcs8(der, src), src);
    return { encrypted: true, text: pemText(block.label, der), open: (passphrase) => unseal(sealed, 'pkcs8', passphrase, src) };
  }
  if (headers.length > 0) {
    const sealed = bounded(sealedLegacy(headers, der, src), src);
    const text = pemText(block.label, der, ['Proc-Type: 4,ENCRYPTED', sealed.dekInfo]);
    return { encrypted: true, text, open: (passphrase) => unseal(sealed, legacy!, passphrase, src) };
  }
  const format = legacy ?? 'pkcs8';
  checkPrivateKey(der, format, src);
  return { encrypted: false, text: block.text, open: () => openPrivateKey(der, format, src) };
}

/** The header lines (before the body) and the body's bytes; anything but base64 in the body is damage. */
function pemParts(block: PemBlock, src: KeySource): { headers: string[]; der: Buffer } {
  const lines = block.text.split('\n').slice(1, -2); // BEGIN … END, then the final newline
  const headers: string[] = [];
  while (lines.length > 0 && lines[0]!.includes(':')) headers.push(lines.shift()!);
  const body = lines.join('');
  if (body === '' || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw damagedKey(src);
  }
  return { headers, der: Buffer.from(body, 'base64') };
}

function bounded<T extends SealedKey>(sealed: T, src: KeySource): T {
  if (sealed.work > BigInt(MAX_KEY_ITERATIONS)) {
    throw new ImportError(
      `${src.display} asks for ${sealed.work} key-derivation iterations; Ferry reads at most ${MAX_KEY_ITERATIONS} — export the key again with the default settings`,
      src.file,
    );
  }
  return sealed;
}

/** Decrypts, then checks the plain key like any other: it must be the key itself, not another layer. */
function unseal(sealed: SealedKey, format: KeyFormat, passphrase: string | undefined, src: KeySource): KeyObject {
  const plain = sealed.open(passphrase ?? '');
  // Bad padding, or (rarely) good padding over bytes that are no DER at all: the wrong passphrase.
  if (!plain || !parseDer(plain)) {
    throw new ImportError(`wrong passphrase for ${src.display} — run the import again and type the passphrase of this key`, src.file);
  }
  return openPrivateKey(plain, format, src);
}

function pemText(label: string, der: Buffer, headers: string[] = []): string {
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${headers.length ? `${headers.join('\n')}\n\n` : ''}${body}\n-----END ${label}-----\n`;
}
