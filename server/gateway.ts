/**
 * `ferry-server run`: the real openvpn server in the foreground, admitted clients decided
 * here (management-client-auth), a control socket for status, session cuts and shutdown, and
 * a clean stop on SIGTERM/SIGINT or a shutdown request.
 */
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../core/util/atomic-file.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { ManagementConnection, quoteArg, type Notification } from '../core/management/connection.js';
import { findOpenvpn } from '../core/engine/openvpn-binary.js';
import { onOutputLines, spawnOpenvpn } from '../core/engine/openvpn-process.js';
import { stopPid, stopProcess } from '../core/util/stop-process.js';
import { decideAdmission, type Admission } from './admission.js';
import { controlRequest, serveControl, type ConnectedClient, type ControlRequest, type GatewayStatus } from './control.js';
import { parseIpv4Cidr } from './net.js';
import { buildServerConfig } from './openvpn-config.js';
import { mbpsToKbit, runSteps, Shaper, shapingDeviceNames, teardownSteps, type ShapingTarget } from './shaping.js';
import { ClusterNode, type LocalSession } from './cluster.js';
import type { PgStore } from './pg-store.js';
import { findAccount, type StateDir, type StateStore } from './store.js';

/** Re-sign the CRL at start-up when it would expire within this many days. */
const CRL_REFRESH_DAYS = 365;

/** IV_PROTO bits a client announces (openvpn src/openvpn/ssl.h). */
const IV_PROTO_REQUEST_PUSH = 1 << 2;
const IV_PROTO_AUTH_PENDING_KW = 1 << 4;
/** OpenVPN's default --hand-window: what a client waits for PUSH_REPLY anyway. */
const PENDING_AUTH_TIMEOUT_S = 60;

/**
 * A client that takes PUSH_REPLY without asking for it (so openvpn pushes as soon as it
 * sees the authentication done) and understands AUTH_PENDING with keywords: OpenVPN 2.5+.
 */
export function takesPushUnasked(env: ReadonlyMap<string, string>): boolean {
  const proto = Number(env.get('IV_PROTO') ?? 0);
  const need = IV_PROTO_REQUEST_PUSH | IV_PROTO_AUTH_PENDING_KW;
  return Number.isInteger(proto) && (proto & need) === need;
}

interface ClientRequest {
  kind: 'CONNECT' | 'REAUTH' | 'ESTABLISHED' | 'DISCONNECT';
  cid: string;
  kid?: string;
  env: Map<string, string>;
}

export interface GatewayOptions {
  log?: (line: string) => void;
  /** Resolves when the gateway should stop (the CLI wires SIGTERM/SIGINT to it). */
  stopSignal: Promise<void>;
  /** With a database store: this gateway's node name (`run --node NAME`). */
  node?: string;
}

