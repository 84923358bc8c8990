/**
 * The corpus of what real servers hand out (issue 11): helpers that recreate each tool's
 * PKI, render its client profile and server config from the templates under
 * test/fixtures/corpus/, run the server with real openvpn in the lab's gateway namespace,
 * and run a stock openvpn 2.6 client on the same profile as the reference.
 *
 * Templates are the tool's own output with `{{NAME}}` placeholders for what differs per
 * run (certificates and keys made for the test, lab addresses) and `#@` provenance lines,
 * which are stripped when rendering: what reaches openvpn and Ferry is exactly what the
 * tool writes, nothing added.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants, openSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../lab/lab.js';
import { tempDir } from './cli.js';
import { AUTH_FAILED, CONNECTED, Watched } from './processes.js';
import { easyRsaEnv, untilReady, writeVerifyScript } from './stock-server.js';

export const CORPUS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/corpus');

const EASYRSA = '/usr/share/easy-rsa/easyrsa';

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...opts, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`\`${path.basename(file)} ${args.join(' ')}\` failed: ${err.message}\n${stderr}${stdout}`));
      else resolve(stdout);
    });
  });
}

// ---------------------------------------------------------------------------------------
// Keys and certificates, made the way each tool makes them
// ---------------------------------------------------------------------------------------

/** A certificate (as its file holds it: easy-rsa 3 puts a text dump before the PEM) and its key. */
export interface Issued {
  cert: string;
  key: string;
}

/** The PEM blocks of a file, without the text dump easy-rsa 3 and `openssl ca` put before them. */
export function pemOnly(text: string): string {
  const blocks = text.match(/-----BEGIN [^-]+-----[\s\S]*?-----END [^-]+-----/g);
  if (!blocks) throw new Error('no PEM block');
  return `${blocks.join('\n')}\n`;
}

export interface EasyRsa3Options {
  algo: 'rsa' | 'ec';
  /** EASYRSA_CURVE for ec (default prime256v1), EASYRSA_KEY_SIZE for rsa (default 2048). */
  curve?: string;
  keySize?: number;
  caCn: string;
  server: string;
  clients: string[];
}

export interface EasyRsa3Pki {
  dir: string;
  ca: string;
  server: Issued;
  clients: Record<string, Issued>;
  /** Runs easy-rsa in this PKI (e.g. export-p12). */
  easyrsa(...args: string[]): Promise<string>;
}

/**
 * A PKI made by easy-rsa 3 (Debian's 3.1.0 here): build-ca, build-server-full,
 * build-client-full, batch mode, no passphrases — the commands the installer scripts run.
 * Files are returned as easy-rsa writes them (issued certificates carry the text dump).
 */
export async function easyRsa3Pki(dir: string, opts: EasyRsa3Options): Promise<EasyRsa3Pki> {
  const pkiDir = path.join(dir, 'pki');
  const env = easyRsaEnv(pkiDir, opts.algo, { ...(opts.curve ? { curve: opts.curve } : {}), ...(opts.keySize ? { keySize: opts.keySize } : {}) });
  await mkdir(dir, { recursive: true });
  const easyrsa = (...args: string[]) => run(EASYRSA, args, { env, cwd: dir });
  await easyrsa('init-pki');
  await run(EASYRSA, ['build-ca', 'nopass'], { env: { ...env, EASYRSA_REQ_CN: opts.caCn }, cwd: dir });
  await easyrsa('build-server-full', opts.server, 'nopass');
  for (const name of opts.clients) await easyrsa('build-client-full', name, 'nopass');
  const issued = async (name: string): Promise<Issued> => ({
    cert: await readFile(path.join(pkiDir, 'issued', `${name}.crt`), 'utf8'),
    key: await readFile(path.join(pkiDir, 'private', `${name}.key`), 'utf8'),
  });
  const clients: Record<string, Issued> = {};
  for (const name of opts.clients) clients[name] = await issued(name);
  return { dir: pkiDir, ca: await readFile(path.join(pkiDir, 'ca.crt'), 'utf8'), server: await issued(opts.server), clients, easyrsa };
}

export type KeySpec = { type: 'rsa'; bits: number } | { type: 'ec'; curve: string };

