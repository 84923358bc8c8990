/**
 * Stock OpenVPN servers that nobody here configured: PKIs made by Debian's easy-rsa, a
 * hand-written server config as an administrator would write it, and the usual ways such
 * servers ask for passwords (a verify script; static and dynamic challenge/response).
 * Ferry must work against gateways like these, not only against `ferry-server`.
 *
 * Everything lives in temp directories and runs inside the lab's gateway namespace; the
 * addresses come from the lab (198.18.0.0/15 only, see DESIGN.md "The network lab").
 *
 *   const pki = await makeEasyRsaPki(await tempDir(), { algo: 'ec', clients: ['alice'] });
 *   const stock = await startStockServer(lab, { pki, proto: 'tcp', auth: { kind: 'password', users: { alice: 'pw' } } });
 *   const config = await writeClientConfig(await tempDir(), { lab, pki, client: 'alice', server: stock, credentials: ['alice', 'pw'] });
 *   const client = startOpenvpnClient(lab, config);
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lab } from '../lab/lab.js';
import { tempDir } from './cli.js';
import { CONNECTED, Watched } from './processes.js';

const EASYRSA = '/usr/share/easy-rsa/easyrsa';

// ---------------------------------------------------------------------------------------
// PKI made by easy-rsa
// ---------------------------------------------------------------------------------------

export interface EasyRsaPki {
  /** The easy-rsa PKI directory (EASYRSA_PKI). */
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clients: Record<string, { cert: string; key: string }>;
}

export interface EasyRsaOptions {
  algo: 'rsa' | 'ec';
  clients: string[];
}

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { ...opts, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`\`${path.basename(file)} ${args.join(' ')}\` failed: ${err.message}\n${stderr}${stdout}`));
      else resolve();
    });
  });
}

/** easy-rsa's batch-mode environment for a PKI in `pkiDir` (the defaults: P-256, or RSA 2048). */
export function easyRsaEnv(pkiDir: string, algo: 'ec' | 'rsa', size: { curve?: string; keySize?: number } = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    EASYRSA_BATCH: '1',
    EASYRSA_PKI: pkiDir,
    EASYRSA_ALGO: algo,
    ...(algo === 'ec' ? { EASYRSA_CURVE: size.curve ?? 'prime256v1' } : { EASYRSA_KEY_SIZE: String(size.keySize ?? 2048) }),
  };
}

/**
 * A CA, a server certificate ("server") and one client certificate per name, built the way
 * the easy-rsa README tells administrators to (batch mode, no passphrases). The files stay in
 * easy-rsa's own layout: pki/ca.crt, pki/issued/NAME.crt, pki/private/NAME.key.
 */
export async function makeEasyRsaPki(dir: string, opts: EasyRsaOptions): Promise<EasyRsaPki> {
  const pkiDir = path.join(dir, 'pki');
  const env = easyRsaEnv(pkiDir, opts.algo);
  // Run from `dir` so that nothing easy-rsa might write beside itself lands in the repo.
  await mkdir(dir, { recursive: true });
  const easyrsa = (...args: string[]) => run(EASYRSA, args, { env, cwd: dir });
  await easyrsa('init-pki');
  // The CA's name goes in EASYRSA_REQ_CN for build-ca only: easy-rsa 3.1 refuses it for
  // build-*-full, whose commonName is the entity's name.
  await run(EASYRSA, ['build-ca', 'nopass'], { env: { ...env, EASYRSA_REQ_CN: 'Stock Test CA' }, cwd: dir });
  await easyrsa('build-server-full', 'server', 'nopass');
  const clients: EasyRsaPki['clients'] = {};
  for (const name of opts.clients) {
    await easyrsa('build-client-full', name, 'nopass');
    clients[name] = { cert: path.join(pkiDir, 'issued', `${name}.crt`), key: path.join(pkiDir, 'private', `${name}.key`) };
  }
  return {
    dir: pkiDir,
    ca: path.join(pkiDir, 'ca.crt'),
    serverCert: path.join(pkiDir, 'issued', 'server.crt'),
    serverKey: path.join(pkiDir, 'private', 'server.key'),
    clients,
  };
}

