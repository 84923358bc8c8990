/**
 * Valid inputs the fuzzer starts from, one of each kind `ferry import` takes: the three
 * PEM files (plain, with an encrypted key, with a two-CA bundle), one combined PEM file, an .ovpn with
 * everything inline and <connection> blocks, an .ovpn naming files beside it, bundle
 * .zips, PKCS#12 files. Made fresh by the import fixtures (nothing secret is committed),
 * so a seed replays the same mutations, not the same key bytes: a failing input is saved.
 */
import { strToU8, zipSync } from 'fflate';
import { encryptKey, inline, makeCa, makeClient, makePkcs12, staticKey } from '../fixtures/import/generate.js';

/** The passphrase of every encrypted seed; the fuzzer answers it when asked. */
export const PASSPHRASE = 'fuzz pass';

export interface Seed {
  name: string;
  /** File name → content; importFiles gets them all, in this order. */
  files: Record<string, Buffer>;
  /** PEM and PKCS#12 inputs do not say where the gateway is. */
  needsGateway: boolean;
}

const text = (s: string) => Buffer.from(s);

function ovpn(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

export async function buildCorpus(): Promise<Seed[]> {
  const ca = await makeCa({ cn: 'Fuzz CA' });
  const client = await makeClient(ca, { cn: 'fuzzy' });
  const rsaCa = await makeCa({ cn: 'Fuzz RSA CA', kind: 'rsa' });
  const rsaClient = await makeClient(rsaCa, { cn: 'rsa-fuzzy', kind: 'rsa' });

  const profileHead = [
    '# Ferry profile for account "fuzzy"',
    'client',
    'dev tun',
    'proto udp',
    'remote vpn.example.com 1194',
    '<connection>',
    'remote a.example.com 443 tcp',
    '</connection>',
    '<connection>',
    'remote 198.18.0.1',
    'port 1195',
    '</connection>',
    'remote-cert-tls server',
    'cipher AES-256-GCM',
    'data-ciphers "AES-256-GCM:AES-128-GCM"',
    'auth SHA256',
    'verify-x509-name \'Fuzz server\' name',
    'auth-user-pass',
    'static-challenge "Enter the code" 1',
    'setenv opt block-outside-dns',
    'ignore-unknown-option foo bar',
    'keepalive 10 60',
    'pull-filter ignore "route"',
    'redirect-gateway def1 bypass-dhcp',
    '; a comment',
    'key-direction 1',
  ];
  const inlineProfile = ovpn([
    ...profileHead,
    inline('ca', ca.certPem),
    inline('cert', client.certPem),
    inline('key', client.keyPem),
    inline('tls-auth', staticKey()),
  ]);
  const pemEntries = { 'ca.crt': strToU8(ca.certPem), 'client.crt': strToU8(client.certPem), 'client.key': strToU8(client.keyPem) };

  return [
    { name: 'pem-three', files: { 'ca.crt': text(ca.certPem), 'client.crt': text(client.certPem), 'client.key': text(client.keyPem) }, needsGateway: true },
    {
      name: 'pem-encrypted-key',
      files: { 'ca.crt': text(rsaCa.certPem), 'client.crt': text(rsaClient.certPem), 'client.key': text(encryptKey(rsaClient.keyPem, PASSPHRASE)) },
      needsGateway: true,
    },
    // An old root beside the issuing CA, as CA bundles carry: the extra CA is summarised too.
    { name: 'pem-ca-bundle', files: { 'ca.crt': text(`${rsaCa.certPem}${ca.certPem}`), 'client.crt': text(client.certPem), 'client.key': text(client.keyPem) }, needsGateway: true },
    {
      name: 'pem-combined',
      files: { 'all.pem': text(`Bag Attributes\n    friendlyName: fuzzy\n${client.certPem}\n${ca.certPem}-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n${client.keyPem}`) },
      needsGateway: true,
    },
    { name: 'ovpn-inline', files: { 'fuzzy.ovpn': text(inlineProfile) }, needsGateway: false },
    {
      name: 'ovpn-files',
      files: {
        'fuzzy.ovpn': text(ovpn([...profileHead, 'ca ca.crt', 'cert client.crt', 'key "client.key"', 'tls-crypt ta.key'])),
        'ca.crt': text(ca.certPem),
        'client.crt': text(client.certPem),
        'client.key': text(client.keyPem),
        'ta.key': text(staticKey(9)),
      },
      needsGateway: false,
    },
    { name: 'zip-bundle', files: { 'fuzzy.zip': Buffer.from(zipSync({ ...pemEntries, 'fuzzy.ovpn': strToU8(inlineProfile) })) }, needsGateway: false },
    { name: 'zip-pem', files: { 'pems.zip': Buffer.from(zipSync(pemEntries, { level: 0 })) }, needsGateway: true },
    { name: 'p12-passphrase', files: { 'id.p12': makePkcs12(rsaClient, [rsaCa], PASSPHRASE) }, needsGateway: true },
    { name: 'p12-open', files: { 'id.pfx': makePkcs12(rsaClient, [rsaCa], '') }, needsGateway: true },
  ];
}
