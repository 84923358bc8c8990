/**
 * openvpn 2.6 itself accepts every option the option table keeps, as Ferry writes it: for
 * each kept option, a config built by buildClientConfig with a sample value is run by the
 * installed openvpn until it has parsed the options, checked them (options_postprocess),
 * released the management hold and set up its TLS context (certificates, cipher lists,
 * groups, providers) — the point where it starts to connect. No "Options error", no
 * "Unrecognized option", no fatal error. It connects to 127.0.0.1's discard port only: no
 * packet leaves this machine, and no tunnel device is opened (a client opens it after the
 * server's reply, which never comes).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildClientConfig, type EngineSpec } from '../../core/engine/config.js';
import { tokenizeLine } from '../../core/profile/ovpn.js';
import { OPTION_ROWS } from '../../core/profile/option-policy.js';
import { tempDir } from '../support/cli.js';
import { installedOpenvpn } from '../support/openvpn.js';
import { makeCa, makeClient } from '../fixtures/import/generate.js';
import { rm } from 'node:fs/promises';

const openvpn = installedOpenvpn();

const FP20 = `${'AB:'.repeat(19)}CD`;
const FP32 = `${'AB:'.repeat(31)}CD`;

interface Sample {
  /** The option's lines as a profile would hold them (with any option it needs beside it). */
  lines: string[];
  dev?: 'tun' | 'tap';
  proto?: 'udp' | 'tcp';
}

