/** The helper's closed command set, as a schema: what it refuses before acting. */
import { describe, expect, it } from 'vitest';
import { HelperRequestSchema, isPemOf } from '../../core/engine/helper-protocol.js';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2Vy\ndGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
const spec = { remotes: [{ host: 'vpn.example.com', port: 1194, proto: 'udp' }], engine: { dev: 'tun', remoteCertTls: 'server' }, passwordRequired: true, guiVersion: 'Ferry 0.1.0' };
const start = (over: Record<string, unknown> = {}) => ({ op: 'start', label: 'office-1a2b', spec, files: { ca: CERT }, ...over });

describe('helper requests', () => {
  it('accepts a well-formed start, and each simple command', () => {
    expect(HelperRequestSchema.safeParse(start()).success).toBe(true);
    const kept = [{ name: 'ns-cert-type', args: ['server'] }, { name: 'allow-compression', args: ['yes'] }, { name: 'reneg-sec', args: ['604800'] }];
    expect(HelperRequestSchema.safeParse(start({ spec: { ...spec, engine: { dev: 'tun', directives: kept } } })).success).toBe(true);
    for (const r of [{ op: 'list' }, { op: 'status' }, { op: 'watch', id: '0123456789abcdef' }, { op: 'stop', id: '0123456789abcdef', signal: 'SIGKILL' }]) {
      expect(HelperRequestSchema.safeParse(r).success).toBe(true);
    }
  });

  it.each([
    ['an unknown command', { op: 'exec', command: 'id' }],
    ['a field the protocol does not have', start({ config: 'up /bin/sh' })],
    ['a management socket of the caller’s choosing', start({ spec: { ...spec, managementSocket: '/tmp/m.sock' } })],
    ['file paths instead of contents', start({ files: { ca: '/etc/shadow' } })],
    ['a directive after a certificate', start({ files: { ca: `${CERT}script-security 3\n` } })],
    ['a private key where the CA goes', start({ files: { ca: CERT.replace(/CERTIFICATE/g, 'PRIVATE KEY') } })],
    ['a newline in a host', start({ spec: { ...spec, remotes: [{ host: 'vpn.example.com\nup /bin/sh', port: 1194, proto: 'udp' }] } })],
    ['a port out of range', start({ spec: { ...spec, remotes: [{ host: 'vpn.example.com', port: 0, proto: 'udp' }] } })],
    ['an engine option outside the allowlist', start({ spec: { ...spec, engine: { ...spec.engine, up: '/bin/sh' } } })],
    ['a directive the option table does not keep', start({ spec: { ...spec, engine: { ...spec.engine, directives: [{ name: 'up', args: ['/bin/sh'] }] } } })],
    ['a directive argument that ends the line', start({ spec: { ...spec, engine: { ...spec.engine, directives: [{ name: 'tls-ciphersuites', args: ['TLS_AES_256_GCM_SHA384\nup /bin/sh'] }] } } })],
    ['a directive value the table refuses', start({ spec: { ...spec, engine: { ...spec.engine, directives: [{ name: 'cipher', args: ['none'] }] } } })],
    ['a directive with a field the protocol does not have', start({ spec: { ...spec, engine: { ...spec.engine, directives: [{ name: 'float', args: [], raw: 'up /bin/sh' }] } } })],
    ['more directives than any profile holds', start({ spec: { ...spec, engine: { ...spec.engine, directives: Array(2001).fill({ name: 'float', args: [] }) } } })],
    ['a label that is a path', start({ label: '../../etc' })],
    ['a signal other than TERM or KILL', { op: 'stop', id: '0123456789abcdef', signal: 'SIGSTOP' }],
    ['a session id that is not ours to format', { op: 'watch', id: '../x' }],
  ])('refuses %s', (_what, request) => {
    expect(HelperRequestSchema.safeParse(request).success).toBe(false);
  });
});

describe('isPemOf', () => {
  it('accepts blocks of the given kind, with comment lines between them', () => {
    expect(isPemOf(`${CERT}${CERT}`, ['CERTIFICATE'])).toBe(true);
    expect(isPemOf(`#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n0123abcd\n-----END OpenVPN Static key V1-----\n`, ['OpenVPN Static key V1'])).toBe(true);
  });

  it('refuses anything else, and stays linear on hostile input', () => {
    expect(isPemOf('', ['CERTIFICATE'])).toBe(false);
    expect(isPemOf(CERT.replace('-----END CERTIFICATE-----\n', ''), ['CERTIFICATE'])).toBe(false);
    expect(isPemOf(`${CERT}remote evil.example\n`, ['CERTIFICATE'])).toBe(false);
    expect(isPemOf(`-----BEGIN CERTIFICATE-----\n${'A'.repeat(60_000)}`, ['CERTIFICATE'])).toBe(false);
    expect(isPemOf(`-----BEGIN CERTIFICATE-----\n${'-'.repeat(60_000)}\n`, ['CERTIFICATE'])).toBe(false);
  });
});
