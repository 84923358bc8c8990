import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCrl, createCa, issueCertificate, loadCa, CERT_VALIDITY_DAYS, type CertificateAuthority } from '../../server/pki.js';
import { tempDir } from '../support/cli.js';

const DAY = 86_400_000;

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function ext<T extends x509.Extension>(cert: x509.X509Certificate, type: new (...args: never[]) => T): T {
  const found = cert.getExtension(type as unknown as { new (raw: ArrayBuffer): T });
  if (!found) throw new Error(`missing ${type.name}`);
  return found;
}

describe.each(['ec', 'rsa2048'] as const)('PKI with %s keys', (keyType) => {
  let dir: string;
  let ca: CertificateAuthority;
  let caCert: x509.X509Certificate;
  let server: x509.X509Certificate;
  let client: x509.X509Certificate;

  beforeAll(async () => {
    dir = await tempDir();
    const caPair = await createCa('Ferry CA (test)', keyType);
    ca = await loadCa(caPair.certPem, caPair.keyPem);
    caCert = new x509.X509Certificate(caPair.certPem);
    const s = await issueCertificate({ kind: 'server', commonName: 'gw', keyType, ca });
    const c = await issueCertificate({ kind: 'client', commonName: 'alice', keyType, ca });
    server = new x509.X509Certificate(s.certPem);
    client = new x509.X509Certificate(c.certPem);
    writeFileSync(path.join(dir, 'ca.crt'), caPair.certPem);
    writeFileSync(path.join(dir, 'server.crt'), s.certPem);
    writeFileSync(path.join(dir, 'client.crt'), c.certPem);
    writeFileSync(path.join(dir, 'client.key'), c.keyPem);
  });

  it('CA: critical CA:TRUE, keyCertSign+cRLSign, SKI = AKI, 20 years', () => {
    const bc = ext(caCert, x509.BasicConstraintsExtension);
    expect(bc.ca).toBe(true);
    expect(bc.critical).toBe(true);
    const ku = ext(caCert, x509.KeyUsagesExtension);
    expect(ku.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(ku.critical).toBe(true);
    expect(ext(caCert, x509.AuthorityKeyIdentifierExtension).keyId).toBe(ext(caCert, x509.SubjectKeyIdentifierExtension).keyId);
    const years = (caCert.notAfter.getTime() - caCert.notBefore.getTime()) / (365 * DAY);
    expect(years).toBeGreaterThan(19.99);
  });

  it('server: CA:FALSE, digitalSignature+keyEncipherment, serverAuth, AKI = CA SKI', () => {
    expect(ext(server, x509.BasicConstraintsExtension).ca).toBe(false);
    expect(ext(server, x509.KeyUsagesExtension).usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(ext(server, x509.ExtendedKeyUsageExtension).usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(ext(server, x509.AuthorityKeyIdentifierExtension).keyId).toBe(ext(caCert, x509.SubjectKeyIdentifierExtension).keyId);
    expect(ext(server, x509.SubjectKeyIdentifierExtension).keyId).toBeTruthy();
  });

  it('client: CA:FALSE, digitalSignature, clientAuth, CN = account, 10 years, random 128+ bit serial', () => {
    expect(ext(client, x509.BasicConstraintsExtension).ca).toBe(false);
    expect(ext(client, x509.KeyUsagesExtension).usages & x509.KeyUsageFlags.digitalSignature).toBeTruthy();
    expect(ext(client, x509.ExtendedKeyUsageExtension).usages).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    expect(client.subject).toBe('CN=alice');
    expect(Math.round((client.notAfter.getTime() - client.notBefore.getTime()) / DAY)).toBe(CERT_VALIDITY_DAYS);
    expect(BigInt(`0x${client.serialNumber}`) >= 2n ** 128n).toBe(true);
    expect(client.serialNumber).not.toBe(server.serialNumber);
  });

  it('passes openssl verify with the right purpose, and the key matches', () => {
    const ca = path.join(dir, 'ca.crt');
    expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslclient', path.join(dir, 'client.crt')])).toMatch(/: OK/);
    expect(openssl(['verify', '-CAfile', ca, '-purpose', 'sslserver', path.join(dir, 'server.crt')])).toMatch(/: OK/);
    expect(() => openssl(['verify', '-CAfile', ca, '-purpose', 'sslserver', path.join(dir, 'client.crt')])).toThrow();
    const certKey = openssl(['x509', '-in', path.join(dir, 'client.crt'), '-noout', '-pubkey']);
    const keyKey = openssl(['pkey', '-in', path.join(dir, 'client.key'), '-pubout']);
    expect(keyKey).toBe(certKey);
  });

  it('never issues beyond the CA expiry', async () => {
    const late = new Date(caCert.notAfter.getTime() - 30 * DAY);
    const cert = await issueCertificate({ kind: 'client', commonName: 'late', keyType, ca, now: late });
    expect(cert.notAfter.getTime()).toBe(caCert.notAfter.getTime());
  });

  it('CRL: signed v2 with number, parses with openssl crl and lists the revoked serial', async () => {
    const { pem, nextUpdate } = await buildCrl({ ca, crlNumber: 7, entries: [{ serialHex: client.serialNumber, revokedAt: new Date() }] });
    const crlFile = path.join(dir, 'crl.pem');
    writeFileSync(crlFile, pem);
    const text = openssl(['crl', '-in', crlFile, '-CAfile', path.join(dir, 'ca.crt'), '-text', '-noout']);
    expect(text).toMatch(/X509v3 CRL Number:\s*\n\s*7/);
    expect(text.toUpperCase().replace(/:/g, '')).toContain(client.serialNumber.toUpperCase());
    expect(nextUpdate.getTime() - Date.now()).toBeGreaterThan(9 * 365 * DAY);
    expect(openssl(['crl', '-in', crlFile, '-CAfile', path.join(dir, 'ca.crt'), '-noout'])).toBe('');
    // openssl verify with CRL checking refuses the revoked client and accepts the server
    const both = path.join(dir, 'ca+crl.pem');
    writeFileSync(both, caCert.toString('pem') + '\n' + pem);
    expect(() => openssl(['verify', '-crl_check', '-CAfile', both, path.join(dir, 'client.crt')])).toThrow(/revoked/);
    expect(openssl(['verify', '-crl_check', '-CAfile', both, path.join(dir, 'server.crt')])).toMatch(/OK/);
  });
});