/** A sample value for every kept option Ferry writes as given. */
const SAMPLES: Record<string, Sample> = {
  'compat-mode': { lines: ['compat-mode 2.4.0'] },
  'disable-dco': { lines: ['disable-dco'] },
  'disable-occ': { lines: ['disable-occ'] },
  'fast-io': { lines: ['fast-io'] },
  'keying-material-exporter': { lines: ['keying-material-exporter EXPORTER-ferry-test 32'] },
  providers: { lines: ['providers legacy default', 'data-ciphers AES-256-GCM:BF-CBC'] },
  'allow-compression': { lines: ['allow-compression yes'] },
  auth: { lines: ['auth SHA512'] },
  cipher: { lines: ['cipher AES-256-CBC'] },
  compress: { lines: ['allow-compression asym', 'compress lz4-v2'] },
  'comp-lzo': { lines: ['comp-lzo adaptive'] },
  'comp-noadapt': { lines: ['comp-lzo', 'comp-noadapt'] },
  'key-direction': { lines: ['key-direction 1'] },
  'data-ciphers': { lines: ['data-ciphers AES-256-GCM:?CHACHA20-POLY1305:AES-128-CBC'] },
  'data-ciphers-fallback': { lines: ['data-ciphers-fallback AES-256-CBC'] },
  'tran-window': { lines: ['tran-window 3600'] },
  'allow-pull-fqdn': { lines: ['allow-pull-fqdn'] },
  'allow-recursive-routing': { lines: ['allow-recursive-routing'] },
  'client-nat': { lines: ['client-nat snat 198.18.1.0 255.255.255.0 198.18.2.0'] },
  dns: { lines: ['dns search-domains example.test', 'dns server -1 address 198.18.0.53 198.18.0.54:53', 'dns server -1 transport DoT', 'dns server -1 sni dns.example.test'] },
  'explicit-exit-notify': { lines: ['explicit-exit-notify 2'] },
  inactive: { lines: ['inactive 3600 1000000'] },
  'proto-force': { lines: ['proto-force udp'] },
  'pull-filter': { lines: ['pull-filter accept "route 198.18."', 'pull-filter ignore "route"', 'pull-filter reject "redirect-gateway"'] },
  'remote-random': { lines: ['remote-random'] },
  'remote-random-hostname': { lines: ['remote-random-hostname'] },
  'single-session': { lines: ['single-session'] },
  float: { lines: ['float'] },
  fragment: { lines: ['fragment 1300 mtu'] },
  keepalive: { lines: ['keepalive 10 60'] },
  'link-mtu': { lines: ['link-mtu 1500'] },
  mode: { lines: ['mode p2p'] },
  mssfix: { lines: ['mssfix 1400 mtu'] },
  'mtu-disc': { lines: ['mtu-disc yes'] },
  'mtu-test': { lines: ['mtu-test'] },
  passtos: { lines: ['passtos'] },
  ping: { lines: ['ping 10'] },
  'ping-exit': { lines: ['ping-exit 120'] },
  'ping-restart': { lines: ['ping-restart 60'] },
  'ping-timer-rem': { lines: ['ping-timer-rem'] },
  'replay-window': { lines: ['replay-window 128 15'] },
  'session-timeout': { lines: ['session-timeout 3600'] },
  'socket-flags': { lines: ['socket-flags TCP_NODELAY'] },
  'tcp-nodelay': { lines: ['tcp-nodelay'] },
  'max-packet-size': { lines: ['max-packet-size 1300'] },
  'reneg-bytes': { lines: ['reneg-bytes 1000000000'] },
  'reneg-pkts': { lines: ['reneg-pkts 1000000'] },
  'reneg-sec': { lines: ['reneg-sec 2592000 3600'] },
  'ecdh-curve': { lines: ['ecdh-curve prime256v1'] },
  'hand-window': { lines: ['hand-window 60'] },
  'remote-cert-eku': { lines: ['remote-cert-eku "TLS Web Server Authentication"'] },
  'remote-cert-ku': { lines: ['remote-cert-ku a0 88'] },
  'remote-cert-tls': { lines: ['remote-cert-tls server'] },
  'tls-groups': { lines: ['tls-groups X25519:P-256'] },
  'tls-cert-profile': { lines: ['tls-cert-profile preferred'] },
  'tls-cipher': { lines: ['tls-cipher TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384:TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384'] },
  'tls-ciphersuites': { lines: ['tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'] },
  'tls-exit': { lines: ['tls-exit'] },
  'tls-timeout': { lines: ['tls-timeout 2'] },
  'tls-version-min': { lines: ['tls-version-min 1.2 or-highest'] },
  'tls-version-max': { lines: ['tls-version-max 1.3'] },
  'verify-hash': { lines: [`verify-hash ${FP20}`, `verify-hash ${FP20} SHA1`] },
  'peer-fingerprint': { lines: [`peer-fingerprint ${FP32}`] },
  'verify-x509-name': { lines: ['verify-x509-name "CN=vpn gateway, O=Example \\"Corp\\"" subject'] },
  'http-proxy': { lines: ['http-proxy 127.0.0.1 3128'], proto: 'tcp' },
  'http-proxy-option': { lines: ['http-proxy 127.0.0.1 3128', 'http-proxy-option VERSION 1.1', 'http-proxy-option AGENT "Ferry test"', 'http-proxy-option CUSTOM-HEADER X-Ferry "one two"'], proto: 'tcp' },
  'socks-proxy': { lines: ['socks-proxy 127.0.0.1 1080'] },
  'up-delay': { lines: ['up-delay'] },
  'persist-local-ip': { lines: ['persist-local-ip'] },
  'persist-remote-ip': { lines: ['persist-remote-ip'] },
  rcvbuf: { lines: ['rcvbuf 393216'] },
  shaper: { lines: ['shaper 100000'] },
  sndbuf: { lines: ['sndbuf 393216'] },
  txqueuelen: { lines: ['txqueuelen 1000'] },
  'block-ipv6': { lines: ['block-ipv6'] },
  'dhcp-option': { lines: ['dhcp-option DNS 198.18.0.53', 'dhcp-option DOMAIN example.test'] },
  ifconfig: { lines: ['ifconfig 198.18.9.2 198.18.9.1'] },
  'ifconfig-ipv6': { lines: ['ifconfig-ipv6 2001:db8::2/64 2001:db8::1'] },
  'ifconfig-noexec': { lines: ['ifconfig-noexec'] },
  'ifconfig-nowarn': { lines: ['ifconfig-nowarn'] },
  lladdr: { lines: ['lladdr 02:00:5e:00:53:01'], dev: 'tap' },
  'redirect-gateway': { lines: ['redirect-gateway def1 bypass-dhcp ipv6'] },
  'redirect-private': { lines: ['redirect-private local'] },
  route: { lines: ['route 198.18.5.0 255.255.255.0 vpn_gateway 5', 'route 198.18.6.0 255.255.255.0 net_gateway'] },
  'route-delay': { lines: ['route-delay 2 5'] },
  'route-ipv6': { lines: ['route-ipv6 2001:db8:1::/48'] },
  'route-gateway': { lines: ['route-gateway 198.18.9.1'] },
  'route-ipv6-gateway': { lines: ['route-ipv6-gateway 2001:db8::1'] },
  'route-metric': { lines: ['route-metric 10'] },
  'route-noexec': { lines: ['route-noexec'] },
  'route-nopull': { lines: ['route-nopull'] },
  topology: { lines: ['topology subnet'] },
  'tun-mtu': { lines: ['tun-mtu 1400'] },
  'tun-mtu-extra': { lines: ['tun-mtu-extra 32'], dev: 'tap' },
  'ns-cert-type': { lines: ['ns-cert-type server'] },
  'ncp-ciphers': { lines: ['ncp-ciphers AES-256-GCM:AES-128-GCM'] },
  preresolve: { lines: ['preresolve'] },
  'tun-mtu-max': { lines: ['tun-mtu-max 1600'] },
  'udp-mtu': { lines: ['udp-mtu 1500'] },
};