export interface OpensslCert {
  /** openssl -subj form, e.g. "/C=NL/O=OPNsense/CN=server". */
  subject: string;
  /**
   * Body of the openssl extension section for this certificate. Undefined: a version 1
   * certificate without any extension (what `openssl x509 -req` makes without -extfile).
   */
  ext?: string;
}

export interface OpensslPkiOptions {
  key: KeySpec;
  days?: number;
  ca: OpensslCert;
  server: OpensslCert;
  clients: Record<string, OpensslCert>;
}

export interface OpensslPki {
  ca: Issued;
  server: Issued;
  clients: Record<string, Issued>;
}

async function genKey(file: string, key: KeySpec): Promise<void> {
  const args =
    key.type === 'rsa'
      ? ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.bits}`, '-out', file]
      : ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${key.curve}`, '-pkeyopt', 'ec_param_enc:named_curve', '-out', file];
  await run('openssl', args);
}

/** The extension body as written, minus what OpenSSL 3 would add unasked (SKID/AKID). */
function extSection(name: string, body: string): string {
  const lines = body.split('\n').map((l) => l.trim()).filter(Boolean);
  if (!lines.some((l) => l.startsWith('subjectKeyIdentifier'))) lines.push('subjectKeyIdentifier = none');
  if (!lines.some((l) => l.startsWith('authorityKeyIdentifier'))) lines.push('authorityKeyIdentifier = none');
  return `[ ${name} ]\n${lines.join('\n')}\n`;
}

/** A self-signed CA with exactly the given extensions. */
export async function opensslCa(dir: string, key: KeySpec, ca: OpensslCert, days = 3650): Promise<Issued & { keyFile: string; certFile: string }> {
  await mkdir(dir, { recursive: true });
  const keyFile = path.join(dir, 'ca.key');
  const certFile = path.join(dir, 'ca.crt');
  const cnf = path.join(dir, 'ca.cnf');
  await writeFile(cnf, `[ req ]\ndistinguished_name = dn\n[ dn ]\n${extSection('ca_ext', ca.ext ?? 'basicConstraints = CA:TRUE')}`);
  await genKey(keyFile, key);
  await run('openssl', ['req', '-x509', '-new', '-key', keyFile, '-subj', ca.subject, '-days', String(days), '-sha256', '-config', cnf, '-extensions', 'ca_ext', '-out', certFile]);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), keyFile, certFile };
}

/** A certificate signed by `ca` (made with opensslCa) with exactly the given extensions. */
export async function opensslIssue(dir: string, name: string, key: KeySpec, ca: { keyFile: string; certFile: string }, cert: OpensslCert, days = 3650): Promise<Issued> {
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}.crt`);
  const cnf = path.join(dir, `${name}.cnf`);
  await writeFile(cnf, `[ req ]\ndistinguished_name = dn\n[ dn ]\n${cert.ext !== undefined ? extSection('ext', cert.ext) : ''}`);
  await genKey(keyFile, key);
  await run('openssl', ['req', '-new', '-key', keyFile, '-subj', cert.subject, '-config', cnf, '-out', csr]);
  const extArgs = cert.ext !== undefined ? ['-extfile', cnf, '-extensions', 'ext'] : [];
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-days', String(days), '-sha256', ...extArgs, '-out', certFile]);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}

/** CA, server and clients made with openssl and exactly the extensions a tool's openssl config gives them. */
export async function opensslPki(dir: string, opts: OpensslPkiOptions): Promise<OpensslPki> {
  const ca = await opensslCa(dir, opts.key, opts.ca, opts.days);
  const server = await opensslIssue(dir, 'server', opts.key, ca, opts.server, opts.days);
  const clients: Record<string, Issued> = {};
  for (const [name, cert] of Object.entries(opts.clients)) clients[name] = await opensslIssue(dir, name, opts.key, ca, cert, opts.days);
  return { ca: { cert: ca.cert, key: ca.key }, server, clients };
}

/** `openvpn --genkey KIND FILE` (secret, tls-auth, tls-crypt, tls-crypt-v2-server); returns the file's text. */
export async function openvpnGenkey(kind: string, file: string): Promise<string> {
  await run('openvpn', ['--genkey', kind, file]);
  return readFile(file, 'utf8');
}

/** A tls-crypt-v2 client key wrapped with the server key, as `openvpn --tls-crypt-v2 S --genkey tls-crypt-v2-client C` makes it. */
export async function tlsCryptV2ClientKey(serverKey: string, file: string): Promise<string> {
  await run('openvpn', ['--tls-crypt-v2', serverKey, '--genkey', 'tls-crypt-v2-client', file]);
  return readFile(file, 'utf8');
}

/** `openssl pkcs12 -export` with the tool's own arguments. */
export async function pkcs12Export(out: string, args: string[]): Promise<void> {
  await run('openssl', ['pkcs12', '-export', '-out', out, ...args]);
}

/**
 * The ffdhe2048 group of RFC 7919, which Nyr/openvpn-install writes as dh.pem instead of
 * generating parameters. The corpus uses it wherever a tool's server has a `dh` file, so no
 * run waits minutes for `openssl dhparam`: openvpn only uses it for DHE suites of TLS 1.2.
 */
export const FFDHE2048 = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`;

