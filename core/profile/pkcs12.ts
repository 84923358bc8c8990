/**
 * PKCS#12 files (.p12/.pfx). node-forge decodes and decrypts them in pure JavaScript, and
 * every key it derives costs as many rounds as the file asks for: a 1 KiB file asking for
 * 2^31-1 would hold the import for hours. So the iteration counts are read from the ASN.1
 * and bounded before forge derives anything with them.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { parseCertificate } from './certificates.js';
import { integer, kids, oidOf } from './asn1.js';
import { algorithmWork, pbeWork } from './pbe.js';
import { openPrivateKey } from './key-type.js';
import { ImportError } from './pem.js';

/**
 * Most rounds one key derivation may ask for. Exporters write 1 (macOS Keychain's MAC),
 * 2000 (Windows), 2048 (OpenSSL 1.x and 3.x, macOS Keychain's encryption), 10,000 (Java
 * 12+), 20,000 (Python's cryptography): all pass. forge spends ~10 ms of CPU per 1000
 * PBKDF2-SHA256 rounds, so 20,000 is ~0.2 s. Firefox/NSS (600,000) and old Java 8 keystores
 * (50,000/100,000) are refused with advice to re-export.
 */
export const MAX_PKCS12_ITERATIONS = 20_000;
/** Most rounds for the whole file (MAC and every encrypted part): a file cannot add up many cheap bags. */
export const MAX_PKCS12_TOTAL_ITERATIONS = 50_000;

const REEXPORT = 'export it again with the default settings (or import the PEM files instead)';

export interface Pkcs12Contents {
  certs: X509Certificate[];
  key?: KeyObject;
  /** '' when the file had no passphrase. */
  passphrase: string;
}

/** forge's password-based-encryption module (untyped in @types/node-forge): every PBE key is derived in getCipher. */
interface ForgePbe {
  getCipher(oid: string, params: forge.asn1.Asn1, password: string): unknown;
}
const pbe = (forge.pki as unknown as { pbe: ForgePbe }).pbe;

/** Counts the rounds a file makes us derive, and refuses past the bounds. */
class Rounds {
  private total = 0n;

  constructor(
    private readonly display: string,
    private readonly file: string | undefined,
  ) {}

  spend(count: bigint | undefined): void {
    if (count === undefined) return;
    const refuse = (n: bigint, limit: number, scope: string) =>
      new ImportError(`${this.display} asks for ${n} key-derivation iterations${scope}; Ferry reads at most ${limit} — ${REEXPORT}`, this.file);
    if (count > BigInt(MAX_PKCS12_ITERATIONS)) throw refuse(count, MAX_PKCS12_ITERATIONS, '');
    this.total += count;
    if (this.total > BigInt(MAX_PKCS12_TOTAL_ITERATIONS)) throw refuse(this.total, MAX_PKCS12_TOTAL_ITERATIONS, ' in all');
  }
}

const Type = forge.asn1.Type;
const OIDS = forge.pki.oids;

/** An OCTET STRING's bytes, also when BER splits it into chunks (as forge accepts). */
function octets(node: forge.asn1.Asn1 | undefined): string | undefined {
  if (node?.type !== Type.OCTETSTRING) return undefined;
  return typeof node.value === 'string' ? node.value : kids(node).map((c) => (typeof c.value === 'string' ? c.value : '')).join('');
}

/** PFX { version, authSafe, MacData { mac, macSalt, iterations } }: any INTEGER in MacData counts, whatever its place. */
function spendMac(pfx: forge.asn1.Asn1, rounds: Rounds): void {
  for (const field of kids(kids(pfx)[2])) rounds.spend(integer(field));
}

/**
 * Every count readable without a passphrase: the MAC's and those of the encrypted parts
 * and key bags in the clear, so such a file is refused before anyone is asked anything.
 * (Counts inside encrypted parts are checked as forge reaches them: see guardedOpen.)
 */
function checkVisibleIterations(pfx: forge.asn1.Asn1, rounds: Rounds): void {
  spendMac(pfx, rounds);
  const authSafe = kids(pfx)[1];
  let contentInfos: forge.asn1.Asn1[];
  try {
    contentInfos = kids(forge.asn1.fromDer(octets(kids(kids(authSafe)[1])[0]) ?? ''));
  } catch {
    return; // forge refuses it as damaged before deriving anything
  }
  for (const info of contentInfos) {
    const [type, wrapper] = kids(info);
    const body = kids(wrapper)[0];
    if (oidOf(type) === OIDS['encryptedData']) {
      // EncryptedData { version, EncryptedContentInfo { contentType, algorithm, … } }
      rounds.spend(algorithmWork(kids(kids(body)[1])[1]));
    } else if (oidOf(type) === OIDS['data']) {
      let bags: forge.asn1.Asn1[];
      try {
        bags = kids(forge.asn1.fromDer(octets(body) ?? ''));
      } catch {
        continue;
      }
      for (const bag of bags) {
        // SafeBag { pkcs8ShroudedKeyBag, [0] EncryptedPrivateKeyInfo { algorithm, data } }
        if (oidOf(kids(bag)[0]) === OIDS['pkcs8ShroudedKeyBag']) rounds.spend(algorithmWork(kids(kids(kids(bag)[1])[0])[0]));
      }
    }
  }
}