/** Lines that say openvpn refused something. */
const REFUSED = /Options error|Unrecognized option|Exiting due to fatal error|Cannot load|Failed to set|error:[0-9A-F]{8}/i;
/** Logged once the TLS context is set up and the link is being opened: every option was taken. */
const STARTED = /UDP(v[46])? link remote:|Attempting to establish TCP connection with|TCP connection established/;

let dir: string;
let files: EngineSpec['files'];
let counter = 0;

beforeAll(async () => {
  dir = await tempDir('ferry-options-');
  const ca = await makeCa({ cn: 'Options CA' });
  const client = await makeClient(ca, { cn: 'options' });
  files = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'client.crt'), key: path.join(dir, 'client.key') };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.cert!, client.certPem);
  await writeFile(files.key!, client.keyPem, { mode: 0o600 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs openvpn on the config until it starts to connect, refuses, or 10 s pass; then stops it. */
async function run(config: string, managementSocket: string): Promise<{ started: boolean; output: string }> {
  const file = path.join(dir, `case-${++counter}.conf`);
  await writeFile(file, config);
  const child = spawn(openvpn!, ['--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let management: net.Socket | undefined;
  const outcome = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (REFUSED.test(output)) (clearTimeout(timer), resolve(false));
      else if (STARTED.test(output)) (clearTimeout(timer), resolve(true));
      // The management socket is up once openvpn waits for its hold to be released.
      if (!management && /Need hold release/.test(output)) {
        management = net.connect(managementSocket, () => management!.write('hold release\n'));
        management.on('error', () => undefined);
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', () => (clearTimeout(timer), resolve(false)));
  });
  management?.destroy();
  child.kill('SIGKILL');
  return { started: outcome, output };
}

describe.skipIf(!openvpn)('openvpn 2.6 accepts every kept option as Ferry writes it', () => {
  it('has a sample for every kept option Ferry writes as given', () => {
    const kept = OPTION_ROWS.filter((r) => r.disposition === 'kept' && r.args).map((r) => r.name);
    expect(kept.filter((name) => !SAMPLES[name])).toEqual([]);
    expect(Object.keys(SAMPLES).filter((name) => !kept.includes(name))).toEqual([]);
  });

  /** The config Ferry builds around a sample, and what openvpn does with it. */
  async function tryout(sample: Sample) {
    const managementSocket = path.join(dir, `m${counter + 1}.sock`);
    const directives = sample.lines.map((line) => {
      const [name, ...args] = tokenizeLine(line, 1, 'sample');
      return { name: name!, args };
    });
    const config = buildClientConfig({
      remotes: [{ host: '127.0.0.1', port: 9, proto: sample.proto ?? 'udp' }],
      engine: { dev: sample.dev ?? 'tun', directives },
      passwordRequired: false,
      files,
      managementSocket,
      guiVersion: 'Ferry test',
    });
    const written = config.split('\n').map((line) => tokenizeLine(line, 1, 'built'));
    for (const d of directives) expect(written, 'openvpn reads back what the profile gave').toContainEqual([d.name, ...d.args]);
    return run(config, managementSocket);
  }

  it('notices a value openvpn refuses only when it sets up TLS (the check can fail)', async () => {
    const { started, output } = await tryout({ lines: ['tls-ciphersuites TLS_NOT_A_SUITE'] });
    expect(started).toBe(false);
    expect(output).toMatch(REFUSED);
  });

  it.each(Object.entries(SAMPLES))('%s', async (_name, sample) => {
    const { started, output } = await tryout(sample);
    expect(output).not.toMatch(REFUSED);
    expect(started, output).toBe(true);
  });
});
