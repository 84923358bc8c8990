/**
 * Issue 11's three kinds of import failures, each against the config Ferry then writes:
 * a harmless option refused, an option rewritten into a stricter check, an option the
 * server relies on dropped. Plus: what Ferry leaves out is said (a notice naming the line),
 * and what it refuses names the directive, its line and the reason or the replacement.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientConfig, type EngineSpec } from '../../core/engine/config.js';
import { importFiles, type ImportOptions } from '../../core/profile/import.js';
import { tokenizeLine } from '../../core/profile/ovpn.js';
import { tempDir } from '../support/cli.js';
import { NOW, inline, makeCa, makeClient, writeFiles, type Identity } from '../fixtures/import/generate.js';
import { refusal } from '../fixtures/import/refusal.js';
import { rm } from 'node:fs/promises';

const OPTS = { now: NOW } satisfies ImportOptions;

let ca: Identity;
let client: Identity;
let dir: string;
let counter = 0;

beforeAll(async () => {
  ca = await makeCa({ cn: 'Policy CA' });
  client = await makeClient(ca, { cn: 'alice' });
  dir = await tempDir('ferry-policy-');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Lines 1-3 are fixed, so the first extra line is line 4. */
function profile(extra: string[]): string {
  return ['client', 'dev tun', 'remote vpn.example.com 1194 udp', ...extra, inline('ca', ca.certPem), inline('cert', client.certPem), inline('key', client.keyPem), ''].join('\n');
}

async function importText(text: string) {
  const [ovpn] = await writeFiles(path.join(dir, `case-${++counter}`), { 'profile.ovpn': text });
  return importFiles([ovpn!], OPTS);
}

/** The openvpn config Ferry writes for an imported profile, as openvpn tokenises it. */
async function built(extra: string[]): Promise<string[][]> {
  const { draft } = await importText(profile(extra));
  const spec: EngineSpec = {
    remotes: draft.remotes,
    engine: draft.engine,
    passwordRequired: draft.passwordRequired,
    files: { ca: '/p/ca.crt', cert: '/p/client.crt', key: '/p/client.key' },
    managementSocket: '/run/ferry/m.sock',
    guiVersion: 'Ferry test',
  };
  return buildClientConfig(spec)
    .split('\n')
    .map((line, i) => tokenizeLine(line, i + 1, 'built.conf'))
    .filter((words) => words.length > 0);
}

const lines = (config: string[][], name: string) => config.filter((d) => d[0] === name).map((d) => d.join(' '));

describe('kind 1: harmless options are kept, not refused', () => {
  it('tls-ciphersuites (only narrows the TLS 1.3 suites) reaches the config as written', async () => {
    const config = await built(['tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256']);
    expect(lines(config, 'tls-ciphersuites')).toEqual(['tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256']);
  });

  it.each([
    // OpenVPN Access Server's profiles renegotiate weekly.
    ['reneg-sec 604800', 'reneg-sec 604800'],
    // openvpn itself bounds reneg-sec only by a non-negative int: a 30-day period is its to allow.
    ['reneg-sec 2592000', 'reneg-sec 2592000'],
    // The second value (the minimum, for randomised renegotiation) is kept too.
    ['reneg-sec 3600 1800', 'reneg-sec 3600 1800'],
  ])('%s is written exactly', async (line, written) => {
    expect(lines(await built([line]), 'reneg-sec')).toEqual([written]);
  });
});

describe('kind 2: an option openvpn 2.6 still honours is never rewritten into a different check', () => {
  it('ns-cert-type server stays ns-cert-type (remote-cert-tls needs key usages old server certificates lack)', async () => {
    const config = await built(['ns-cert-type server']);
    expect(lines(config, 'ns-cert-type')).toEqual(['ns-cert-type server']);
    expect(lines(config, 'remote-cert-tls')).toEqual([]);
  });

  it('remote-cert-eku and remote-cert-ku are written as the profile gives them', async () => {
    const config = await built(['remote-cert-eku "TLS Web Server Authentication"', 'remote-cert-ku a0 88']);
    expect(lines(config, 'remote-cert-eku')).toEqual(['remote-cert-eku TLS Web Server Authentication']);
    expect(lines(config, 'remote-cert-ku')).toEqual(['remote-cert-ku a0 88']);
    expect(lines(config, 'remote-cert-tls')).toEqual([]);
  });

  it.each([
    ['verify-x509-name vpn-gw name-prefix'],
    ['tls-cert-profile legacy'],
    ['compat-mode 2.4.0'],
    ['remote-random-hostname'],
    ['key-direction 1'],
    ['data-ciphers AES-256-GCM:?CHACHA20-POLY1305:AES-128-CBC'],
    ['cipher AES-256-CBC'],
    ['mssfix 1400 mtu'],
    ['fragment 1300 mtu'],
    ['ping 10'],
  ])('%s reaches the config exactly', async (line) => {
    const name = line.split(' ')[0]!;
    expect(lines(await built([line]), name)).toEqual([line]);
  });

  it('a legacy cipher is not appended to data-ciphers behind the profile\'s back', async () => {
    const config = await built(['cipher AES-256-CBC']);
    expect(lines(config, 'data-ciphers')).toEqual([]);
    expect(lines(config, 'data-ciphers-fallback')).toEqual([]);
  });
});

