/**
 * Certificate checks done at import with Node's own X.509 support, so a profile that
 * could never connect (expired, wrong key, foreign CA) is refused now, with the reason,
 * instead of failing later as an opaque TLS error.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { CertificateSummary } from './schema.js';
import { FerryError } from '../util/errors.js';
import { ImportError, printable, type PemBlock } from './pem.js';
import { readPemKey } from './pem-key.js';
import { replaceUnprintable } from '../util/unprintable.js';

const DAY_MS = 86_400_000;
/** Warn this long before a certificate expires: time enough to get a new one. */
export const EXPIRY_WARNING_DAYS = 30;

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** 'RSA 2048', 'EC P-256', 'Ed25519' … as people read them in certificate viewers. */
export function keyTypeOf(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return `RSA ${details?.modulusLength ?? ''}`.trim();
    case 'rsa-pss':
      return `RSA-PSS ${details?.modulusLength ?? ''}`.trim();
    case 'ec':
      return `EC ${CURVES[details?.namedCurve ?? ''] ?? details?.namedCurve ?? ''}`.trim();
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    default:
      return key.asymmetricKeyType?.toUpperCase();
  }
}

/** A certificate's subject or issuer as Node writes it; '' for the empty name, which Node reports as undefined. */
function nameOf(cert: X509Certificate, which: 'subject' | 'issuer'): string {
  return (cert[which] as string | undefined) ?? '';
}

/** Node writes distinguished names one attribute per line; a summary wants one line. */
export function formatName(dn: string): string {
  return dn.split('\n').filter(Boolean).join(', ');
}

export function commonName(cert: X509Certificate): string | undefined {
  const line = nameOf(cert, 'subject').split('\n').find((l) => l.startsWith('CN='));
  return line?.slice(3) || undefined;
}

/** How a certificate is named in messages: its CN, else its whole subject. */
export function certLabel(cert: X509Certificate): string {
  const cn = commonName(cert);
  return printable(cn ? `CN=${cn}` : formatName(nameOf(cert, 'subject')) || 'no subject');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A date as Node prints it from a certificate (OpenSSL's "Jun  1 12:00:00 2030 GMT"), read
 * strictly. `new Date(text)` will not do: it turns OpenSSL's "Bad time value" into an
 * Invalid Date (a RangeError at the first toISOString) and year 0 into 2000. Years before
 * 1950 (the first UTCTime can say) are no real certificate's either.
 */
function certificateDate(text: string): Date | undefined {
  const m = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)? (\d{4}) GMT$/.exec(text);
  if (!m) return undefined;
  const [day, hour, minute, second, year] = [m[2], m[3], m[4], m[5], m[7]].map(Number) as [number, number, number, number, number];
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0 || year < 1950) return undefined;
  const ms = m[6] ? Math.floor(Number(`0${m[6]}`) * 1000) : 0;
  const date = new Date(Date.UTC(year, month, day, hour, minute, second, ms));
  // Date.UTC rolls 30 February over into March: a date that does not read back is no date.
  const same = date.getUTCDate() === day && date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
  return same ? date : undefined;
}

/** notBefore and notAfter, or undefined when either is no real date (a damaged or crafted certificate). */
function readValidity(cert: X509Certificate): { from: Date; to: Date } | undefined {
  const from = certificateDate(cert.validFrom);
  const to = certificateDate(cert.validTo);
  return from && to ? { from, to } : undefined;
}

/** The validity of a certificate that went through parseCertificate (which refuses unreadable dates). */
export function validity(cert: X509Certificate): { from: Date; to: Date } {
  const dates = readValidity(cert);
  if (!dates) throw new Error(`validity() of an unchecked certificate (${cert.validFrom} / ${cert.validTo})`);
  return dates;
}