export async function runGateway(store: StateStore, opts: GatewayOptions): Promise<void> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const state = store.local;
  let settings = await store.readSettings();
  const openvpn = findOpenvpn();
  if (process.getuid?.() !== 0) {
    throw new FerryError('ferry-server run needs root: it creates a tun device and listens on the VPN port');
  }
  if ((await controlRequest(state.controlSocket, { op: 'status' }, 2_000).catch(() => undefined)) !== undefined) {
    throw new FerryError(`a gateway is already running for ${state.dir}; stop it first`);
  }
  await state.ensureLayout();
  let cluster: ClusterNode | undefined;
  // The gateway, created once openvpn runs; the cluster's hooks reach it through this.
  let gatewayRef: Gateway | undefined;
  // Another run claimed our node while this one was seen as down: this run stops.
  let loseNode!: (why: string) => void;
  const nodeLost = new Promise<string>((resolve) => (loseNode = resolve));
  if (store.kind === 'database') {
    if (!opts.node) throw new InputError('with --database, say which node this is: ferry-server run --node NAME');
    cluster = await ClusterNode.claim(store as PgStore, opts.node, {
      log,
      lost: (why) => loseNode(why),
      sessions: () => gatewayRef?.localSessions() ?? [],
      kill: async (account) => void (await gatewayRef?.kill(account)),
      killSession: async (cid) => void (await gatewayRef?.killSession(cid)),
      reloadLimits: async () => gatewayRef?.reapplyLimits(),
    });
  } else if (opts.node) {
    throw new InputError('--node needs --database: a state directory serves one gateway');
  }
  try {
    await refreshCrlIfNeeded(store, log);
    await cluster?.writeGatewayFiles();
  } catch (err) {
    await cluster?.stop();
    throw err;
  }
  if (cluster) settings = { ...settings, pool: cluster.slice(settings).cidr, port: cluster.node.port };
  await writeFileAtomic(state.serverConfigFile, buildServerConfig(settings, state, process.platform, { cluster: cluster !== undefined }));
  await stopOrphanedOpenvpn(state, log);

  // Only what finds the binary: openvpn itself gets PATH alone (spawnOpenvpn), never our
  // environment, which may hold $FERRY_SERVER_DATABASE and its password.
  const child = await spawnOpenvpn(state.serverConfigFile, state.dir, { PATH: process.env.PATH, FERRY_OPENVPN: openvpn });
  const recentOutput: string[] = [];
  onOutputLines(child, (line) => {
    recentOutput.push(line);
    if (recentOutput.length > 20) recentOutput.shift();
    log(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let alive = true;
  void exited.then(() => (alive = false));

  let requestShutdown!: () => void;
  const shutdownRequested = new Promise<void>((resolve) => (requestShutdown = resolve));
  // Rate limits need Linux traffic control; elsewhere the gateway runs without them.
  const shaper =
    process.platform === 'linux' ? new Shaper({ ...shapingDeviceNames(state.dir), pool: parseIpv4Cidr(settings.pool, 'client address pool') }) : undefined;
  // After the reply is on its way: the stop below closes the control socket.
  const gateway = new Gateway(store, log, () => setImmediate(requestShutdown), shaper, cluster);
  gatewayRef = gateway;
  const lastProblem = () => recentOutput.filter((l) => /error|fatal|cannot|exiting/i.test(l)).pop() ?? recentOutput.at(-1) ?? 'no output';
  let control: Server | undefined;
  let crlTimer: NodeJS.Timeout | undefined;
  try {
    await gateway.attach(() => alive);
    control = await serveControl(state.controlSocket, (req) => gateway.handleControl(req));
    await Promise.race([gateway.start(), exited]);
    if (!alive) throw new FerryError(`openvpn failed to start: ${lastProblem()}`);
    await gateway.reapplyLimits();
    await cluster?.start();
    crlTimer = setInterval(() => void refreshCrlIfNeeded(store, log).catch((err: Error) => log(`ferry-server: CRL refresh failed: ${err.message}`)), 86_400_000);
    crlTimer.unref();
    log(`ferry-server: gateway "${settings.name}"${cluster ? ` node "${cluster.node.name}" (pool slice ${settings.pool})` : ''} ready on ${settings.proto.toUpperCase()} port ${settings.port}`);
    const outcome = await Promise.race([
      opts.stopSignal.then(() => 'stop' as const),
      shutdownRequested.then(() => 'shutdown' as const),
      exited.then(() => 'exited' as const),
      nodeLost.then((why) => ({ lost: why })),
    ]);
    if (typeof outcome === 'object') throw new FerryError(outcome.lost);
    if (outcome === 'exited') throw new FerryError(`openvpn stopped unexpectedly: ${lastProblem()}`);
    log(outcome === 'shutdown' ? 'ferry-server: stopping (asked to over the control socket)' : 'ferry-server: stopping');
  } catch (err) {
    if (!alive && !(err instanceof FerryError)) throw new FerryError(`openvpn failed to start: ${lastProblem()}`);
    throw err;
  } finally {
    clearInterval(crlTimer);
    control?.close();
    await state.removeRunFile(state.controlSocket);
    await stopProcess(child, 10_000);
    gateway.detach();
    await shaper?.close(); // nothing of ours outlives run: the ifb device goes too
    await state.removeRunFile(state.managementSocket);
    await cluster?.stop();
  }
}

/**
 * An openvpn still listening on our management socket with no ferry-server in front of it
 * was left by a `run` that was killed (SIGKILL): stop it, or it would keep the port and
 * the tun device, and hold new clients forever waiting for an admission decision.
 */
async function stopOrphanedOpenvpn(state: StateDir, log: (line: string) => void): Promise<boolean> {
  const orphan = await ManagementConnection.connect(state.managementSocket, () => {}, { attempts: 1 }).catch(() => undefined);
  if (orphan) {
    const closed = new Promise<void>((resolve) => orphan.onClose(() => resolve()));
    const pid = Number(/pid=(\d+)/.exec((await orphan.command('pid').catch(() => [])).join(' '))?.[1] ?? 0);
    await orphan.command('signal SIGTERM').catch(() => undefined);
    await Promise.race([closed, sleep(10_000, undefined, { ref: false })]); // unref: a CLI must not wait out the timer
    orphan.close();
    // The socket closes before openvpn has removed its tun device and exited: wait for that
    // too, so the port and device are free when this returns.
    if (pid > 0) await stopPid(pid, 10_000, { isAlive: () => isRunningConfig(pid, state.serverConfigFile), signal: null });
    log('ferry-server: stopped an openvpn left behind by a previous run');
  }
  await state.removeRunFile(state.managementSocket);
  return orphan !== undefined;
}

/**
 * For `ferry-server delete`: stops the gateway of `state` and returns once nothing of it
 * runs any more. A running `ferry-server run` is asked over the control socket, then waited
 * for until its process has exited (it stops its openvpn first); otherwise an openvpn a
 * killed run left is stopped. Call only when run/ is a real directory of the state (not a
 * link placed there).
 */
export async function stopGateway(state: StateDir): Promise<'stopped' | 'orphan' | 'none'> {
  const reply = await controlRequest(state.controlSocket, { op: 'shutdown' }).catch((err: Error) => {
    throw new FerryError(`the running gateway did not agree to stop (${err.message}); stop "ferry-server run" yourself, then run the command again`);
  });
  if (reply !== undefined) {
    const parsed = z.object({ pid: z.number().int().positive() }).safeParse(reply);
    if (!parsed.success) throw new FerryError('the running gateway did not say which process to wait for; stop "ferry-server run" yourself, then run the command again');
    const { pid } = parsed.data;
    if (!(await waitUntilGone(() => isRunning(pid), 60_000))) {
      throw new FerryError(`the gateway (pid ${pid}) did not stop within a minute; stop it, then run the command again`);
    }
    return 'stopped';
  }
  const orphan = await stopOrphanedOpenvpn(state, () => {});
  // A killed run also left its ifb device (the tun went with its openvpn).
  if (process.platform === 'linux') await runSteps(teardownSteps(shapingDeviceNames(state.dir)), { ignoreErrors: true });
  return orphan ? 'orphan' : 'none';
}

/** Polls `alive` until false; false if it still holds after `timeoutMs`. */
async function waitUntilGone(alive: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; await alive(); await sleep(20)) {
    if (Date.now() > deadline) return false;
  }
  return true;
}

/** A process that exists and is not a zombie (one that exited, waiting for its parent to reap it). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined ? process.platform !== 'linux' : !/^\d+ \(.*\) Z/s.test(stat);
}

/** Only a process still running our config is our openvpn: a pid alone may have been reused. */
async function isRunningConfig(pid: number, config: string): Promise<boolean> {
  if (pid <= 0 || !(await isRunning(pid))) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(config);
}

async function refreshCrlIfNeeded(state: StateStore, log: (line: string) => void): Promise<void> {
  await state.withLock(async () => {
    const index = await state.readIndex();
    const meta = await state.ensureCrlCurrent(index);
    const daysLeft = (new Date(meta.nextUpdate).getTime() - Date.now()) / 86_400_000;
    if (daysLeft < CRL_REFRESH_DAYS) {
      index.crlNumber += 1;
      await state.writeIndex(index);
      const fresh = await state.ensureCrlCurrent(index);
      log(`ferry-server: CRL re-signed; valid until ${fresh.nextUpdate}`);
    }
  });
}

/** Whether the request carried a password (two-factor login). */
/**
 * How a client proved itself, for the log: the proof of a token login is that openvpn
 * checked the token (session_state) and no password came (openvpn hands over what the
 * client sent as its password: a token starts SESS_ID_).
 */
function admittedHow(env: ReadonlyMap<string, string>): string {
  const sent = env.get('password') ?? '';
  if (env.get('session_state') === 'Authenticated') {
    return `by session token (session_state=Authenticated, ${sent === '' || sent.startsWith('SESS_ID_') ? 'no password sent' : 'a password was sent too'})`;
  }
  return sent !== '' ? 'by certificate and password' : 'by certificate';
}

/** Seconds between openvpn's per-client byte counts (management `bytecount`). */
const BYTECOUNT_INTERVAL_S = 1;

/** One client's tunnel as the gateway tracks it, from admission to DISCONNECT. */
interface TunnelSession {
  account: string;
  /** The serial of the certificate it authenticated with (tls_serial_hex_0): a revoked one is cut whatever the name. */
  serial?: string;
  realAddress?: string;
  connectedAt?: number;
  established: boolean;
  admittedAt: number;
  /** Its address in the client pool, once established. */
  address?: string;
  lastCount?: { at: number; bytesIn: number; bytesOut: number };
  /** Bits per second over the last byte-count interval, as seen by the gateway. */
  rate?: { inBps: number; outBps: number };
}

/** The one router for the gateway's management messages, and the admission decisions. */
class Gateway {
  private management?: ManagementConnection;
  private pending?: ClientRequest;
  /** Sessions counted against max-clients: client id -> account, from admission to DISCONNECT. */
  private readonly sessions = new Map<string, TunnelSession>();
  /** CONNECTs whose decision is in flight; a DISCONNECT meanwhile takes the client out. */
  private readonly deciding = new Set<string>();
  private readonly startedAt = new Date();
  private readyResolve?: () => void;

  constructor(
    private readonly state: StateStore,
    private readonly log: (line: string) => void,
    private readonly requestShutdown: () => void,
    private readonly shaper: Shaper | undefined,
    private readonly cluster?: ClusterNode,
  ) {}

  /** This gateway's sessions, for the cluster's ferry_connections. */
  localSessions(): LocalSession[] {
    return [...this.sessions].map(([cid, s]) => ({
      cid,
      account: s.account,
      ...(s.serial ? { serial: s.serial } : {}),
      established: s.established,
      ...(s.address ? { address: s.address } : {}),
      ...(s.realAddress ? { realAddress: s.realAddress } : {}),
      ...(s.lastCount ? { bytesIn: s.lastCount.bytesIn, bytesOut: s.lastCount.bytesOut } : {}),
      ...(s.connectedAt ? { connectedSince: s.connectedAt } : {}),
    }));
  }

  async attach(isAlive: () => boolean): Promise<void> {
    this.management = await ManagementConnection.connect(this.state.local.managementSocket, (n) => this.route(n), { isAlive, attempts: 200 });
  }

  /** Releases openvpn's management hold and waits until it reports CONNECTED. */
  async start(): Promise<void> {
    const ready = new Promise<void>((resolve) => (this.readyResolve = resolve));
    await this.mgmt().command('state on');
    await this.mgmt().command('hold release');
    await ready;
    // >BYTECOUNT_CLI once a second per client: the current rates `status` shows.
    await this.mgmt().command(`bytecount ${BYTECOUNT_INTERVAL_S}`);
  }

  /**
   * Brings traffic control to the limits in the state directory for the tunnels now up.
   * Called when a tunnel comes or goes and when an administrator changes a limit.
   */
  async applyLimits(): Promise<void> {
    if (!this.shaper) {
      const settings = await this.state.readSettings();
      const index = await this.state.readIndex();
      if (settings.bandwidthMbps !== undefined || index.accounts.some((a) => a.rateLimitMbps !== undefined)) {
        throw new FerryError(`rate limits need Linux traffic control; this gateway runs on ${process.platform}`);
      }
      return;
    }
    await this.shaper.apply(() => this.shapingTarget());
  }

  private async shapingTarget(): Promise<ShapingTarget> {
    const [settings, index] = await Promise.all([this.state.readSettings(), this.state.readIndex()]);
    const tunnels = new Map<string, number | undefined>();
    for (const session of this.sessions.values()) {
      const limit = findAccount(index, session.account)?.rateLimitMbps;
      if (session.address) tunnels.set(session.address, limit === undefined ? undefined : mbpsToKbit(limit));
    }
    return { ...(settings.bandwidthMbps !== undefined ? { capKbit: mbpsToKbit(settings.bandwidthMbps) } : {}), tunnels };
  }

  /** Applies the limits again; a failure is said in the log, never thrown. */
  reapplyLimits(): Promise<void> {
    return this.applyLimits().catch((err: Error) => this.log(`ferry-server: rate limits NOT enforced: ${err.message}`));
  }

  detach(): void {
    this.management?.close();
  }

  private mgmt(): ManagementConnection {
    if (!this.management) throw new FerryError('the gateway is not attached to openvpn');
    return this.management;
  }

  /** HOLD, INFO and the rest need nothing: openvpn's own log already goes to stdout. */
  private route(n: Notification): void {
    switch (n.type) {
      case 'CLIENT':
        this.routeClient(n.body);
        break;
      case 'STATE':
        if (n.body.split(',')[1] === 'CONNECTED') this.readyResolve?.();
        break;
      case 'BYTECOUNT_CLI':
        this.countBytes(n.body);
        break;
      case 'FATAL':
        this.log(`ferry-server: openvpn fatal error: ${n.body}`);
        break;
    }
  }

  /** BYTECOUNT_CLI:cid,bytes in,bytes out (totals): the rate is the change since the last one. */
  private countBytes(body: string): void {
    const [cid, inText, outText] = body.split(',');
    const session = this.sessions.get(cid ?? '');
    const [bytesIn, bytesOut] = [Number(inText), Number(outText)];
    if (!session || !Number.isFinite(bytesIn) || !Number.isFinite(bytesOut)) return;
    const now = performance.now();
    const last = session.lastCount;
    if (last && now > last.at) {
      const seconds = (now - last.at) / 1000;
      session.rate = { inBps: Math.max(0, ((bytesIn - last.bytesIn) * 8) / seconds), outBps: Math.max(0, ((bytesOut - last.bytesOut) * 8) / seconds) };
    }
    session.lastCount = { at: now, bytesIn, bytesOut };
  }

  /** CLIENT:CONNECT|REAUTH,cid,kid / ESTABLISHED,cid / DISCONNECT,cid, then ENV lines up to ENV,END. */
  private routeClient(body: string): void {
    if (body.startsWith('ENV,')) {
      const entry = body.slice(4);
      if (!this.pending) return;
      if (entry === 'END') {
        const request = this.pending;
        this.pending = undefined;
        void this.handleClient(request).catch((err: Error) => this.log(`ferry-server: error handling client ${request.cid}: ${err.message}`));
        return;
      }
      const eq = entry.indexOf('=');
      if (eq > 0) this.pending.env.set(entry.slice(0, eq), entry.slice(eq + 1));
      return;
    }
    const [kind, cid, kid] = body.split(',');
    if (kind === 'CONNECT' || kind === 'REAUTH' || kind === 'ESTABLISHED' || kind === 'DISCONNECT') {
      this.pending = { kind, cid: cid ?? '', ...(kid !== undefined ? { kid } : {}), env: new Map() };
    }
  }

  private async handleClient(req: ClientRequest): Promise<void> {
    const cn = req.env.get('common_name') ?? '';
    if (req.kind === 'ESTABLISHED') {
      const address = req.env.get('ifconfig_pool_remote_ip');
      const real = req.env.get('trusted_ip');
      const realAddress = real ? `${real}:${req.env.get('trusted_port') ?? ''}` : undefined;
      const serial = req.env.get('tls_serial_hex_0') || this.sessions.get(req.cid)?.serial;
      this.sessions.set(req.cid, { account: cn, ...(serial ? { serial } : {}), established: true, admittedAt: Date.now(), connectedAt: Date.now(), ...(address ? { address } : {}), ...(realAddress ? { realAddress } : {}) });
      this.log(`ferry-server: ${cn} connected from ${req.env.get('trusted_ip') ?? '?'} as ${address ?? '?'}`);
      void this.reapplyLimits();
      return;
    }
    if (req.kind === 'DISCONNECT') {
      const session = this.sessions.get(req.cid);
      this.sessions.delete(req.cid);
      this.deciding.delete(req.cid); // a decision still in flight must not record it afterwards
      this.log(`ferry-server: ${cn} disconnected`);
      if (this.cluster) {
        const { name } = this.cluster.node;
        void this.cluster.store.query('DELETE FROM ferry_connections WHERE node = $1 AND cid = $2', [name, req.cid]).catch(() => {}); // else the heartbeat does it
      }
      if (session?.address) void this.reapplyLimits();
      return;
    }
    if (this.cluster) return this.handleClusterClient(req);
    if (req.kind === 'CONNECT') this.deciding.add(req.cid);
    try {
      await this.decide(req, cn);
    } finally {
      this.deciding.delete(req.cid);
    }
  }

  private async decide(req: ClientRequest, cn: string): Promise<void> {
    const [settings, index] = await Promise.all([this.state.readSettings(), this.state.readIndex()]);
    // Admitted-but-not-yet-established clients count too, so two racing clients cannot both
    // take the last slot; one that never establishes stops counting after a minute.
    const now = Date.now();
    const others = new Set(
      [...this.sessions]
        .filter(([cid, s]) => cid !== req.cid && (s.established || now - s.admittedAt < 60_000))
        .map(([, s]) => s.account),
    );
    others.delete(cn); // a reconnect of the same account replaces its old session
    const decision = await decideAdmission({ env: req.env, settings, index, otherConnectedAccounts: others });
    if (req.kind === 'CONNECT' && !this.deciding.has(req.cid)) {
      this.log(`ferry-server: ${cn || '(no name)'} left before its admission was decided`);
      return;
    }
    if (decision.allow) await this.admit(req, decision.account);
    else await this.refuse(req, decision.reason, decision.clientReason);
  }

  /** Tells openvpn yes; a new client counts against the limit from now (admittedAt). */
  private async admit(req: ClientRequest, account: string): Promise<void> {
    this.log(`ferry-server: admitted ${account} (${req.kind}) ${admittedHow(req.env)}`);
    const serial = req.env.get('tls_serial_hex_0');
    if (req.kind === 'CONNECT') this.sessions.set(req.cid, { account, ...(serial ? { serial } : {}), established: false, admittedAt: Date.now() });
    else {
      // A renegotiation may present another certificate (of the same name): the session is now that one's.
      const held = this.sessions.get(req.cid);
      if (held && serial) held.serial = serial;
    }
    try {
      if (req.kind === 'CONNECT' && takesPushUnasked(req.env)) await this.admitAndWake(req);
      else await this.mgmt().command(`client-auth-nt ${req.cid} ${req.kid}`);
    } catch (err) {
      if (req.kind === 'CONNECT') this.sessions.delete(req.cid); // not admitted after all: it holds no slot
      throw err;
    }
  }

  /** Tells openvpn no: `reason` for the log (it names the account), `clientReason` for the client. */
  private async refuse(req: ClientRequest, reason: string, clientReason: string): Promise<void> {
    this.log(`ferry-server: refused ${reason}`);
    await this.mgmt().command(`client-deny ${req.cid} ${req.kid} ${quoteArg(reason)} ${quoteArg(clientReason)}`);
  }

  /**
   * Admission on a node of a cluster: the account rules as on a single gateway, then the
   * connection limit across every node in one database transaction. Without the database
   * a new client is refused with the reason; a session this gateway already holds keeps
   * its renegotiations.
   */
  private async handleClusterClient(req: ClientRequest): Promise<void> {
    const cluster = this.cluster!;
    const cn = req.env.get('common_name') ?? '';
    const held = this.sessions.get(req.cid);
    let decision: Admission;
    try {
      if (cluster.problem) throw new FerryError(cluster.problem.error);
      const [settings, index] = await Promise.all([this.state.readSettings(), this.state.readIndex()]);
      decision = await decideAdmission({ env: req.env, settings, index, otherConnectedAccounts: new Set() });
      if (decision.allow && req.kind === 'CONNECT') {
        const admitted = await cluster.store.admit(cluster.node.name, req.cid, decision.account, settings.maxClients);
        if (!admitted) decision = { allow: false, reason: `${cn}: connection limit of ${settings.maxClients} reached across the cluster`, clientReason: `connection limit reached (${settings.maxClients} clients)` };
      }
    } catch (err) {
      if (req.kind === 'REAUTH' && held?.account === cn) {
        this.log(`ferry-server: ${cn}: renegotiation allowed without the database (${(err as Error).message})`);
        await this.mgmt().command(`client-auth-nt ${req.cid} ${req.kid}`);
        return;
      }
      await this.refuse(
        req,
        `${cn || '(no name)'}: the state database is unreachable, new connections are refused (${(err as Error).message})`,
        'gateway cannot check accounts right now (database unreachable); try again shortly',
      );
      return;
    }
    if (decision.allow) await this.admit(req, decision.account);
    else await this.refuse(req, decision.reason, decision.clientReason);
  }

  /** Cuts every session of `account` (HALT: the client exits rather than retry). */
  async kill(account: string): Promise<number> {
    const ids = (await this.clientRows()).filter((c) => c.account === account).map((c) => c.cid);
    for (const cid of ids) await this.mgmt().command(`client-kill ${cid} HALT`);
    if (ids.length > 0) this.log(`ferry-server: cut the session of ${account}`);
    return ids.length;
  }

  /** Cuts one session by openvpn's client id (HALT); one already gone is no error. */
  async killSession(cid: string): Promise<void> {
    const account = this.sessions.get(cid)?.account ?? '(unknown)';
    try {
      await this.mgmt().command(`client-kill ${cid} HALT`);
    } catch (err) {
      if (/client-kill command failed/i.test((err as Error).message)) return; // disconnected meanwhile
      throw err;
    }
    this.log(`ferry-server: cut a session of ${account} (client ${cid}): its certificate or account is revoked`);
  }

  /**
   * Why a client-pending-auth goes with the client-auth-nt (openvpn 2.6 sources): multi.c
   * management_client_auth only records the result on the key (tls_authenticate_key) and
   * reschedules nothing, so openvpn acts on it (ssl.c tls_multi_process, then
   * multi_connection_established, which pushes at once to an IV_PROTO_REQUEST_PUSH client)
   * only when the client's instance next runs: on its next packet, in practice the client's
   * PUSH_REQUEST a second after it started, or its own timer (whole seconds). Every login
   * waited about a second after our answer. management_client_pending_auth is the one
   * management call that wakes the instance (multi_schedule_context_wakeup). Both go in one
   * write, pending first: openvpn runs them in one read of its socket (manage.c man_read),
   * then the instance, which pushes; a connected client never gets an AUTH_PENDING, and if
   * the two are read apart the login is only as slow as before. The client sees AUTH_PENDING
   * (timeout 60, its default hand-window: nothing changes) and an empty INFO_PRE, then PUSH_REPLY.
   */
  private async admitAndWake(req: ClientRequest): Promise<void> {
    const [wake, admit] = this.mgmt().commands([
      `client-pending-auth ${req.cid} ${req.kid} ${quoteArg('')} ${PENDING_AUTH_TIMEOUT_S}`,
      `client-auth-nt ${req.cid} ${req.kid}`,
    ]);
    // The client is admitted whatever becomes of the wake-up; it only saves time.
    const woken = wake!.then(
      () => undefined,
      (err: Error) => this.log(`ferry-server: client-pending-auth for client ${req.cid} failed (its push waits for its own request): ${err.message}`),
    );
    await Promise.all([admit, woken]);
  }

  async handleControl(req: ControlRequest): Promise<unknown> {
    switch (req.op) {
      case 'status': {
        const settings = await this.state.readSettings().catch((err: Error) => {
          if (!this.cluster) throw err;
          return undefined;
        });
        return {
          ...(this.cluster ? { node: this.cluster.node.name, ...(this.cluster.problem ? { databaseProblem: this.cluster.problem } : {}) } : {}),
          pid: process.pid,
          startedAt: this.startedAt.toISOString(),
          clients: await this.clients(),
          ...(settings?.bandwidthMbps !== undefined ? { bandwidthMbps: settings.bandwidthMbps } : {}),
          shaping: this.shaper?.status() ?? { state: 'off' },
        } satisfies GatewayStatus;
      }
      case 'reload-limits':
        await this.applyLimits();
        return this.shaper?.status() ?? { state: 'off' };
      case 'kill':
        // HALT tells the client to exit rather than retry a session that will be refused.
        return { killed: await this.kill(req.account) };
      case 'shutdown':
        this.requestShutdown();
        return { pid: process.pid };
    }
  }

  private async clients(): Promise<ConnectedClient[]> {
    const index = await this.state.readIndex().catch((err: Error) => {
      if (!this.cluster) throw err;
      return { version: 1 as const, crlNumber: 0, accounts: [], revoked: [] };
    });
    return (await this.clientRows()).map(({ cid, ...client }) => {
      const limit = findAccount(index, client.account)?.rateLimitMbps;
      const rate = this.sessions.get(cid)?.rate;
      return { ...client, ...(limit !== undefined ? { rateLimitMbps: limit } : {}), ...(rate ? { rateInBps: Math.round(rate.inBps), rateOutBps: Math.round(rate.outBps) } : {}) };
    });
  }

  /** Parses `status 3` (tab-separated, columns named by its HEADER line). */
  private async clientRows(): Promise<Array<ConnectedClient & { cid: string }>> {
    const lines = await this.mgmt().command('status 3');
    const header = lines.find((l) => l.startsWith('HEADER\tCLIENT_LIST\t'))?.split('\t').slice(1);
    if (!header) return [];
    const col = (row: string[], name: string) => row[header.indexOf(name)] ?? '';
    return lines
      .filter((l) => l.startsWith('CLIENT_LIST\t'))
      .map((l) => l.split('\t'))
      .map((row) => ({
        cid: col(row, 'Client ID'),
        account: col(row, 'Common Name'),
        realAddress: col(row, 'Real Address'),
        virtualAddress: col(row, 'Virtual Address'),
        bytesReceived: Number(col(row, 'Bytes Received')) || 0,
        bytesSent: Number(col(row, 'Bytes Sent')) || 0,
        connectedSince: new Date(Number(col(row, 'Connected Since (time_t)')) * 1000).toISOString(),
        ...(col(row, 'Data Channel Cipher') ? { cipher: col(row, 'Data Channel Cipher') } : {}),
      }));
  }
}
