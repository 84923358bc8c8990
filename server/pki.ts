/**
 * Certificate authority for one gateway: CA, server and client certificates and the CRL.
 * Certificates are built with @peculiar/x509 on Node's WebCrypto. The CRL is assembled
 * with @peculiar/asn1-x509 directly because X509CrlGenerator checks for duplicate serials
 * with a linear scan per entry (10,000 entries took 6 s); our index already guarantees
 * uniqueness, and this way it takes a few hundred milliseconds.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1 from '@peculiar/asn1-x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { createPrivateKey, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type Algorithm = webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams | webcrypto.EcdsaParams | webcrypto.RsaHashedImportParams;
import type { KeyType } from './settings.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);
const subtle = webcrypto.subtle;

const DAY_MS = 86_400_000;
export const CA_VALIDITY_DAYS = 20 * 365;
export const CERT_VALIDITY_DAYS = 10 * 365; // the seed's default for client certificates
export const CRL_VALIDITY_DAYS = 10 * 365;
/** Tolerate a client whose clock is a little behind ours. */
const BACKDATE_MS = 5 * 60_000;

function keyAlgorithm(type: KeyType): Algorithm {
  switch (type) {
    case 'ec':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'rsa2048':
    case 'rsa3072':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        hash: 'SHA-256',
        modulusLength: type === 'rsa2048' ? 2048 : 3072,
        publicExponent: new Uint8Array([1, 0, 1]),
      };
  }
}

/** What the issuer signs with: follows the CA key, whatever the subject's key is. */
function signingAlgorithm(key: CryptoKey): Algorithm {
  return key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** Random positive 20-octet serial (RFC 5280's maximum) carrying 158 random bits. */
export function randomSerialHex(): string {
  const bytes = randomBytes(20);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, and never a leading zero octet to strip
  return bytes.toString('hex');
}

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
  serialHex: string;
  notAfter: Date;
}

export interface CertificateAuthority {
  cert: x509.X509Certificate;
  certPem: string;
  signingKey: CryptoKey;
  /** The same key as a Node KeyObject, for the hand-assembled CRL. */
  keyObject: KeyObject;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return toPem(der, 'PRIVATE KEY');
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

export async function createCa(commonName: string, keyType: KeyType, now = new Date()): Promise<KeyAndCert> {
  const keys = (await subtle.generateKey(keyAlgorithm(keyType), true, ['sign', 'verify'])) as CryptoKeyPair;
  const serialHex = randomSerialHex();
  const notAfter = new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialHex,
    name: [{ CN: [commonName] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    keys,
    signingAlgorithm: signingAlgorithm(keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), serialHex, notAfter };
}

export async function loadCa(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(certPem);
  const keyObject = createPrivateKey(keyPem);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const algorithm =
    keyObject.asymmetricKeyType === 'ec'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const signingKey = await subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
  return { cert, certPem, signingKey, keyObject };
}

export interface IssueRequest {
  kind: 'server' | 'client';
  commonName: string;
  keyType: KeyType;
  ca: CertificateAuthority;
  now?: Date;
}

/** Issues a leaf certificate with a fresh key; never valid beyond the CA itself. */
export async function issueCertificate(req: IssueRequest): Promise<KeyAndCert> {
  const now = req.now ?? new Date();
  const keys = (await subtle.generateKey(keyAlgorithm(req.keyType), true, ['sign', 'verify'])) as CryptoKeyPair;
  const serialHex = randomSerialHex();
  const wanted = now.getTime() + CERT_VALIDITY_DAYS * DAY_MS;
  const notAfter = new Date(Math.min(wanted, req.ca.cert.notAfter.getTime()));
  const usage =
    req.kind === 'server'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: [{ CN: [req.commonName] }],
    issuer: req.ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: req.ca.signingKey,
    signingAlgorithm: signingAlgorithm(req.ca.signingKey),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([req.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(req.ca.cert.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await exportKeyPem(keys.privateKey), serialHex, notAfter };
}

export interface RevokedEntry {
  serialHex: string;
  revokedAt: Date;
}

export interface CrlRequest {
  ca: CertificateAuthority;
  entries: readonly RevokedEntry[];
  crlNumber: number;
  now?: Date;
}

/** A signed v2 CRL (with CRL number and authority key id) as PEM. */
export async function buildCrl(req: CrlRequest): Promise<{ pem: string; nextUpdate: Date }> {
  const now = req.now ?? new Date();
  const caAsn = AsnConvert.parse(req.ca.cert.rawData, asn1.Certificate);
  const nextUpdate = new Date(Math.min(now.getTime() + CRL_VALIDITY_DAYS * DAY_MS, req.ca.cert.notAfter.getTime()));
  const aki = await x509.AuthorityKeyIdentifierExtension.create(req.ca.cert.publicKey);
  const tbs = new asn1.TBSCertList({
    version: asn1.Version.v2,
    signature: caAsn.signatureAlgorithm,
    issuer: caAsn.tbsCertificate.subject,
    thisUpdate: new asn1.Time(new Date(now.getTime() - BACKDATE_MS)),
    nextUpdate: new asn1.Time(nextUpdate),
    crlExtensions: new asn1.Extensions([
      AsnConvert.parse(aki.rawData, asn1.Extension),
      new asn1.Extension({
        extnID: asn1.id_ce_cRLNumber,
        critical: false,
        extnValue: new OctetString(AsnConvert.serialize(new asn1.CRLNumber(req.crlNumber))),
      }),
    ]),
  });
  if (req.entries.length > 0) {
    tbs.revokedCertificates = req.entries.map(
      (e) =>
        new asn1.RevokedCertificate({
          userCertificate: arrayBuffer(Buffer.from(e.serialHex, 'hex')),
          revocationDate: new asn1.Time(e.revokedAt),
        }),
    );
  }
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature =
    req.ca.keyObject.asymmetricKeyType === 'ec'
      ? sign('sha256', tbsDer, { key: req.ca.keyObject, dsaEncoding: 'der' })
      : sign('sha256', tbsDer, req.ca.keyObject);
  const crl = new asn1.CertificateList({
    tbsCertList: tbs,
    signatureAlgorithm: caAsn.signatureAlgorithm,
    signature: arrayBuffer(signature),
  });
  return { pem: toPem(Buffer.from(AsnConvert.serialize(crl)), 'X509 CRL'), nextUpdate };
}

function arrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer;
}