// ---------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------

/** "198.18.100.0/24" -> ["198.18.100.0", "255.255.255.0"]. */
export function addressMask(cidr: string): [string, string] {
  const [address, bits] = cidr.split('/');
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [address!, [24, 16, 8, 0].map((s) => (mask >>> s) & 0xff).join('.')];
}

/** The lab's addresses under the names templates use. Only 198.18.0.0/15. */
export function labVars(lab: Lab): Record<string, string> {
  const [poolNet, poolMask] = addressMask(lab.addr.pool);
  const [vpcNet, vpcMask] = addressMask(lab.addr.vpcSubnet);
  return {
    GATEWAY: lab.addr.gatewayUnderlay,
    POOL_NET: poolNet,
    POOL_MASK: poolMask,
    VPC_NET: vpcNet,
    VPC_MASK: vpcMask,
    /** The "DNS server in the VPC" the servers push. Nothing in the lab applies it. */
    VPC_DNS: lab.addr.vpcHost,
  };
}

/**
 * Reads test/fixtures/corpus/CASE/FILE, drops the `#@` provenance lines and fills the
 * `{{NAME}}` placeholders. A value's trailing newline is dropped (the template has its own);
 * a placeholder without a value is an error, never left in.
 */
export async function renderTemplate(caseName: string, file: string, vars: Record<string, string>): Promise<string> {
  const text = await readFile(path.join(CORPUS_DIR, caseName, file), 'utf8');
  const kept = text.split('\n').filter((l) => !l.startsWith('#@')).join('\n');
  return kept.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`${caseName}/${file}: no value for {{${name}}}`);
    return value.replace(/\n$/, '');
  });
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

/**
 * openvpn in the lab with its log on a FIFO the test reads, even when the config names a log
 * file (Synology's server, Azure's profile): openvpn honours the first log option it meets,
 * so `--log FIFO` before `--config` wins over the config's own. (Node's stdio pipes are socket
 * pairs, which openvpn cannot reopen by name, so /dev/stdout or /proc/self/fd/N would not do.) The FIFO is opened
 * read-write and non-blocking, so opening never waits for openvpn; lines are fed to the
 * Watched like stdout.
 */
async function spawnOpenvpn(lab: Lab, ns: 'client' | 'gateway', args: string[], label: string): Promise<Watched> {
  const fifo = path.join(await tempDir('ferry-corpus-log-'), 'openvpn.log');
  await run('mkfifo', ['-m', '600', fifo]);
  const reader = new net.Socket({ fd: openSync(fifo, fsConstants.O_RDWR | fsConstants.O_NONBLOCK), readable: true, writable: false });
  const child: ChildProcess = lab.spawn(ns, ['openvpn', '--log', fifo, ...args]);
  reader.on('data', (chunk: Buffer) => child.stdout?.emit('data', chunk));
  reader.on('error', () => undefined);
  child.once('exit', () => setImmediate(() => reader.destroy()));
  return new Watched(child, label);
}

