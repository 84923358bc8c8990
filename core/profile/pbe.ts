/**
 * Password-based encryption parameters read straight from the ASN.1 (with node-forge's
 * DER reader), so the work a PKCS#12 file (pkcs12.ts) asks for can be bounded before
 * forge derives a key with it.
 */
import forge from 'node-forge';
import { integer, kids, oidOf } from './asn1.js';

const SCRYPT = '1.3.6.1.4.1.11591.4.11';

/**
 * The work a password-based-encryption algorithm asks for: PBKDF2's iteration count,
 * scrypt's N·r·p, the iterations of PKCS#12's and PKCS#5 v1's schemes. undefined when the
 * parameters are not there to read (the decoder then refuses them without deriving).
 */
export function pbeWork(oid: string, params: forge.asn1.Asn1 | undefined): bigint | undefined {
  if (oid === forge.pki.oids['pkcs5PBES2']) {
    // PBES2 { keyDerivationFunc { oid, params }, encryptionScheme }
    const kdf = kids(params)[0];
    const kdfParams = kids(kids(kdf)[1]);
    if (oidOf(kids(kdf)[0]) === SCRYPT) {
      // scrypt-params { salt, costParameter N, blockSize r, parallelizationParameter p, … }
      const [n, r, p] = [integer(kdfParams[1]), integer(kdfParams[2]), integer(kdfParams[3])];
      return n !== undefined && r !== undefined && p !== undefined ? n * r * p : undefined;
    }
    // PBKDF2-params { salt, iterationCount, … }
    return integer(kdfParams[1]);
  }
  // pkcs-12PbeParams and PKCS#5 v1 PBEParameter: { salt, iterations }
  return integer(kids(params)[1]);
}

/** pbeWork of an AlgorithmIdentifier { oid, params }. */
export function algorithmWork(algorithm: forge.asn1.Asn1 | undefined): bigint | undefined {
  const oid = oidOf(kids(algorithm)[0]);
  return oid ? pbeWork(oid, kids(algorithm)[1]) : undefined;
}
