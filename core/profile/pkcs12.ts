/**
 * PKCS#12 files (.p12/.pfx), read with node-forge: it decodes and decrypts them; the
 * certificates and keys then go to Node.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { ImportError } from './pem.js';

export interface Pkcs12Contents {
  certs: X509Certificate[];
  key?: KeyObject;
  /** '' when the file had no passphrase. */
  passphrase: string;
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
  const keys: KeyObject[] = [];
  try {
    for (const safe of p12.safeContents) {
      for (const bag of safe.safeBags) {
        const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 };
        if (bag.type === forge.pki.oids.certBag) {
          const asn = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : raw.asn1;
          if (asn) certs.push(new X509Certificate(der(asn)));
        } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
          const asn = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : raw.asn1;
          if (asn) keys.push(createPrivateKey({ key: der(asn), format: 'der', type: 'pkcs8' }));
        }
      }
    }
  } catch {
    throw new ImportError(`${display}: a certificate or key inside cannot be read — export the PKCS#12 file again`, file);
  }
  if (keys.length > 1) throw new ImportError(`${display} holds ${keys.length} private keys — export only your VPN certificate and its key`, file);
  return { certs, passphrase, ...(keys[0] ? { key: keys[0] } : {}) };
}

/** undefined = wrong passphrase; any other failure is a file Ferry cannot read. */
function tryOpen(pfx: forge.asn1.Asn1, passphrase: string, display: string, file: string | undefined): forge.pkcs12.Pkcs12Pfx | undefined {
  try {
    return forge.pkcs12.pkcs12FromAsn1(pfx, true, passphrase);
  } catch (err) {
    if (/password|decrypt|Too few bytes|invalid/i.test((err as Error).message)) return undefined;
    throw new ImportError(`${display} uses a PKCS#12 format Ferry cannot read — export it again with current settings (AES-256, SHA-256)`, file);
  }
}

function der(asn: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn).getBytes(), 'binary');
}