export interface CorpusServer {
  server: Watched;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Writes the rendered server config into `dir` and runs `openvpn --cd DIR --config
 * server.conf` in the gateway namespace, as the tools' systemd units do
 * (openvpn-server@.service: --cd /etc/openvpn/server --config %i.conf), so the config's
 * relative file names resolve in `dir`. Resolves once the server is ready.
 */
export async function startCorpusServer(lab: Lab, dir: string, config: string, label: string): Promise<CorpusServer> {
  await writeFile(path.join(dir, 'server.conf'), config, { mode: 0o600 });
  const server = await spawnOpenvpn(lab, 'gateway', ['--cd', dir, '--config', 'server.conf'], `${label} server`);
  await untilReady(server);
  return { server, dir, stop: async () => void (await server.stop()) };
}

/**
 * The three lines that stand in for a tool's own password check (PAM or LDAP plugin, an
 * auth script, Access Server's back end): the stock-server verify script, which accepts
 * exactly `users`. Returns the config text.
 */
export async function passwordCheck(dir: string, users: Record<string, string>): Promise<string> {
  const script = await writeVerifyScript(dir, { kind: 'password', users }, path.join(dir, 'verify.log'));
  return [`auth-user-pass-verify "${script}" via-file`, 'script-security 2', `tmp-dir "${dir}"`].join('\n');
}

/**
 * pritunl authorises every client itself over the management socket (management-client-auth):
 * on `>CLIENT:CONNECT` it answers `client-auth CID KID` with the client's pushes and address
 * (pritunl/clients/clients.py, generate_client_conf and allow_client). This does the same
 * for the lab: the socket is a file, so the test process connects to it directly.
 */
export async function pritunlManagement(socketPath: string, clientConf: string[]): Promise<{ close(): void; authorised: () => number }> {
  const socket = net.createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let count = 0;
  let buffer = '';
  let pending: { cid: string; kid: string } | undefined;
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      const m = /^>CLIENT:(?:CONNECT|REAUTH),(\d+),(\d+)/.exec(line);
      if (m) pending = { cid: m[1]!, kid: m[2]! };
      else if (line === '>CLIENT:ENV,END' && pending) {
        socket.write(`client-auth ${pending.cid} ${pending.kid}\n${clientConf.join('\n')}\nEND\n`);
        pending = undefined;
        count++;
      }
    }
  });
  socket.on('error', () => undefined);
  return { close: () => socket.destroy(), authorised: () => count };
}

// ---------------------------------------------------------------------------------------
// The reference: a stock openvpn 2.6 client on the same files
// ---------------------------------------------------------------------------------------

/**
 * A stock openvpn client on the profile exactly as written, in `dir` (where its relative
 * files are). What it cannot read from the profile comes on the command line, after it:
 * the credentials (`--auth-user-pass FILE`, as a user would type them) and where it logs
 * (the test's pipe, even when the profile names a log file; see spawnOpenvpn).
 */
export async function startReferenceClient(lab: Lab, dir: string, profile: string, credentials?: [string, string]): Promise<Watched> {
  const extra: string[] = [];
  if (credentials) {
    const file = path.join(dir, 'reference-credentials');
    await writeFile(file, `${credentials[0]}\n${credentials[1]}\n`, { mode: 0o600 });
    extra.push('--auth-user-pass', file);
  }
  return spawnOpenvpn(lab, 'client', ['--cd', dir, '--config', profile, '--auth-retry', 'none', '--connect-retry', '1', '--verb', '3', ...extra], 'reference openvpn client');
}

/** What the reference client did: connected, refused, or exited first (with its log). */
export async function referenceOutcome(client: Watched, timeoutMs = 45_000): Promise<'connected' | 'auth-failed' | 'exited'> {
  const exited = client.exited.then(() => 'exited' as const);
  return Promise.race([client.waitForAny({ connected: CONNECTED, 'auth-failed': AUTH_FAILED }, timeoutMs) as Promise<'connected' | 'auth-failed'>, exited]);
}

/** Writes `files` (relative name -> content) into `dir`, private; names may hold subdirectories. */
export async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, data, { mode: 0o600 });
    await chmod(file, 0o600);
  }
}
