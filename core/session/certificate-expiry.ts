/** The client certificate's own expiry, checked before connecting (the seed's FAQ 4.2: "expired certificate"). */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { failure, type Failure } from './failures.js';

/**
 * An expired client certificate fails here, with its date, instead of as a TLS error
 * later; one that cannot be read fails too (the profile's file is damaged).
 */
export async function ownCertificateProblem(certPath: string | undefined, now: number): Promise<Failure | undefined> {
  if (!certPath) return undefined;
  let notAfter: Date;
  try {
    notAfter = new Date(new X509Certificate(await readFile(certPath)).validTo);
  } catch (err) {
    return failure('config', 'cert-unreadable-local', { error: (err as Error).message.split('\n')[0] ?? String(err) });
  }
  if (notAfter.getTime() >= now) return undefined;
  return failure('cert-expired', 'cert-expired-local', { date: notAfter.toISOString().slice(0, 10) });
}