/** A tls-crypt key, made by openvpn itself as its manual says. Returns the path. */
export async function makeTlsCryptKey(file: string): Promise<string> {
  await run('openvpn', ['--genkey', 'tls-crypt', file]);
  return file;
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

export type StockAuth =
  /** Certificate only. */
  | { kind: 'none' }
  /** Certificate + username/password checked by an auth-user-pass-verify script. */
  | { kind: 'password'; users: Record<string, string> }
  /** Static challenge: the client sends `SCRV1:<base64 password>:<base64 TOTP code>`. */
  | { kind: 'static-otp'; users: Record<string, { password: string; totpSecret: string /* base32 */ }> }
  /** Dynamic challenge: a right password is answered with `CRV1:R,E:<state>:<b64 user>:<text>`,
   *  and the retry with password `CRV1::<state>::<response>` must carry `expectedResponse`. */
  | { kind: 'crv1'; users: Record<string, string>; challengeText: string; expectedResponse: string };

export interface StockServerOptions {
  pki: EasyRsaPki;
  /** Default udp. */
  proto?: 'udp' | 'tcp';
  /** Default 1194. */
  port?: number;
  /** Tunnel pool (CIDR); default the lab's. Another server running in the same lab needs its own. */
  pool?: string;
  /** `keepalive PING RESTART` seconds (pushed to clients too); default [10, 60]. */
  keepalive?: [number, number];
  /** Path of a tls-crypt key (see makeTlsCryptKey); clients then need the same key. */
  tlsCrypt?: string;
  /** Default { kind: 'none' }. */
  auth?: StockAuth;
  /** More config lines an admin might add (e.g. 'auth-gen-token', 'reneg-sec 0'). */
  extraConfig?: string[];
  /** Where config, script and logs go; default a fresh temp dir. */
  dir?: string;
}

export interface StockServer {
  /** The running openvpn server (its log is server.lines). */
  server: Watched;
  configPath: string;
  port: number;
  proto: 'udp' | 'tcp';
  /** The server's own files: config, verify script, its data, temp files. */
  dir: string;
  /** One line per verify-script run, saying what it checked; undefined for auth 'none'. */
  verifyLog: string | undefined;
  stop(): Promise<void>;
}

/** Where the installed otpauth lives, for the verify script (it runs outside this process). */
const OTPAUTH = createRequire(import.meta.url).resolve('otpauth');

/**
 * Writes a hand-written server config and starts `openvpn --config` in the gateway namespace.
 * Resolves once the server logs "Initialization Sequence Completed"; rejects with its log if it
 * exits first.
 */
export async function startStockServer(lab: Lab, opts: StockServerOptions): Promise<StockServer> {
  const dir = opts.dir ?? (await tempDir('ferry-stock-server-'));
  await mkdir(dir, { recursive: true });
  const proto = opts.proto ?? 'udp';
  const port = opts.port ?? 1194;
  const auth = opts.auth ?? { kind: 'none' };

  const lines = serverConfigLines(lab, { ...opts, proto, port });
  let verifyLog: string | undefined;
  if (auth.kind !== 'none') {
    verifyLog = path.join(dir, 'verify.log');
    const script = await writeVerifyScript(dir, auth, verifyLog);
    lines.push(
      // The script runs once per login; it reads the username and password from a temp file
      // that openvpn writes into tmp-dir (by default its working directory, i.e. the repo).
      `auth-user-pass-verify ${quote(script)} via-file`,
      'script-security 2',
      `tmp-dir ${quote(dir)}`,
    );
  }
  lines.push(...(opts.extraConfig ?? []));

  const configPath = path.join(dir, 'server.conf');
  await writeFile(configPath, `${lines.join('\n')}\n`);
  const server = new Watched(lab.spawn('gateway', ['openvpn', '--config', configPath]), `stock openvpn server (${proto}/${port})`);
  await untilReady(server);
  return {
    server,
    configPath,
    port,
    proto,
    dir,
    verifyLog,
    stop: async () => {
      await server.stop();
    },
  };
}

/** The config an administrator following the OpenVPN HOWTO would write for this lab. */
function serverConfigLines(lab: Lab, opts: StockServerOptions & { proto: 'udp' | 'tcp'; port: number }): string[] {
  const [ping, restart] = opts.keepalive ?? [10, 60];
  const lines = [
    '# Hand-written server config, as an administrator would write it.',
    `port ${opts.port}`,
    `proto ${opts.proto}`,
    'dev tun',
    'topology subnet',
    `server ${cidrToAddressMask(opts.pool ?? lab.addr.pool)}`,
    `push "route ${cidrToAddressMask(lab.addr.vpcSubnet)}"`,
    `ca ${quote(opts.pki.ca)}`,
    `cert ${quote(opts.pki.serverCert)}`,
    `key ${quote(opts.pki.serverKey)}`,
    // ECDHE only; no Diffie-Hellman parameter file (OpenVPN 2.4+).
    'dh none',
    `keepalive ${ping} ${restart}`,
    'persist-key',
    'persist-tun',
    'verb 3',
  ];
  if (opts.tlsCrypt) lines.push(`tls-crypt ${quote(opts.tlsCrypt)}`);
  // Over UDP, tell clients when the server goes away so they reconnect at once (TCP sees the close).
  if (opts.proto === 'udp') lines.push('explicit-exit-notify 1');
  return lines;
}

export async function untilReady(server: Watched): Promise<void> {
  const died = server.exited.then((code) => {
    throw new Error(`${server.label} exited (${code}) before it was ready:\n${server.lines.slice(-30).join('\n')}`);
  });
  try {
    await Promise.race([server.waitFor(CONNECTED), died]);
  } catch (err) {
    await server.stop();
    throw err;
  }
  died.catch(() => undefined); // a later exit is the test's business, not an unhandled rejection
}

/** "198.18.100.0/24" -> "198.18.100.0 255.255.255.0", as `server` and `route` want it. */
function cidrToAddressMask(cidr: string): string {
  const [address, bits] = cidr.split('/');
  const prefix = Number(bits);
  if (address === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`not a CIDR: ${cidr}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${address} ${[24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.')}`;
}

/** Quotes a config-file parameter (OpenVPN's parser: double quotes, backslash escapes). */
export function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

// ---------------------------------------------------------------------------------------
// The verify script (auth-user-pass-verify ... via-file)
// ---------------------------------------------------------------------------------------

/**
 * Writes verify.cjs and its data (auth.json) into `dir`. openvpn runs it directly, so it
 * carries this Node's absolute path in its #! line. The script is self-contained CommonJS
 * (the otpauth package is required by absolute path), so it does not depend on the
 * environment openvpn gives it.
 */
export async function writeVerifyScript(dir: string, auth: Exclude<StockAuth, { kind: 'none' }>, verifyLog: string): Promise<string> {
  const data = { auth, verifyLog, statesFile: path.join(dir, 'crv1-states.json'), otpauth: OTPAUTH };
  // Test fixture accounts, readable only by root, like any admin's password file.
  await writeFile(path.join(dir, 'auth.json'), JSON.stringify(data, null, 2), { mode: 0o600 });
  const script = path.join(dir, 'verify.cjs');
  await writeFile(script, `#!${process.execPath}\n${VERIFY_SCRIPT}`);
  await chmod(script, 0o700);
  return script;
}

/**
 * The verify script's body. Exit 0 accepts, exit 1 refuses. For a dynamic challenge it
 * refuses the first (right) password with a CRV1 reason written to $auth_failed_reason_file,
 * which OpenVPN 2.6 sends to the client as `AUTH_FAILED,<reason>`. Issued state ids live in
 * crv1-states.json; each may be answered once, by the user it was issued to, within 5 minutes.
 */
const VERIFY_SCRIPT = String.raw`'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const cfg = JSON.parse(fs.readFileSync(path.join(__dirname, 'auth.json'), 'utf8'));
const [username = '', password = ''] = fs.readFileSync(process.argv[process.argv.length - 1], 'utf8').split('\n');
const STATE_TTL_MS = 5 * 60 * 1000;

function log(message) {
  fs.appendFileSync(cfg.verifyLog, 'user ' + username + ': ' + message + '\n');
}
function accept(message) {
  log(message);
  process.exit(0);
}
function refuse(message, clientReason) {
  if (clientReason !== undefined) {
    const file = process.env.auth_failed_reason_file;
    if (!file) {
      log('cannot send a reason: auth_failed_reason_file is not set');
    } else {
      fs.writeFileSync(file, clientReason);
    }
  }
  log(message);
  process.exit(1);
}
function same(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s) => Buffer.from(s, 'base64').toString('utf8');

function readStates() {
  try {
    return JSON.parse(fs.readFileSync(cfg.statesFile, 'utf8'));
  } catch {
    return {};
  }
}
function writeStates(states) {
  const tmp = cfg.statesFile + '.tmp';
  fs.writeFileSync(tmp, JSON.stringify(states, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, cfg.statesFile);
}

function checkPassword() {
  const expected = cfg.auth.users[username];
  if (expected === undefined) refuse('unknown user');
  if (!same(password, expected)) refuse('password wrong');
  accept('password ok');
}

function checkStaticOtp() {
  const user = cfg.auth.users[username];
  if (user === undefined) refuse('unknown user');
  const m = /^SCRV1:([^:]*):([^:]*)$/.exec(password);
  if (!m) refuse('not a static-challenge response (want SCRV1:<b64 password>:<b64 code>)');
  const { TOTP, Secret } = require(cfg.otpauth);
  const totp = new TOTP({ secret: Secret.fromBase32(user.totpSecret) });
  const passwordOk = same(unb64(m[1]), user.password);
  const otpOk = totp.validate({ token: unb64(m[2]).trim(), window: 1 }) !== null;
  const result = 'password ' + (passwordOk ? 'ok' : 'wrong') + ', otp ' + (otpOk ? 'ok' : 'wrong');
  if (passwordOk && otpOk) accept(result);
  refuse(result);
}

function checkCrv1() {
  const response = /^CRV1::([^:]+)::(.*)$/s.exec(password);
  if (response) return answerChallenge(response[1], response[2]);
  const expected = cfg.auth.users[username];
  if (expected === undefined) refuse('unknown user');
  if (!same(password, expected)) refuse('password wrong');
  // Right password: the first factor is done; ask for the second.
  const stateId = crypto.randomBytes(16).toString('hex');
  const states = readStates();
  states[stateId] = { username, issuedAt: Date.now() };
  writeStates(states);
  refuse('password ok, challenge issued (state ' + stateId + ')', 'CRV1:R,E:' + stateId + ':' + b64(username) + ':' + cfg.auth.challengeText);
}

function answerChallenge(stateId, answer) {
  const states = readStates();
  const state = states[stateId];
  if (state === undefined) refuse('crv1 state ' + stateId + ' unknown');
  // One answer per challenge, right or wrong: a guess burns the state id.
  delete states[stateId];
  writeStates(states);
  if (state.username !== username) refuse('crv1 state ' + stateId + ' was issued to ' + state.username);
  if (Date.now() - state.issuedAt > STATE_TTL_MS) refuse('crv1 state ' + stateId + ' expired');
  if (!same(answer, cfg.auth.expectedResponse)) refuse('crv1 state ' + stateId + ' ok, response wrong');
  accept('crv1 state ' + stateId + ' ok, response ok');
}

try {
  switch (cfg.auth.kind) {
    case 'password':
      checkPassword();
      break;
    case 'static-otp':
      checkStaticOtp();
      break;
    case 'crv1':
      checkCrv1();
      break;
    default:
      refuse('unknown auth kind ' + cfg.auth.kind);
  }
} catch (err) {
  log('verify script failed: ' + (err && err.stack ? err.stack : err));
  process.exit(1);
}
`;

// ---------------------------------------------------------------------------------------
// Client side helpers: what a stock client (or a test) needs to talk to such a server
// ---------------------------------------------------------------------------------------

export interface ClientConfigOptions {
  lab: Lab;
  pki: EasyRsaPki;
  /** Which of pki.clients to use. */
  client: string;
  server: Pick<StockServer, 'port' | 'proto'>;
  tlsCrypt?: string;
  /** Written to an auth-user-pass file (mode 0600) next to the config. */
  credentials?: [username: string, password: string];
}

/** A hand-written stock-client config for `startOpenvpnClient`. Returns its path. */
export async function writeClientConfig(dir: string, opts: ClientConfigOptions): Promise<string> {
  const files = opts.pki.clients[opts.client];
  if (!files) throw new Error(`no client "${opts.client}" in the PKI`);
  const lines = [
    'client',
    'dev tun',
    `proto ${opts.server.proto === 'tcp' ? 'tcp-client' : 'udp'}`,
    `remote ${opts.lab.addr.gatewayUnderlay} ${opts.server.port}`,
    'nobind',
    `ca ${quote(opts.pki.ca)}`,
    `cert ${quote(files.cert)}`,
    `key ${quote(files.key)}`,
    'remote-cert-tls server',
  ];
  if (opts.tlsCrypt) lines.push(`tls-crypt ${quote(opts.tlsCrypt)}`);
  if (opts.credentials) {
    const file = path.join(dir, 'credentials');
    await writeFile(file, `${opts.credentials[0]}\n${opts.credentials[1]}\n`, { mode: 0o600 });
    lines.push(`auth-user-pass ${quote(file)}`);
  }
  const config = path.join(dir, `${opts.client}.conf`);
  await writeFile(config, `${lines.join('\n')}\n`);
  return config;
}

/** The password a static-challenge client sends: `SCRV1:<base64 password>:<base64 response>`. */
export function scrv1(password: string, response: string): string {
  return `SCRV1:${Buffer.from(password).toString('base64')}:${Buffer.from(response).toString('base64')}`;
}

export interface Crv1Challenge {
  flags: string[];
  stateId: string;
  username: string;
  challengeText: string;
}

/** Finds a dynamic challenge (`CRV1:<flags>:<state>:<b64 user>:<text>`) in a log line or reason. */
export function parseCrv1(text: string): Crv1Challenge | undefined {
  const m = /CRV1:([^:]*):([^:]+):([^:]*):(.*)$/.exec(text);
  if (!m) return undefined;
  const [, flags = '', stateId = '', user = '', challenge = ''] = m;
  // The client log wraps the reason as ['CRV1:...'] in some places; drop that tail.
  return {
    flags: flags.split(',').filter(Boolean),
    stateId,
    username: Buffer.from(user, 'base64').toString('utf8'),
    challengeText: challenge.replace(/'\]$/, ''),
  };
}

/** The password that answers a dynamic challenge. */
export function crv1Response(stateId: string, response: string): string {
  return `CRV1::${stateId}::${response}`;
}