export function formatDate(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * What `ferry show` and the import preview say about a certificate. Given text, it is a
 * profile's stored file (`ca.crt`, `client.crt`): damage there is named with what to do.
 */
export function summarizeCertificate(input: string | X509Certificate, role: 'ca' | 'client'): CertificateSummary {
  const cert = typeof input === 'string' ? storedCertificate(input, role === 'ca' ? 'ca.crt' : 'client.crt') : input;
  const { from, to } = validity(cert);
  const publicKey = readPublicKey(cert);
  const keyType = publicKey && keyTypeOf(publicKey);
  return {
    role,
    // Node escapes C0 controls in names but not C1, bidi controls or U+2028: shown on terminals and screens.
    subject: replaceUnprintable(formatName(nameOf(cert, 'subject'))),
    issuer: replaceUnprintable(formatName(nameOf(cert, 'issuer'))),
    validFrom: from.toISOString(),
    validTo: to.toISOString(),
    sha1: colonHex(createHash('sha1').update(cert.raw).digest()),
    sha256: colonHex(createHash('sha256').update(cert.raw).digest()),
    ...(keyType ? { keyType } : {}),
  };
}

function storedCertificate(pem: string, name: string): X509Certificate {
  const fix = 'remove the profile with `ferry remove` and import it again';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new FerryError(`this profile's ${name} is damaged (it cannot be read) — ${fix}`);
  }
  if (!readValidity(cert)) throw new FerryError(`this profile's ${name} is damaged (its validity dates cannot be read) — ${fix}`);
  return cert;
}

function colonHex(buf: Buffer): string {
  return buf.toString('hex').toUpperCase().match(/../g)!.join(':');
}

/** A certificate (PEM text or DER) as X509Certificate; a damaged one, or one with dates no calendar has, is named. */
export function parseCertificate(input: string | Buffer, display: string, file?: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(input);
  } catch {
    throw new ImportError(`${display}: the certificate is damaged and cannot be read — get ${display} again from your administrator`, file);
  }
  if (!readValidity(cert)) {
    throw new ImportError(`${display}: the certificate is damaged (its validity dates cannot be read) — ask your administrator for a new one`, file);
  }
  // Read once here, so no later use (the summary's key type, a signature check) meets a
  // raw OpenSSL error: an unknown key OID parses as a certificate but not as a key.
  if (!readPublicKey(cert)) {
    throw new ImportError(`${display} (${certLabel(cert)}): the certificate's public key is of a type Ferry cannot read — ask your administrator for the certificate again`, file);
  }
  return cert;
}

function readPublicKey(cert: X509Certificate): KeyObject | undefined {
  try {
    return cert.publicKey;
  } catch {
    return undefined;
  }
}

/**
 * Refuses a certificate outside its validity period (with the date, so the person can tell
 * an expired certificate from a wrong clock) and warns when it ends within 30 days.
 */
export function checkValidity(
  cert: X509Certificate,
  role: 'ca' | 'client',
  display: string,
  file: string | undefined,
  now: Date,
  warnings: string[],
): void {
  const { from, to } = validity(cert);
  const what = `${display} (${certLabel(cert)})`;
  const renew = role === 'ca' ? 'ask your administrator for the current CA certificate' : 'ask your administrator for a new certificate';
  if (now.getTime() > to.getTime()) throw new ImportError(`${what} expired on ${formatDate(to)} — ${renew}`, file);
  if (now.getTime() < from.getTime()) {
    throw new ImportError(
      `${what} is not valid before ${formatDate(from)} — check this computer's date and time, or ask your administrator`,
      file,
    );
  }
  const days = Math.floor((to.getTime() - now.getTime()) / DAY_MS);
  if (days < EXPIRY_WARNING_DAYS) {
    const when = days < 1 ? 'within a day' : `in ${days} day${days === 1 ? '' : 's'}`;
    const subject = role === 'ca' ? 'CA certificate' : 'client certificate';
    warnings.push(`${subject} expires ${when} (${formatDate(to)}); ask your administrator for a new one`);
  }
}

/**
 * The CA named in the issuer field really signed this certificate. checkIssued compares
 * names (and key identifiers) only, so the costly signature check runs for name-matching
 * candidates alone; MAX_CERTIFICATES bounds how many those can be.
 */
