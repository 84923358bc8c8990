/**
 * .ovpn import: openvpn's tokenising rules, the allowlist (kept / dropped / refused with
 * name and line), inline blocks vs files next to the profile, and the path rules.
 */
import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles, type ImportOptions } from '../../core/profile/import.js';
import { parseOvpn, tokenizeLine } from '../../core/profile/ovpn.js';
import { PROFILE_VERSION, ProfileSchema } from '../../core/profile/schema.js';
import { tempDir } from '../support/cli.js';
import { NOW, encryptKey, inline, makeCa, makeClient, makePkcs12, staticKey, writeFiles, type Identity } from '../fixtures/import/generate.js';
import { refusal } from '../fixtures/import/refusal.js';

const OPTS = { now: NOW } satisfies ImportOptions;

let ca: Identity;
let client: Identity;
let otherCa: Identity;
let otherClient: Identity;
let dir: string;
let counter = 0;

beforeAll(async () => {
  ca = await makeCa({ cn: 'Profile CA' });
  client = await makeClient(ca, { cn: 'alice' });
  otherCa = await makeCa({ cn: 'Another CA' });
  otherClient = await makeClient(ca, { cn: 'zed' });
  dir = await tempDir('ferry-ovpn-');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Lines 1-3 are fixed, so an extra line given to profile() is always line 4. */
const HEAD = ['client', 'dev tun', 'remote vpn.example.com 1194 udp'];

function pems(): string[] {
  return [inline('ca', ca.certPem), inline('cert', client.certPem), inline('key', client.keyPem)];
}

function profile(extra: string[] = [], tail: string[] = pems()): string {
  return [...HEAD, ...extra, 'remote-cert-tls server', ...tail, ''].join('\n');
}

/** Writes the .ovpn (and any files beside it) into a fresh folder; returns the .ovpn's path. */
async function write(text: string, beside: Record<string, string | Uint8Array> = {}, name = 'profile.ovpn'): Promise<string> {
  const [ovpn] = await writeFiles(path.join(dir, `case-${++counter}`), { [name]: text, ...beside });
  return ovpn!;
}

async function importText(text: string, opts: ImportOptions = OPTS) {
  return importFiles([await write(text)], opts);
}

describe('openvpn tokenising', () => {
  it.each([
    ['remote host 1194 # comment', ['remote', 'host', '1194']],
    ['remote host 1194 ; comment', ['remote', 'host', '1194']],
    ['   # a comment line', []],
    ['; a comment line', []],
    ['remote host#1', ['remote', 'host#1']],
    ['verify-x509-name "CN=vpn server" subject', ['verify-x509-name', 'CN=vpn server', 'subject']],
    ['verify-x509-name \'C:\\path with space\' x', ['verify-x509-name', 'C:\\path with space', 'x']],
    ['a "say \\"hi\\"" b', ['a', 'say "hi"', 'b']],
    ['a b\\ c d', ['a', 'b c', 'd']],
    ['a C:\\\\dir\\\\file', ['a', 'C:\\dir\\file']],
    ['a ""', ['a', '']],
    ['\ttab\tseparated  words ', ['tab', 'separated', 'words']],
  ])('%j', (line, words) => {
    expect(tokenizeLine(line, 1, 'p.ovpn')).toEqual(words);
  });

  it('refuses an unclosed quote and a stray backslash, naming the line', () => {
    expect(() => tokenizeLine('remote "vpn.example.com', 7, 'p.ovpn')).toThrow('p.ovpn line 7: no closing quotation mark (") — fix the line and import again');
    expect(() => tokenizeLine("remote 'vpn", 8, 'p.ovpn')).toThrow("p.ovpn line 8: no closing quotation mark (') — fix the line and import again");
    expect(() => tokenizeLine('ca C:\\certs\\ca.crt', 9, 'p.ovpn')).toThrow(
      'p.ovpn line 9: a backslash (\\) may only escape \\, " or a space — write \\\\ for a backslash and import again',
    );
  });

  it('folds inline blocks and <connection>, keeps file line numbers, strips BOM, CRLF and "--"', () => {
    const text = '\uFEFF--client\r\n<ca>\r\nAAA\r\n</ca>\r\n<connection>\r\nremote a 1\r\n</connection>\r\nverb 3\r\n';
    expect(parseOvpn(text, 'p.ovpn')).toEqual([
      { name: 'client', args: [], line: 1 },
      { name: 'ca', args: ['[inline]'], line: 2, inline: 'AAA\n' },
      { name: 'connection', args: [], line: 5, block: [{ name: 'remote', args: ['a', '1'], line: 6 }] },
      { name: 'verb', args: ['3'], line: 8 },
    ]);
  });
});

describe('option table: refused directives name the directive and the line', () => {
  const SCRIPT = 'runs a script; Ferry never runs scripts from a profile';
  const FILES = 'reads or writes files on this computer; Ferry keeps profiles self-contained';
  const SERVER = "makes openvpn a server; this is a server's config, not a client profile";
  const TOKEN = 'uses a hardware token through a PKCS#11 library, which Ferry does not load';
  const ROOT_SOCKET = "sets a root-only property of openvpn's own connection that firewall rules rely on; ferry-helper lends no such privilege";

  it.each([
    ['up /etc/openvpn/update-resolv-conf', 'up', SCRIPT],
    ['down /etc/openvpn/update-resolv-conf', 'down', SCRIPT],
    ['route-up "/bin/sh -c evil"', 'route-up', SCRIPT],
    ['route-pre-down x.sh', 'route-pre-down', SCRIPT],
    ['ipchange x.sh', 'ipchange', SCRIPT],
    ['tls-verify x.sh', 'tls-verify', SCRIPT],
    ['auth-user-pass-verify x.sh via-env', 'auth-user-pass-verify', SCRIPT],
    ['client-connect x.sh', 'client-connect', SCRIPT],
    ['client-disconnect x.sh', 'client-disconnect', SCRIPT],
    ['learn-address x.sh', 'learn-address', SCRIPT],
    ['iproute /usr/local/bin/ip', 'iproute', SCRIPT],
    ['plugin /usr/lib/openvpn/plugin.so', 'plugin', 'loads a plugin; Ferry never loads plugins from a profile'],
    ['engine dynamic', 'engine', 'loads an OpenSSL engine (a shared library) into openvpn; Ferry loads no code from a profile'],
    ['writepid /run/x.pid', 'writepid', FILES],
    ['tmp-dir /tmp', 'tmp-dir', FILES],
    ['replay-persist /tmp/replay', 'replay-persist', FILES],
    ['chroot /var/empty', 'chroot', "makes openvpn look for its files under a folder the profile names (as root, ferry-helper's own DNS hook would run from there)"],
    ['config other.conf', 'config', 'includes another file; Ferry reads only the profile itself'],
    ['askpass pass.txt', 'askpass', 'reads the key passphrase from a file; Ferry asks for it and keeps it in the keychain'],
    ['dev-node /dev/net/tun', 'dev-node', 'names a device node on this computer; Ferry creates its own tunnel device'],
    ['mark 42', 'mark', ROOT_SOCKET],
    ['bind-dev eth0', 'bind-dev', ROOT_SOCKET],
    ['secret static.key', 'secret', 'uses static-key mode, which has no forward secrecy and which Ferry does not support'],
    ['tls-server', 'tls-server', SERVER],
    ['mode server', 'mode', SERVER],
    ['server 10.8.0.0 255.255.255.0', 'server', SERVER],
    ['pkcs11-id "pkcs11:token"', 'pkcs11-id', TOKEN],
    ['management-external-key', 'management-external-key', 'has the program driving openvpn sign with a key Ferry does not hold'],
    ['http-proxy proxy.example 8080 creds.txt', 'http-proxy', 'gives the proxy credentials (a file, or asking for them), which Ferry cannot supply yet'],
    ['socks-proxy proxy.example 1080 creds.txt', 'socks-proxy', 'reads the proxy credentials from a file; Ferry keeps passwords only in the keychain'],
    ['cipher none', 'cipher', 'turns encryption off'],
    ['data-ciphers AES-256-GCM:none', 'data-ciphers', 'turns encryption off'],
    ['auth none', 'auth', 'turns packet authentication off'],
    ['no-replay', 'no-replay', 'turns replay protection off (openvpn 2.6 still reads it, but its manual lists it as removed)'],
    ['tls-cert-profile insecure', 'tls-cert-profile', "lowers OpenSSL's security level to 0 (MD5 and SHA-1 signatures, short keys), below openvpn 2.6's default"],
    ['tls-cipher DEFAULT:@SECLEVEL=0', 'tls-cipher', "lowers OpenSSL's security level to 0, below openvpn 2.6's default"],
    ['proto tcp-server', 'proto', 'tcp-server is a server protocol; a client profile uses tcp or udp'],
    ['key-method 2', 'key-method', 'was removed in openvpn 2.5; only method 2 remains, and it is always used'],
    // `setenv opt X` means "apply X if known": judged like X itself.
    ['setenv opt up /tmp/evil.sh', 'up', SCRIPT],
  ])('line 4 "%s"', async (line, name, why) => {
    const e = await refusal(importText(profile([line])));
    expect(e.message).toBe(`profile.ovpn line 4: "${name}" ${why} — remove the line and import again`);
  });

  it.each([
    ['capath /etc/ssl/certs', 'profile.ovpn line 4: "capath" reads CA certificates from a folder on this computer; Ferry keeps profiles self-contained — put the CA certificates into <ca> and import again'],
    ['cryptoapicert "SUBJ:alice"', 'profile.ovpn line 4: "cryptoapicert" takes the client certificate from the Windows certificate store — export the certificate with its key (a .p12 file) and import that with the profile'],
    ['tun-max-mtu 1600', 'profile.ovpn line 4: "tun-max-mtu" is not an option openvpn 2.6 reads (its manual misspells "tun-mtu-max") — write "tun-mtu-max" instead and import again'],
    ['setenv GENERIC_CONFIG', 'profile.ovpn line 4: "setenv" marks a template openvpn itself refuses to run — ask your administrator for your own profile and import that'],
  ])('refused with what to do instead: %s', async (line, message) => {
    expect((await refusal(importText(profile([line])))).message).toBe(message);
  });

  it.each([
    ['auth-user-pass creds.txt', '"auth-user-pass creds.txt"'],
    ['<auth-user-pass>\nalice\nhunter2\n</auth-user-pass>', '"auth-user-pass <inline block>"'],
  ])('refuses credentials kept in the profile: %j', async (line, shown) => {
    const e = await refusal(importText(profile([line])), 'hunter2');
    expect(e.message).toBe(
      `profile.ovpn line 4: ${shown} keeps your username and password in a file; Ferry asks for the password and keeps it in the keychain — remove the file name (keep "auth-user-pass") and import again`,
    );
  });

  it('refuses an option openvpn 2.6 does not know, by name and line', async () => {
    const e = await refusal(importText(profile(['frobnicate-tunnel yes'])));
    expect(e.message).toBe('profile.ovpn line 4: "frobnicate-tunnel" is not an option openvpn 2.6 knows — check its spelling, or remove the line and import again');
  });

  const syntaxHint = (problem: string, syntax: string) => `${problem} (openvpn's syntax: ${syntax}); fix the line and import again`;
  it.each([
    ['remote-cert-tls client', '"remote-cert-tls client" has a value Ferry does not accept — ' + syntaxHint('type (server) is not valid here', 'remote-cert-tls type (server)')],
    ['proto sctp', '"proto sctp" has a value Ferry does not accept — use udp or tcp'],
    ['remote "bad host;rm -rf" 1194', '"remote bad host;rm -rf 1194" has a value Ferry does not accept — the host must be a hostname or an IP address'],
    ['remote vpn.example.com 99999', '"remote vpn.example.com 99999" has a value Ferry does not accept — fix or remove the line and import again'],
    ['cipher AES-256-GCM;id', '"cipher AES-256-GCM;id" has a value Ferry does not accept — ' + syntaxHint('algorithm is not valid here', 'cipher algorithm')],
    ['key-direction 2', '"key-direction 2" has a value Ferry does not accept — ' + syntaxHint('direction (0|1) is not valid here', 'key-direction direction (0|1)')],
    ['compress zstd', '"compress zstd" has a value Ferry does not accept — ' + syntaxHint('algorithm (stub|stub-v2|lz4|lz4-v2|lzo|migrate) is not valid here', 'compress [algorithm (stub|stub-v2|lz4|lz4-v2|lzo|migrate)]')],
    ['tun-mtu 99', '"tun-mtu 99" has a value Ferry does not accept — ' + syntaxHint('mtu is not valid here', 'tun-mtu mtu [occ-mtu]')],
    ['keepalive 10 15', '"keepalive 10 15" has a value Ferry does not accept — ' + syntaxHint('timeout must be at least twice the interval', 'keepalive interval timeout')],
    ['reneg-sec 10 20 30', '"reneg-sec 10 20 30" has a value Ferry does not accept — ' + syntaxHint('takes 1 to 2 arguments', 'reneg-sec seconds [seconds]')],
    ['verify-x509-name vpn wildcard', '"verify-x509-name vpn wildcard" has a value Ferry does not accept — ' + syntaxHint('type (subject|name|name-prefix) is not valid here', 'verify-x509-name name [type (subject|name|name-prefix)]')],
    ['dns server 200 address 198.18.0.53', '"dns server 200 address 198.18.0.53" has a value Ferry does not accept — ' + syntaxHint('the server priority is a number from -128 to 127', 'dns kind (search-domains|server) value [value ...]')],
    [`tls-cipher ${'A'.repeat(241)}`, `"tls-cipher ${'A'.repeat(68)}…" has a value Ferry does not accept — ` + syntaxHint('list is not valid here', 'tls-cipher list')],
    ['dev null', '"dev null" has a value Ferry does not accept — use "dev tun"'],
  ])('refuses a bad value: %s', async (line, message) => {
    expect((await refusal(importText(profile([line])))).message).toBe(`profile.ovpn line 4: ${message}`);
  });

  it('refuses a bad line inside <connection> with that line', async () => {
    const e = await refusal(importText(profile(['<connection>', 'remote a.example.com 443 tcp', 'up /tmp/x.sh', '</connection>'])));
    expect(e.message).toBe(`profile.ovpn line 6: "up" ${SCRIPT} — remove the line and import again`);
    const e2 = await refusal(importText(profile(['<connection>', 'remote a.example.com', 'cipher AES-128-GCM', '</connection>'])));
    expect(e2.message).toBe(
      'profile.ovpn line 6: "cipher" inside <connection> is not supported (Ferry reads only remote, proto and port there) — move or remove the line and import again',
    );
  });

  it.each([
    [['<secret>', 'AAAA', '</secret>'], '<secret> uses static-key mode, which has no forward secrecy and which Ferry does not support — remove the block and import again'],
    [['<frob>', 'AAAA', '</frob>'], '<frob> is not an option openvpn 2.6 knows — check its spelling, or remove the block and import again'],
    [['<http-proxy-user-pass>', 'alice', 'pw', '</http-proxy-user-pass>'], '<http-proxy-user-pass> keeps proxy credentials in a file or in the profile; Ferry keeps passwords only in the keychain — remove the block and import again'],
    [['<tls-crypt>', 'no end tag'], '<tls-crypt> has no closing </tls-crypt> (the file is cut short) — get the profile again'],
    [['ca ca.crt'], '"ca" is given again (first on line 4) — keep one and import again'],
    [['tls-crypt [inline]', inline('tls-crypt', staticKey()), inline('tls-auth', staticKey(9))], '"tls-auth" cannot be combined with "tls-crypt" (line 5) — keep one and import again'],
  ])('refuses inline blocks it must: %j', async (lines, message) => {
    const e = await refusal(importText(profile(lines)));
    expect(e.message.replace(/line \d+:/, 'line N:')).toBe(`profile.ovpn line N: ${message}`);
  });
});

describe('option table: what Ferry owns, drops or finds inert', () => {
  const BASE_ENGINE = { dev: 'tun', directives: [{ name: 'remote-cert-tls', args: ['server'] }] };

  it.each([
    'tls-client', 'pull', 'nobind', 'persist-key', 'persist-tun', 'resolv-retry infinite', 'verb 4', 'mute 20', 'mute-replay-warnings',
    'auth-nocache', 'auth-retry nointeract', 'connect-retry 5 30', 'connect-retry-max 3', 'connect-timeout 10', 'server-poll-timeout 4',
    'script-security 2', 'management-hold', 'management-query-passwords', 'daemon', 'cd /etc/openvpn', 'askpass', 'errors-to-stderr',
    'ip-win32 dynamic', 'route-method exe', 'register-dns', 'windows-driver wintun', 'setenv SERVER_POLL_TIMEOUT 4', 'setenv IV_GUI_VER other',
    'ignore-unknown-option some-new-thing', 'status-version 2', 'up-restart',
  ])('%s: left out silently, the draft unchanged', async (line) => {
    const base = await importText(profile());
    const withLine = await importText(profile([line]));
    expect(withLine.draft).toEqual(base.draft);
    expect(withLine.warnings).toEqual([]);
  });

  it.each([
    ['push-peer-info', '"push-peer-info"'],
    ['management 127.0.0.1 7505', '"management"'],
    ['user nobody', '"user"'],
    ['group nogroup', '"group"'],
    ['syslog', '"syslog"'],
    ['lport 1194', '"lport"'],
    ['block-outside-dns', '"block-outside-dns"'],
    ['setenv opt block-outside-dns', '"block-outside-dns"'],
    ['setenv CLIENT_CERT 0', '"setenv CLIENT_CERT"'],
    ['setenv FORWARD_COMPATIBLE 1', '"setenv FORWARD_COMPATIBLE"'],
    ['setenv opt some-future-option 1', '"some-future-option"'],
    ['down-pre', '"down-pre"'],
    ['setenv-safe FOO bar', '"setenv-safe"'],
    ['push "route 198.18.2.0 255.255.255.0"', '"push"'],
    ['dh none', '"dh"'],
    ['<dh>\nAAAA\n</dh>', '<dh>'],
    ['tun-ipv6', '"tun-ipv6"'],
    ['show-ciphers', '"show-ciphers"'],
  ])('%s: left out with a notice naming it and its line', async (line, shown) => {
    const base = await importText(profile());
    const withLine = await importText(profile([line]));
    expect(withLine.draft).toEqual(base.draft);
    expect(withLine.warnings).toHaveLength(1);
    expect(withLine.warnings[0]!.startsWith(`profile.ovpn line 4: ${shown} left out — `)).toBe(true);
  });

  it('honours ignore-unknown-option (for the lines after it) and FORWARD_COMPATIBLE, never for refused options', async () => {
    const ok = await importText(profile(['ignore-unknown-option fancy-feature', 'fancy-feature on']));
    expect(ok.draft.engine).toEqual(BASE_ENGINE);
    expect(ok.warnings).toEqual(['profile.ovpn line 5: "fancy-feature" left out — openvpn 2.6 does not know it, and the profile lets openvpn skip it']);
    expect((await refusal(importText(profile(['fancy-feature on', 'ignore-unknown-option fancy-feature'])))).message).toMatch(/^profile\.ovpn line 4: "fancy-feature" is not an option openvpn 2\.6 knows/);
    const compatible = await importText(profile(['setenv FORWARD_COMPATIBLE 1', 'fancy-feature on']));
    expect(compatible.warnings[1]).toMatch(/^profile\.ovpn line 5: "fancy-feature" left out/);
    const e = await refusal(importText(profile(['ignore-unknown-option up', 'up /tmp/x'])));
    expect(e.message).toMatch(/^profile\.ovpn line 5: "up" runs a script/);
  });

  it('leaves out crl-verify with a warning', async () => {
    const result = await importText(profile([inline('crl-verify', '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----')]));
    expect(result.warnings).toEqual([
      "profile.ovpn line 4: the profile's revocation list (crl-verify) was left out — Ferry does not check the server certificate against a CRL",
    ]);
  });
});

describe('option table: kept options are written back exactly', () => {
  it('maps a commercial-style profile onto the draft', async () => {
    const KEPT = [
      'remote-random',
      'cipher aes-256-cbc',
      'auth SHA512',
      'tls-version-min 1.2 or-highest',
      'tls-cipher TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384',
      'comp-lzo no',
      'tun-mtu 1500',
      'mssfix 1450',
      'reneg-sec 0',
      'ping 15',
      'ping-restart 60',
      "verify-x509-name 'CN=vpn server' subject",
      'ns-cert-type server',
      'redirect-gateway def1 bypass-dhcp',
      'pull-filter ignore "redirect-gateway"',
      'route-nopull',
    ];
    const text = [
      'client',
      'dev tap',
      'proto tcp',
      'port 443',
      'remote a.example.com',
      'remote b.example.com 1195 udp',
      ...KEPT,
      'auth-user-pass',
      'static-challenge "Enter your OTP" 1',
      'key-direction 1',
      inline('tls-auth', staticKey()),
      ...pems(),
    ].join('\n');
    const result = await importText(text);
    expect(result.draft).toMatchObject({
      name: 'profile',
      username: 'alice',
      remotes: [
        { host: 'a.example.com', port: 443, proto: 'tcp' },
        { host: 'b.example.com', port: 1195, proto: 'udp' },
      ],
      passwordRequired: true,
      staticChallenge: { text: 'Enter your OTP', echo: true },
      files: ['ca.crt', 'client.crt', 'client.key', 'tls-auth.key'],
    });
    const d = (line: string) => {
      const [name, ...args] = tokenizeLine(line, 1, 'x');
      return { name: name!, args };
    };
    expect(result.draft.engine).toEqual({
      dev: 'tap',
      tlsAuth: {},
      // In the profile's order, each exactly as written (no upper-casing, no folding of
      // ping + ping-restart into keepalive, no cipher appended to data-ciphers).
      directives: [...KEPT, 'key-direction 1'].map(d),
    });
    expect(result.files['tls-auth.key']).toBe(staticKey().slice(staticKey().indexOf('-----BEGIN')));
    expect(ProfileSchema.parse({ ...result.draft, id: 'x', createdAt: NOW.toISOString(), version: PROFILE_VERSION })).toBeTruthy();
  });

  it.each([
    [['tls-crypt [inline]', inline('tls-crypt', staticKey())], { tlsCrypt: true }, 'tls-crypt.key'],
    [[inline('tls-crypt-v2', '-----BEGIN OpenVPN tls-crypt-v2 client key-----\n' + 'QUJD'.repeat(40) + '\n-----END OpenVPN tls-crypt-v2 client key-----')], { tlsCryptV2: true }, 'tls-crypt-v2.key'],
    [['tls-auth [inline] 0', inline('tls-auth', staticKey())], { tlsAuth: { direction: 0 } }, 'tls-auth.key'],
    [[inline('tls-auth', staticKey())], { tlsAuth: {} }, 'tls-auth.key'],
    // key-direction and tls-auth's direction set the same thing: the later line wins, as in openvpn.
    [['key-direction 1', 'tls-auth [inline] 0', inline('tls-auth', staticKey())], { tlsAuth: { direction: 0 } }, 'tls-auth.key'],
    [['dev tun0'], {}, undefined],
    [['dev corp-vpn', 'dev-type tap'], { dev: 'tap' }, undefined],
  ])('%j', async (lines, engine, file) => {
    const result = await importText(profile(lines));
    expect(result.draft.engine).toEqual({ dev: 'tun', directives: [{ name: 'remote-cert-tls', args: ['server'] }], ...engine });
    if (file) expect(Object.keys(result.files)).toContain(file);
  });

  it.each([
    [['data-ciphers AES-256-GCM:?CHACHA20-POLY1305', 'cipher AES-128-CBC'], [['data-ciphers', 'AES-256-GCM:?CHACHA20-POLY1305'], ['cipher', 'AES-128-CBC']]],
    [['ncp-ciphers AES-128-GCM', 'data-ciphers-fallback BF-CBC', 'providers legacy default'], [['ncp-ciphers', 'AES-128-GCM'], ['data-ciphers-fallback', 'BF-CBC'], ['providers', 'legacy', 'default']]],
    [['tls-auth [inline] 0', 'key-direction 1', inline('tls-auth', staticKey())], [['key-direction', '1']]],
    [['compress'], [['compress']]],
    [['compress lz4-v2', 'allow-compression asym'], [['compress', 'lz4-v2'], ['allow-compression', 'asym']]],
    [['comp-lzo'], [['comp-lzo']]],
    [['keepalive 10 60'], [['keepalive', '10', '60']]],
    [['ping 10', 'ping-restart 0'], [['ping', '10'], ['ping-restart', '0']]],
    [['fragment 1300', 'mssfix 1300 mtu'], [['fragment', '1300'], ['mssfix', '1300', 'mtu']]],
    [['redirect-gateway', 'redirect-gateway ipv6'], [['redirect-gateway'], ['redirect-gateway', 'ipv6']]],
    [['explicit-exit-notify 2', 'float', 'hand-window 30', 'sndbuf 393216', 'fast-io'], [['explicit-exit-notify', '2'], ['float'], ['hand-window', '30'], ['sndbuf', '393216'], ['fast-io']]],
    [['route 198.18.5.0 255.255.255.0 vpn_gateway', 'route-ipv6 2001:db8::/32', 'dhcp-option DNS 198.18.0.53', 'dns search-domains example.com'], [['route', '198.18.5.0', '255.255.255.0', 'vpn_gateway'], ['route-ipv6', '2001:db8::/32'], ['dhcp-option', 'DNS', '198.18.0.53'], ['dns', 'search-domains', 'example.com']]],
    [['pull-filter accept "route 198.18."', 'pull-filter ignore "route"', 'pull-filter accept "route 198.18."'], [['pull-filter', 'accept', 'route 198.18.'], ['pull-filter', 'ignore', 'route']]],
    [['cipher AES-128-CBC', 'cipher AES-256-CBC', 'cipher AES-128-CBC'], [['cipher', 'AES-256-CBC'], ['cipher', 'AES-128-CBC']]],
    [['setenv REMOTE_RANDOM_HOSTNAME', 'mode p2p', 'http-proxy proxy.example 3128', 'http-proxy-option AGENT "Ferry 1.0"'], [['remote-random-hostname'], ['mode', 'p2p'], ['http-proxy', 'proxy.example', '3128'], ['http-proxy-option', 'AGENT', 'Ferry 1.0']]],
    [[inline('peer-fingerprint', `${'AB:'.repeat(31)}CD\n${'01:'.repeat(31)}23`)], [['peer-fingerprint', `${'AB:'.repeat(31)}CD`], ['peer-fingerprint', `${'01:'.repeat(31)}23`]]],
  ])('%j', async (lines, kept) => {
    const result = await importText(profile(lines));
    expect(result.draft.engine.directives).toEqual([...kept, ['remote-cert-tls', 'server']].map(([name, ...args]) => ({ name, args })));
  });

  it('refuses a device name without a type, and a damaged static key', async () => {
    expect((await refusal(importText(profile(['dev corp-vpn'])))).message).toBe(
      'profile.ovpn line 4: "dev corp-vpn" has a value Ferry does not accept — use "dev tun" or "dev tap" (or add "dev-type tun")',
    );
    const bad = '-----BEGIN OpenVPN Static key V1-----\nabcd\n-----END OpenVPN Static key V1-----';
    expect((await refusal(importText(profile([inline('tls-crypt', bad)])))).message).toBe(
      'profile.ovpn <tls-crypt>: the OpenVPN Static key V1 is damaged — get the profile again from your administrator',
    );
  });

  it('takes remotes from <connection> blocks, with their own proto and port', async () => {
    const text = [
      'client',
      'proto udp',
      '<connection>',
      'remote one.example.com',
      'proto tcp',
      'port 443',
      'connect-retry 3',
      '</connection>',
      '<connection>',
      'remote two.example.com 1195',
      '</connection>',
      ...pems(),
    ].join('\n');
    expect((await importText(text)).draft.remotes).toEqual([
      { host: 'one.example.com', port: 443, proto: 'tcp' },
      { host: 'two.example.com', port: 1195, proto: 'udp' },
    ]);
  });

  it('--gateway and --proto override the profile; --username and --name too', async () => {
    const text = profile(['remote b.example.com 1200 tcp']);
    const result = await importText(text, { ...OPTS, gateway: { host: 'gw.example.org' }, username: 'someone', name: 'Work' });
    expect(result.draft).toMatchObject({ name: 'Work', username: 'someone', remotes: [{ host: 'gw.example.org', port: 1194, proto: 'udp' }] });
    expect((await importText(text, { ...OPTS, proto: 'tcp' })).draft.remotes).toEqual([
      { host: 'vpn.example.com', port: 1194, proto: 'tcp' },
      { host: 'b.example.com', port: 1200, proto: 'tcp' },
    ]);
    expect((await importText(text, { ...OPTS, gateway: { host: '198.18.0.9', port: 443 }, proto: 'tcp' })).draft.remotes).toEqual([
      { host: '198.18.0.9', port: 443, proto: 'tcp' },
    ]);
  });

  it('accepts a password-only profile (CA, auth-user-pass, no client certificate)', async () => {
    const result = await importText(['client', 'remote vpn.example.com', 'auth-user-pass', inline('ca', ca.certPem)].join('\n'));
    expect(result.draft).toMatchObject({ passwordRequired: true, files: ['ca.crt'], keyEncrypted: false });
    expect(result.draft.username).toBeUndefined();
    expect(result.certificates.map((c) => c.role)).toEqual(['ca']);
  });

  it.each([
    [() => ['client', 'remote vpn.example.com', inline('ca', ca.certPem)].join('\n'), 'profile.ovpn has no client certificate ("cert" or <cert>) and no "auth-user-pass" — ask your administrator for the complete profile'],
    [() => profile([], [inline('ca', '')]).replace('<ca>\n\n</ca>', '<ca>\n</ca>'), 'profile.ovpn <ca> (line 5) holds no certificate — ask your administrator for the complete profile'],
    [() => profile([], [inline('ca', ca.certPem), inline('cert', client.certPem)]), 'profile.ovpn has no client key ("key" or <key>) — ask your administrator for the complete profile'],
    [() => profile([], [inline('cert', client.certPem), inline('key', client.keyPem)]), 'profile.ovpn has no CA certificate ("ca" or <ca>) — ask your administrator for the complete profile'],
    [() => ['client', ...pems()].join('\n'), 'profile.ovpn has no "remote" line — add --gateway HOST[:PORT]'],
    [() => profile([], [inline('ca', otherClient.certPem), inline('cert', client.certPem), inline('key', client.keyPem)]), 'profile.ovpn <ca> (CN=zed) is not a CA certificate (basicConstraints CA:TRUE is missing), so it cannot vouch for the client certificate — ask your administrator for the CA certificate'],
    [() => profile([], [inline('ca', ca.certPem), inline('cert', otherCa.certPem), inline('key', client.keyPem)]), 'profile.ovpn <cert> holds a CA certificate (CN=Another CA) where the client certificate belongs — ask your administrator for the complete profile'],
  ])('refuses an incomplete profile (%#)', async (text, message) => {
    expect((await refusal(importText(text()))).message).toBe(message);
  });

  it('reads CRLF line ends and a byte-order mark like openvpn', async () => {
    const base = await importText(profile());
    expect((await importText(`\uFEFF${profile().replace(/\n/g, '\r\n')}`)).draft).toEqual(base.draft);
  });

  it('asks the passphrase of an encrypted inline key by its block', async () => {
    const text = profile([], [inline('ca', ca.certPem), inline('cert', client.certPem), inline('key', encryptKey(client.keyPem, 'kp'))]);
    const asked: string[] = [];
    const result = await importText(text, { ...OPTS, askPassphrase: async (f) => (asked.push(f), 'kp') });
    expect(asked).toEqual(['profile.ovpn <key>']);
    expect(result.draft.keyEncrypted).toBe(true);
    expect(result.files['client.key']).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
  });

  it('recognises a profile by content whatever its name, and an unknown-only .conf by extension', async () => {
    const [renamed] = await writeFiles(path.join(dir, 'renamed'), { 'vpn.txt': profile() });
    expect((await importFiles([renamed!], OPTS)).draft.name).toBe('vpn');
    const [odd] = await writeFiles(path.join(dir, 'odd'), { 'odd.conf': 'weird-option 1\n' });
    expect((await refusal(importFiles([odd!], OPTS))).message).toMatch(/^odd\.conf line 1: "weird-option" is not an option openvpn 2\.6 knows/);
  });
});

describe('files named by the profile', () => {
  it('imports inline blocks and files next to the profile to the same draft', async () => {
    const inlined = await importFiles([await write(profile(['tls-crypt [inline]'], [...pems(), inline('tls-crypt', staticKey())]))], OPTS);
    const referenced = await importFiles(
      [
        await write(profile(['ca ca.crt', 'cert "keys/client.crt"', 'key ./keys/client.key', 'tls-crypt ta.key'], []), {
          'ca.crt': ca.certPem,
          'keys/client.crt': client.certPem,
          'keys/client.key': client.keyPem,
          'ta.key': staticKey(),
        }),
      ],
      OPTS,
    );
    expect(referenced.draft).toEqual(inlined.draft);
    expect(referenced.files).toEqual(inlined.files);
    expect(referenced.certificates).toEqual(inlined.certificates);
  });

  it.each([
    ['ca /etc/ssl/certs/ca.crt', 'profile.ovpn line 4: "ca /etc/ssl/certs/ca.crt" names an absolute path; Ferry reads only files next to the profile — copy the file next to profile.ovpn, write "ca ca.crt" and import again'],
    ['ca "C:\\\\certs\\\\ca.crt"', 'profile.ovpn line 4: "ca C:\\certs\\ca.crt" names an absolute path; Ferry reads only files next to the profile — copy the file next to profile.ovpn, write "ca ca.crt" and import again'],
    ['ca ~/ca.crt', 'profile.ovpn line 4: "ca ~/ca.crt" names an absolute path; Ferry reads only files next to the profile — copy the file next to profile.ovpn, write "ca ca.crt" and import again'],
    ['ca ../ca.crt', 'profile.ovpn line 4: "ca ../ca.crt" points outside the profile\'s folder — copy the file next to profile.ovpn, write "ca ca.crt" and import again'],
    ['ca keys/../../ca.crt', 'profile.ovpn line 4: "ca keys/../../ca.crt" points outside the profile\'s folder — copy the file next to profile.ovpn, write "ca ca.crt" and import again'],
    ['ca missing.crt', 'profile.ovpn line 4: "ca missing.crt": missing.crt not found next to profile.ovpn — put the file there (or paste it inline as <ca>…</ca>) and import again'],
  ])('refuses %s', async (line, message) => {
    const tail = [inline('cert', client.certPem), inline('key', client.keyPem)];
    expect((await refusal(importText(profile([line], tail)))).message).toBe(message);
  });

  it('refuses a symlink that leads out of the profile folder', async () => {
    const outside = await writeFiles(path.join(dir, 'outside'), { 'ca.crt': ca.certPem });
    const ovpn = await write(profile(['ca ca.crt'], [inline('cert', client.certPem), inline('key', client.keyPem)]));
    await symlink(outside[0]!, path.join(path.dirname(ovpn), 'ca.crt'));
    expect((await refusal(importFiles([ovpn], OPTS))).message).toBe(
      'profile.ovpn line 4: "ca ca.crt" points outside the profile\'s folder — copy the file next to profile.ovpn and import again',
    );
  });

  it('refuses a referenced file over 1 MiB and a directory', async () => {
    const big = await write(profile(['ca ca.crt'], [inline('cert', client.certPem), inline('key', client.keyPem)]), { 'ca.crt': Buffer.alloc(2 * 1024 * 1024, 65) });
    expect((await refusal(importFiles([big], OPTS))).message).toBe('ca.crt is 2.0 MiB; profile files are at most 1 MiB — is this the right file?');
    const ovpn = await write(profile(['ca certs'], [inline('cert', client.certPem), inline('key', client.keyPem)]));
    await mkdir(path.join(path.dirname(ovpn), 'certs'));
    expect((await refusal(importFiles([ovpn], OPTS))).message).toMatch(/^certs is not a regular file/);
  });

  it('reads a PKCS#12 the profile names, asking its passphrase', async () => {
    const rsaCa = await makeCa({ cn: 'RSA CA', kind: 'rsa' });
    const rsaClient = await makeClient(rsaCa, { cn: 'pat', kind: 'rsa' });
    const p12 = makePkcs12(rsaClient, [rsaCa], 'p12pw');
    const viaFile = await importFiles([await write(profile(['pkcs12 pat.p12'], []), { 'pat.p12': p12 })], { ...OPTS, askPassphrase: async () => 'p12pw' });
    const viaInline = await importFiles([await write(profile([], [inline('pkcs12', p12.toString('base64').replace(/(.{64})/g, '$1\n'))]))], {
      ...OPTS,
      askPassphrase: async () => 'p12pw',
    });
    expect(viaFile.draft).toMatchObject({ username: 'pat', keyEncrypted: true, files: ['ca.crt', 'client.crt', 'client.key'] });
    expect(viaInline.draft).toEqual(viaFile.draft);
  });
});