/**
 * forge.pkcs12FromAsn1 with every password-based key derivation it makes checked first. A
 * key bag can sit inside an encrypted part, where no one can read its count before
 * decrypting that part, so the check sits in forge's one door to them (pbe.getCipher),
 * put in for this synchronous call only and put back whatever happens.
 */
function guardedOpen(pfx: forge.asn1.Asn1, passphrase: string, rounds: Rounds): forge.pkcs12.Pkcs12Pfx {
  const getCipher = pbe.getCipher;
  pbe.getCipher = (oid, params, password) => {
    rounds.spend(pbeWork(oid, params));
    return getCipher.call(pbe, oid, params, password);
  };
  try {
    return forge.pkcs12.pkcs12FromAsn1(pfx, true, passphrase);
  } finally {
    pbe.getCipher = getCipher;
  }
}

/** Does this binary look like a DER PKCS#12 (PFX: SEQUENCE { INTEGER 3, … })? */
export function isPkcs12(data: Uint8Array): boolean {
  try {
    const pfx = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(data).toString('binary')));
    const first = Array.isArray(pfx.value) ? pfx.value[0] : undefined;
    return first?.type === forge.asn1.Type.INTEGER && first.value === '\u0003';
  } catch {
    return false;
  }
}

/**
 * Opens a PKCS#12 file: an empty passphrase first (exports without one exist), then
 * `ask`. node-forge only decodes and decrypts; certificates and keys go to Node as DER,
 * since forge itself understands neither EC certificates nor EC keys.
 */
export async function readPkcs12(
  data: Uint8Array,
  display: string,
  file: string | undefined,
  ask: ((file: string) => Promise<string | undefined>) | undefined,
): Promise<Pkcs12Contents> {
  let pfx: forge.asn1.Asn1;
  try {
    pfx = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(data).toString('binary')));
  } catch {
    throw new ImportError(`${display} is not a valid PKCS#12 file (it is damaged or not a .p12 at all) — export it again`, file);
  }
  checkVisibleIterations(pfx, new Rounds(display, file));
  let passphrase = '';
  let p12 = tryOpen(pfx, passphrase, display, file);
  if (!p12) {
    const asked = ask ? await ask(display) : undefined;
    if (asked === undefined) {
      throw new ImportError(`the PKCS#12 file ${display} is passphrase-protected; run the import from a terminal so Ferry can ask`, file);
    }
    passphrase = asked;
    p12 = tryOpen(pfx, passphrase, display, file);
    if (!p12) throw new ImportError(`wrong passphrase for ${display} — run the import again and type the passphrase of this file`, file);
  }

  const certs: X509Certificate[] = [];
  const keyBags: forge.asn1.Asn1[] = [];
  try {
    for (const safe of p12.safeContents) {
      for (const bag of safe.safeBags) {
        const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
        if (bag.type === forge.pki.oids.certBag) {
          const asn = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : raw.asn1;
          if (asn) certs.push(parseCertificate(der(asn), display, file));
        } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
          const asn = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : raw.asn1;
          if (asn) keyBags.push(asn);
        }
      }
    }
  } catch (err) {
    if (err instanceof ImportError) throw err;
    throw new ImportError(`${display}: a certificate or key inside cannot be read — export the PKCS#12 file again`, file);
  }
  if (keyBags.length > 1) throw new ImportError(`${display} holds ${keyBags.length} private keys — export only your VPN certificate and its key`, file);
  // Its type and size are checked before Node loads it (key-type.ts): OpenSSL does costly work on some.
  const key = keyBags[0] && openPrivateKey(der(keyBags[0]), 'pkcs8', { display, file });
  return { certs, passphrase, ...(key ? { key } : {}) };
}

/** undefined = wrong passphrase; any other failure is a file Ferry cannot read. Each attempt has its own round budget. */
function tryOpen(pfx: forge.asn1.Asn1, passphrase: string, display: string, file: string | undefined): forge.pkcs12.Pkcs12Pfx | undefined {
  const rounds = new Rounds(display, file);
  spendMac(pfx, rounds);
  try {
    return guardedOpen(pfx, passphrase, rounds);
  } catch (err) {
    if (err instanceof ImportError) throw err;
    if (/password|decrypt|Too few bytes|invalid/i.test((err as Error).message)) return undefined;
    throw new ImportError(`${display} uses a PKCS#12 format Ferry cannot read — export it again with current settings (AES-256, SHA-256)`, file);
  }
}

function der(asn: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary');
}