export function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** The private key is the one the certificate was issued for. */
export function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  try {
    return spki(cert.publicKey).equals(spki(createPublicKey(key)));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Which certificate is which, and do they belong together

/** A certificate found in the inputs, with where it came from. */
export interface CertIn {
  cert: X509Certificate;
  display: string;
  file: string;
  /** Where the source says what it is (an .ovpn's <ca> or <cert>); else the certificate decides. */
  role?: 'ca' | 'client';
  fromP12?: boolean;
}

/** A private key found in the inputs: a PEM block, or a key already opened from a PKCS#12 file. */
export interface KeyIn {
  display: string;
  file: string;
  block?: PemBlock;
  /** A key out of a PKCS#12 file, with the passphrase that protected it there. */
  p12?: { key: KeyObject; passphrase: string };
}

/**
 * Most certificates one import may bring, all inputs together. A profile needs the CA (a
 * bundle may add a few roots and intermediates) and one client certificate. Every
 * certificate may cost a signature check, and a crafted RSA key (a 3070-bit exponent)
 * makes each take ~10 ms: the bound keeps that to a fraction of a second.
 */
export const MAX_CERTIFICATES = 16;

/** Everything the inputs hold, before anyone decides which is which. */
export class CredentialPool {
  readonly certs: CertIn[] = [];
  readonly keys: KeyIn[] = [];

  addCert(c: CertIn): void {
    if (this.certs.length >= MAX_CERTIFICATES) {
      throw new ImportError(
        `${c.display}: more than ${MAX_CERTIFICATES} certificates in all — a profile needs only the CA certificate (and its intermediates, if any) and one client certificate; remove the others and import again`,
        c.file,
      );
    }
    const twin = this.certs.find((o) => o.cert.fingerprint256 === c.cert.fingerprint256);
    // A PKCS#12 file usually repeats the CA given beside it: that is no mistake.
    if (twin && (twin.fromP12 || c.fromP12)) return;
    if (twin) throw new ImportError(`${c.display} holds the same certificate as ${twin.display} — give it once`, c.file);
    this.certs.push(c);
  }
}

export interface Credentials {
  cas: CertIn[];
  /** Absent only for a password-only .ovpn (CA, auth-user-pass, no client certificate). */
  client?: CertIn;
  /** The client key as it will be stored. */
  key?: { text: string; encrypted: boolean };
}

export interface SettleContext {
  now: Date;
  warnings: string[];
  askPassphrase?: ((file: string) => Promise<string | undefined>) | undefined;
}

export type Missing = 'CA certificate' | 'client certificate' | 'client key';

/**
 * Decides which certificate is which and checks that they belong together: a CA that is
 * a CA, one client certificate it issued, one key that matches, all within their dates.
 * `foreignClientIssuer`: what to do with a client certificate the CA did not issue. For
 * loose files that means the wrong file ('refuse'); a server's own profile may verify the
 * gateway with a public CA while its clients' certificates come from a private one (Azure
 * point-to-site does exactly that), and openvpn does not mind: 'warn'.
 */
export async function settleCredentials(
  pool: CredentialPool,
  ctx: SettleContext,
  requireClient: boolean,
  missing: (what: Missing) => ImportError,
  foreignClientIssuer: 'refuse' | 'warn' = 'refuse',
): Promise<Credentials> {
  for (const c of pool.certs) {
    if (c.role === 'ca' && !c.cert.ca) throw notCa(c);
    if (c.role === 'client' && c.cert.ca) {
      throw new ImportError(`${c.display} holds a CA certificate (${certLabel(c.cert)}) where the client certificate belongs — ask your administrator for the complete profile`, c.file);
    }
  }
  const cas = pool.certs.filter((c) => c.role === 'ca' || (!c.role && c.cert.ca));
  const clients = pool.certs.filter((c) => c.role === 'client' || (!c.role && !c.cert.ca));
  if (clients.length > 1) {
    // A "CA" without CA:TRUE looks like a second client certificate: name it for what it
    // is. By name only: checking signatures between every pair was quadratic in costly checks.
    const namedAsIssuer = (x: CertIn) => nameOf(x.cert, 'subject') !== '' && clients.some((y) => y !== x && nameOf(y.cert, 'issuer') === nameOf(x.cert, 'subject'));
    const issuer = cas.length === 0 ? clients.find(namedAsIssuer) : undefined;
    if (issuer) throw notCa(issuer);
    const [a, b] = clients as [CertIn, CertIn];
    throw new ImportError(
      `${b.display} holds a second client certificate (${certLabel(b.cert)}) besides the one in ${a.display} (${certLabel(a.cert)}) — import one account at a time`,
      b.file,
    );
  }
  const client = clients[0];
  if (pool.keys.length > 1) {
    const [a, b] = pool.keys as [KeyIn, KeyIn];
    throw new ImportError(`${b.display} holds a second private key besides the one in ${a.display} — keep only the key that belongs to the client certificate`, b.file);
  }
  if (!client && (requireClient || pool.keys.length > 0)) throw missing('client certificate');
  if (client && pool.keys.length === 0) throw missing('client key');
  if (cas.length === 0) throw missing('CA certificate');

  if (!client) {
    for (const ca of cas) checkValidity(ca.cert, 'ca', ca.display, ca.file, ctx.now, ctx.warnings);
    return { cas };
  }
  const issuer = cas.find((ca) => issuedBy(client.cert, ca.cert));
  if (!issuer) {
    const ca = cas[0]!;
    const notIssued = `${client.display} (${certLabel(client.cert)}) was not issued by the CA in ${ca.display} (${certLabel(ca.cert)})`;
    if (foreignClientIssuer === 'refuse') throw new ImportError(`${notIssued}: the files come from different servers — ask your administrator for a matching set`, client.file);
    ctx.warnings.push(`${notIssued}: fine if the gateway's certificate comes from another CA than yours (as with Azure); if the connection fails, ask your administrator for a matching set`);
  }
  // Only the issuing CA must be in date: CA bundles often carry old roots openvpn ignores.
  for (const ca of issuer ? [issuer] : cas) checkValidity(ca.cert, 'ca', ca.display, ca.file, ctx.now, ctx.warnings);
  checkValidity(client.cert, 'client', client.display, client.file, ctx.now, ctx.warnings);
  return { cas, client, key: await loadKey(pool.keys[0]!, client, ctx) };
}

function notCa(c: CertIn): ImportError {
  return new ImportError(
    `${c.display} (${certLabel(c.cert)}) is not a CA certificate (basicConstraints CA:TRUE is missing), so it cannot vouch for the client certificate — ask your administrator for the CA certificate`,
    c.file,
  );
}

/** Loads (asking the passphrase if needed) and matches the key; returns the text to store. */
async function loadKey(k: KeyIn, client: CertIn, ctx: SettleContext): Promise<{ text: string; encrypted: boolean }> {
  let key: KeyObject;
  let text: string;
  let encrypted: boolean;
  if (k.p12) {
    key = k.p12.key;
    // Stored no weaker than it came: a passphrase-protected PKCS#12 gives an encrypted key.
    encrypted = k.p12.passphrase !== '';
    text = String(
      encrypted
        ? key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: k.p12.passphrase })
        : key.export({ type: 'pkcs8', format: 'pem' }),
    );
  } else {
    const pem = readPemKey(k.block!, k);
    let passphrase: string | undefined;
    if (pem.encrypted) {
      passphrase = ctx.askPassphrase ? await ctx.askPassphrase(k.display) : undefined;
      if (passphrase === undefined) {
        throw new ImportError(`the key ${k.display} is passphrase-protected; run the import from a terminal so Ferry can ask`, k.file);
      }
    }
    key = pem.open(passphrase);
    encrypted = pem.encrypted;
    // An encrypted key is kept encrypted (openvpn asks for its passphrase), as the bytes that
    // were checked; a plain one is normalised to PKCS#8, dropping whatever else shared its file.
    text = encrypted ? pem.text : String(key.export({ type: 'pkcs8', format: 'pem' }));
  }
  if (!keyMatches(client.cert, key)) {
    throw new ImportError(
      `${k.display} does not belong to the certificate in ${client.display} (${certLabel(client.cert)}) — import the key that was issued with this certificate`,
      k.file,
    );
  }
  return { text, encrypted };
}