describe('kind 3: an option the server relies on is not dropped', () => {
  it.each(['yes', 'asym', 'no'])('allow-compression %s reaches the config', async (mode) => {
    expect(lines(await built([`allow-compression ${mode}`]), 'allow-compression')).toEqual([`allow-compression ${mode}`]);
  });

  it('Ferry adds no allow-compression of its own: compression options alone mean what they mean to openvpn', async () => {
    const config = await built(['compress lz4-v2']);
    expect(lines(config, 'compress')).toEqual(['compress lz4-v2']);
    expect(lines(config, 'allow-compression')).toEqual([]);
    const both = await built(['comp-lzo no', 'allow-compression yes']);
    expect(both.filter((d) => d[0] === 'comp-lzo' || d[0] === 'allow-compression').map((d) => d.join(' '))).toEqual(['comp-lzo no', 'allow-compression yes']);
  });
});

describe('what Ferry leaves out, it says', () => {
  it.each([
    ['push-peer-info', 'push-peer-info'],
    ['setenv UV_ID abcdef', 'setenv'],
    ['setenv FORWARD_COMPATIBLE 1', 'setenv'],
    ['setenv PUSH_PEER_INFO', 'setenv'],
    ['dh none', 'dh'],
    ['push "route 10.0.0.0 255.0.0.0"', 'push'],
    // Azure's download names a log file: Ferry keeps the log itself and writes no file.
    ['log openvpn.log', 'log'],
    ['log-append /tmp/vpn.log', 'log-append'],
    ['status /tmp/status 10', 'status'],
  ])('%s: dropped with a notice naming it and its line', async (line, name) => {
    const result = await importText(profile([line, 'remote-cert-tls server']));
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(new RegExp(`^profile\\.ovpn line 4: (<${name}>|"${name}[^"]*") left out — .+`));
  });

  it('a profile that never checks the gateway\'s certificate gets remote-cert-tls server, and is told so', async () => {
    const result = await importText(profile([]));
    expect(result.warnings).toEqual([
      'profile.ovpn: the profile does not check that the gateway holds a server certificate — Ferry adds "remote-cert-tls server" (the gateway\'s certificate needs the TLS Web Server usage)',
    ]);
    expect(lines(await built([]), 'remote-cert-tls')).toEqual(['remote-cert-tls server']);
  });

  it('a password-only profile without a check is kept as written (its CA issues no client certificates to pose with), and is told so', async () => {
    const text = ['client', 'dev tun', 'remote vpn.example.com 1194 udp', 'auth-user-pass', inline('ca', ca.certPem), ''].join('\n');
    const result = await importText(text);
    expect(result.warnings).toEqual([
      'profile.ovpn: the profile does not check that the gateway holds a server certificate (no remote-cert-tls or verify-x509-name); it is kept as written, as openvpn would run it — ask your administrator for a profile with "remote-cert-tls server"',
    ]);
    expect(result.draft.engine.directives?.some((d) => d.name === 'remote-cert-tls')).toBe(false);
  });

    it("a profile whose client certificate comes from another CA than the gateway's (Azure point-to-site) imports with a notice; loose files are still refused", async () => {
    const gatewayCa = await makeCa({ cn: 'Public Gateway CA' });
    const text = ['client', 'dev tun', 'remote vpn.example.com 1194 udp', 'remote-cert-tls server', inline('ca', gatewayCa.certPem), inline('cert', client.certPem), inline('key', client.keyPem), ''].join('\n');
    const result = await importText(text);
    expect(result.warnings.some((w) => /was not issued by the CA in .*fine if the gateway's certificate comes from another CA than yours \(as with Azure\)/.test(w))).toBe(true);
    const [caFile, certFile, keyFile] = await writeFiles(path.join(dir, `loose-${++counter}`), { 'ca.crt': gatewayCa.certPem, 'client.crt': client.certPem, 'client.key': client.keyPem });
    expect((await refusal(importFiles([caFile!, certFile!, keyFile!], { ...OPTS, gateway: { host: 'vpn.example.com' } }))).message).toMatch(/was not issued by the CA in .*ask your administrator for a matching set/);
  });

    it('owned options are left out silently; ones the profile meant something by are said', async () => {
    const quiet = await importText(profile(['persist-key', 'nobind', 'verb 4', 'auth-nocache', 'resolv-retry infinite', 'remote-cert-tls server']));
    expect(quiet.warnings).toEqual([]);
    const said = await importText(profile(['management 127.0.0.1 7505', 'block-outside-dns', 'remote-cert-tls server']));
    expect(said.warnings.map((w) => w.split(' left out')[0])).toEqual(['profile.ovpn line 4: "management"', 'profile.ovpn line 5: "block-outside-dns"']);
  });
});

describe('what Ferry refuses, it names with the line and the reason or the replacement', () => {
  it.each([
    ['ncp-disable', /^profile\.ovpn line 4: "ncp-disable" was removed in openvpn 2\.6; .*"data-ciphers" — replace the line with "data-ciphers CIPHER"/],
    ['keysize 256', /^profile\.ovpn line 4: "keysize" was removed in openvpn 2\.6; .* — remove the line and import again$/],
    ['tls-remote vpn.example.com', /^profile\.ovpn line 4: "tls-remote" was removed in openvpn 2\.4; .* — replace the line with "verify-x509-name NAME name" and import again$/],
    ['no-replay', /^profile\.ovpn line 4: "no-replay" .*replay protection.* — /],
    ['cipher none', /^profile\.ovpn line 4: "cipher" turns encryption off — /],
  ])('%s', async (line, message) => {
    expect((await refusal(importText(profile([line])))).message).toMatch(message);
  });
});
