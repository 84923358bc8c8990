/**
 * One VPN session: the single owner of the tunnel's truth. It starts openvpn through a
 * Launcher, speaks the management protocol (events from router.ts), answers credential
 * queries from a CredentialProvider and publishes state and stats. Tray, windows and the
 * CLI only display what it emits.
 *
 *   DISCONNECTED → CONNECTING → AUTH → CONNECTED ⇄ RECONNECTING
 *   any → DISCONNECTED (disconnect) | FAILED(reason)
 */
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagementConnection, quoteArg } from '../management/connection.js';
import type { EngineSpec } from '../engine/config.js';
import { HelperMissingError } from '../engine/helper-launcher.js';
import type { Launcher, RunningEngine } from '../engine/launcher.js';
import { OPENVPN_MISSING } from '../engine/openvpn-binary.js';
import type { Profile } from '../profile/schema.js';
import { ensurePrivateDir } from '../util/atomic-file.js';
import { FerryError } from '../util/errors.js';
import type { CredentialProvider } from './credentials.js';
import { attemptFailure, classifyAuthFailure, classifyFatal, classifyLogLine, newAttempt, withoutTimestamp, type AttemptEvidence, type Failure } from './failures.js';
import { findOverlap, type LocalNetwork } from './local-networks.js';
import { RepeatGuard, repeatedFailure } from './repeat-guard.js';
import { restartPauseMs } from './restart-pause.js';
import { routeNotification, type DynamicChallenge, type EngineEvent } from './router.js';
import { noStats, type SessionSnapshot, type SessionState, type SessionStats } from './snapshot.js';

export type { SessionSnapshot, SessionState, SessionStats } from './snapshot.js';

export interface LogEntry {
  time: string;
  message: string;
}

export interface SessionEvents {
  state: [SessionSnapshot];
  stats: [SessionStats];
  log: [LogEntry];
  /** Something worth telling the person that is not a state change. */
  notice: [string];
}

export interface SessionDeps {
  profile: Profile;
  /** Absolute paths of the profile's files. */
  files: EngineSpec['files'];
  launcher: Launcher;
  credentials: CredentialProvider;
  /** The private runtime directory; the session uses <runtimeDir>/<profile id>/. */
  runtimeDir: string;
  localNetworks: () => LocalNetwork[];
  guiVersion?: string;
}

const STOP_GRACE_MS = 5_000;
const LOG_HISTORY = 500;

export class Session extends EventEmitter<SessionEvents> {
  private state: SessionState = 'DISCONNECTED';
  private since = new Date();
  private failure: Failure | undefined;
  private stats: SessionStats = noStats();
  private lastByteCount: { at: number; bytesIn: number; bytesOut: number } | undefined;
  private engine: RunningEngine | undefined;
  private management: ManagementConnection | undefined;
  private stopping = false;
  private deadline: { at: Date; timer: NodeJS.Timeout } | undefined;
  /** The most telling non-fatal problem seen since the last CONNECTED, for the give-up reason. */
  private lastProblem: Failure | undefined;
  /** Set while a person is being asked something: the give-up clock does not run meanwhile. */
  private prompting = 0;
  private startupOutput: string[] = [];
  /** What the current attempt has shown so far: judged when openvpn ends it (endAttempt). */
  private attempt: AttemptEvidence = newAttempt();
  /** Stops a session that fails the same way attempt after attempt. */
  private readonly repeats = new RepeatGuard();
  private pendingAuth: Promise<{ username: string; password: string } | undefined> | undefined;
  private everConnected = false;
  /** Holds seen since this openvpn started or was last connected; 0 is the start itself. */
  private restartsSinceUp = 0;
  /** When the first of those restarts came: the retry pace slows with the time down. */
  private downSince = 0;
  private holdTimer: NodeJS.Timeout | undefined;
  private finished!: Promise<SessionSnapshot>;
  private finish!: (s: SessionSnapshot) => void;
  readonly log: LogEntry[] = [];

  constructor(private readonly deps: SessionDeps) {
    super();
    this.resetFinished();
  }

  get sessionDir(): string {
    return path.join(this.deps.runtimeDir, this.deps.profile.id);
  }

  snapshot(): SessionSnapshot {
    return {
      profile: this.deps.profile.name,
      state: this.state,
      since: this.since.toISOString(),
      ...(this.failure ? { failure: this.failure } : {}),
      ...(this.deadline ? { deadline: this.deadline.at.toISOString() } : {}),
      stats: { ...this.stats },
    };
  }

  /** Resolves when the session ends: DISCONNECTED or FAILED. */
  get done(): Promise<SessionSnapshot> {
    return this.finished;
  }

  /** Starts connecting; resolves once openvpn runs (or the session has already failed). Follow progress with 'state'. */
  async connect(): Promise<void> {
    if (this.state !== 'DISCONNECTED' && this.state !== 'FAILED') return;
    this.resetFinished();
    this.failure = undefined;
    this.lastProblem = undefined;
    this.everConnected = false;
    this.stopping = false;
    this.repeats.reset();
    this.pendingAuth = undefined;
    this.lastByteCount = undefined;
    this.stats = noStats();
    this.setState('CONNECTING');
    const expired = await this.ownCertificateExpiry();
    if (expired) return this.fail(expired);
    try {
      await this.startEngine({ reattach: true });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.fail(
        message === OPENVPN_MISSING
          ? { code: 'openvpn-missing', message }
          : err instanceof HelperMissingError
            ? { code: 'helper-missing', message }
            : err instanceof FerryError
              ? { code: 'config', message }
              : { code: 'config', message: `cannot start openvpn: ${message}` },
      );
    }
  }

  /** Disconnects cleanly; resolves once openvpn has exited. */
  async disconnect(): Promise<void> {
    if (this.state === 'DISCONNECTED' || this.state === 'FAILED') return;
    if (this.stopping) {
      await this.finished; // already failing or stopping: that ends the session
      return;
    }
    await this.stopEngine();
    this.setState('DISCONNECTED');
  }

  /** The network changed (new Wi-Fi, cable plugged): reconnect now instead of waiting for a timeout. */
  networkChanged(): void {
    this.restartNow('network changed');
  }

  /** The machine woke from sleep: the old connection is almost certainly dead. */
  wokeUp(): void {
    this.restartNow('woke from sleep');
  }

  private restartNow(why: string): void {
    if (this.state !== 'CONNECTED' && this.state !== 'RECONNECTING') return;
    this.addLog(`Ferry: ${why}; reconnecting now`);
    if (this.state === 'CONNECTED') this.enterReconnecting();
    else this.armDeadline(); // a new network deserves the full timeout again
    // SIGUSR1 is a soft restart: the server's auth token survives, nobody is asked again.
    this.management?.command('signal SIGUSR1').catch(() => {});
  }

  /**
   * openvpn waits in its hold at start (management-hold), so nothing happens before the
   * router listens, and again before every restart: that is where Ferry, not openvpn's
   * fixed pause, decides how soon to try again (restartPauseMs). The price: an openvpn
   * whose Ferry died waits in that hold at its next restart until a Ferry takes it over,
   * as it would for any password it needed.
   */
  private onHold(pauseSeconds: number): void {
    const restart = this.restartsSinceUp++;
    if (restart === 1) this.downSince = Date.now();
    const wait = restartPauseMs({ restart, announcedSeconds: pauseSeconds, downForMs: Date.now() - this.downSince });
    const management = this.management;
    clearTimeout(this.holdTimer);
    const release = () => {
      if (this.management === management && !this.stopping) management?.command('hold release').catch(() => {});
    };
    if (wait === 0) return release();
    this.holdTimer = setTimeout(release, wait);
  }

  // ---- engine lifecycle -------------------------------------------------------------

  /**
   * Starts openvpn, or with `reattach` first looks for one the launcher still runs for
   * this profile (the helper keeps sessions while the app restarts) and takes it over.
   */
  private async startEngine(opts: { reattach?: boolean } = {}): Promise<void> {
    const running = opts.reattach ? await this.deps.launcher.find?.(this.deps.profile.id) : undefined;
    const engine = running ?? (await this.launchEngine());
    if (this.stopping) {
      // disconnect() came while openvpn was starting: it must not outlive the session.
      engine.kill('SIGTERM');
      return;
    }
    this.engine = engine;
    this.attempt = newAttempt();
    // A fresh openvpn's first hold is its start; one taken over can only be holding before a restart.
    this.restartsSinceUp = running ? 1 : 0;
    // openvpn's own output only matters until the management log takes over (e.g. an
    // options error that stops it before the socket exists); keep its tail for the reason.
    this.startupOutput = [];
    engine.onOutput((line) => {
      if (!this.management) this.startupOutput = [...this.startupOutput.slice(-19), line];
    });
    let alive = true;
    void engine.exited.then((exit) => {
      alive = false;
      if (this.engine === engine) void this.engineExited(exit);
    });
    this.armDeadline();
    const management = await ManagementConnection.connect(engine.managementSocket, (n) => {
      const event = routeNotification(n);
      if (event) void this.handle(event).catch((err: Error) => this.addLog(`Ferry: ${err.message}`));
    }, { isAlive: () => alive, attempts: 2000, intervalMs: 5 }); // openvpn creates it within ~15 ms; poll closely
    if (this.stopping || this.engine !== engine) {
      management.close();
      return;
    }
    this.management = management;
    if (running) return this.takeOver(management);
    // `log on all` replays what openvpn said before we attached (option errors, say). The
    // hold is released when openvpn announces it (>HOLD is also sent to a client that
    // attaches while it waits): written back to back, these reach openvpn before that
    // release, so the first attempt's lines come in real time, where they are judged, not
    // in the replayed history.
    await Promise.all(['state on', 'bytecount 1', 'log on all'].map((command) => management.command(command)));
  }

  /** A new openvpn for this profile, its files and management socket under sessionDir. */
  private async launchEngine(): Promise<RunningEngine> {
    const dir = this.sessionDir;
    await ensurePrivateDir(dir);
    const managementSocket = path.join(dir, 'management.sock');
    await rm(managementSocket, { force: true });
    const spec: EngineSpec = {
      remotes: this.deps.profile.remotes,
      engine: this.deps.profile.engine,
      passwordRequired: this.deps.profile.passwordRequired,
      ...(this.deps.profile.staticChallenge ? { staticChallenge: this.deps.profile.staticChallenge } : {}),
      files: this.deps.files,
      managementSocket,
      guiVersion: this.deps.guiVersion ?? 'Ferry',
    };
    return this.deps.launcher.launch(spec, dir, this.deps.profile.id);
  }

  /**
   * An openvpn that was already running: its history goes to the log without being
   * judged again (old problems are not this session's), then its current state counts.
   * Its tun device is already up, so it must not be mistaken for a pool overlap.
   */
  private async takeOver(management: ManagementConnection): Promise<void> {
    this.addLog('Ferry: taking over the tunnel that was already running for this profile');
    this.everConnected = true;
    for (const line of await management.command('log all')) {
      const [time, , ...message] = line.split(',');
      if (time && /^\d+$/.test(time)) this.addLog(message.join(','), Number(time));
    }
    // `hold on`: its restarts wait for this session's release, whatever the last Ferry left set.
    for (const command of ['state on', 'bytecount 1', 'log on', 'hold on']) await management.command(command);
    const current = (await management.command('state')).find((l) => /^\d+,[A-Z_]+,/.test(l));
    const event = current ? routeNotification({ type: 'STATE', body: current }) : undefined;
    if (event) await this.handle(event);
  }

  private async engineExited(exit: { code: number | null; signal: NodeJS.Signals | null }): Promise<void> {
    clearTimeout(this.holdTimer);
    this.management?.close();
    this.management = undefined;
    this.engine = undefined;
    if (this.stopping) return;
    const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
    if (this.everConnected && (this.state === 'CONNECTED' || this.state === 'RECONNECTING')) {
      // The tunnel was up: start a fresh openvpn within the same give-up deadline.
      this.emit('notice', `openvpn stopped unexpectedly (${how}); restarting it`);
      if (this.state === 'CONNECTED') this.enterReconnecting();
      try {
        await this.startEngine();
      } catch (err) {
        await this.fail({ code: 'engine-died', message: `openvpn stopped unexpectedly (${how}) and could not be restarted: ${(err as Error).message}` });
      }
      return;
    }
    const last = this.lastProblem ?? { code: 'engine-died' as const, message: `openvpn stopped unexpectedly (${how})${this.lastLogHint()}` };
    await this.fail(last);
  }

  private async stopEngine(): Promise<void> {
    this.stopping = true;
    this.clearDeadline();
    clearTimeout(this.holdTimer);
    const engine = this.engine;
    if (engine) {
      // Ask politely over the socket (openvpn removes routes and the tun); signal if it cannot hear.
      if (this.management) await this.management.command('signal SIGTERM').catch(() => engine.kill('SIGTERM'));
      else engine.kill('SIGTERM');
      // Unref'd: a finished `ferry connect` must not linger on this timer.
      const exited = await Promise.race([engine.exited.then(() => true), sleep(STOP_GRACE_MS, false, { ref: false })]);
      if (!exited) {
        engine.kill('SIGKILL');
        await engine.exited;
      }
    }
    this.management?.close();
    this.management = undefined;
    this.engine = undefined;
    await rm(this.sessionDir, { recursive: true, force: true }).catch(() => {});
  }

  /** The first failure wins: what openvpn says while being stopped is an echo, not the cause. */
  private async fail(failure: Failure): Promise<void> {
    if (this.failure || this.stopping || this.state === 'FAILED' || this.state === 'DISCONNECTED') return;
    this.failure = failure;
    await this.stopEngine();
    this.setState('FAILED');
  }

  // ---- management events ------------------------------------------------------------

  private async handle(event: EngineEvent): Promise<void> {
    switch (event.kind) {
      case 'log':
        this.addLog(event.message, event.time);
        return this.onLogLine(event.message);
      case 'state':
        return this.onState(event);
      case 'bytecount':
        return this.onByteCount(event.bytesIn, event.bytesOut);
      case 'hold':
        return this.onHold(event.pauseSeconds);
      case 'fatal':
        return this.fail(this.lastProblem?.code === 'tls' ? this.lastProblem : classifyFatal(event.message));
      case 'need-auth':
        return this.answerAuth(event.staticChallenge);
      case 'need-private-key':
        return this.answerKeyPassphrase(false);
      case 'need-other-password':
        return this.fail({ code: 'config', message: `openvpn asks for a "${event.tag}" password, which Ferry does not support` });
      case 'verification-failed':
        return this.onVerificationFailed(event.tag, event.reason, event.dynamicChallenge);
      case 'cr-text':
        return this.answerPendingChallenge(event.text, event.echo);
      case 'auth-token':
      case 'info':
        return;
    }
  }

  private onState(event: Extract<EngineEvent, { kind: 'state' }>): void {
    switch (event.name) {
      case 'AUTH':
      case 'GET_CONFIG':
      case 'AUTH_PENDING':
        // openvpn enters AUTH when the gateway's first handshake packet arrives: it answered.
        this.attempt.answered = true;
        if (this.state === 'CONNECTING') this.setState('AUTH');
        return;
      case 'ASSIGN_IP':
        // First connect only: later, our own persisted tun (old address, same pool) would look like a conflict.
        if (event.localIp && !this.everConnected) this.checkPoolOverlap(event.localIp);
        return;
      case 'CONNECTED':
        this.onConnected(event);
        return;
      case 'RECONNECTING':
        this.endAttempt(event.description);
        if (this.state === 'CONNECTED') this.enterReconnecting();
        else if (this.state === 'AUTH') this.setState('CONNECTING');
        return;
      default:
        return;
    }
  }

  private onConnected(event: Extract<EngineEvent, { kind: 'state' }>): void {
    if (this.state === 'FAILED' || this.stopping) return;
    if (event.localIp && !this.everConnected && this.checkPoolOverlap(event.localIp)) return;
    this.clearDeadline();
    this.attempt.answered = true;
    this.lastProblem = undefined;
    this.repeats.reset();
    this.restartsSinceUp = 1;
    this.everConnected = true;
    this.stats = {
      ...this.stats,
      ...(event.localIp ? { virtualIp: event.localIp } : {}),
      ...(event.remoteIp ? { server: `${event.remoteIp}:${event.remotePort ?? ''}`.replace(/:$/, '') } : {}),
      connectedSince: new Date(event.time * 1000).toISOString(),
    };
    if (event.description === 'ERROR') this.emit('notice', 'connected, but openvpn reported errors while setting up routes; see the log');
    this.setState('CONNECTED');
    void this.deps.credentials.accepted().catch(() => {});
  }

  private enterReconnecting(): void {
    // The deadline first: the RECONNECTING snapshot carries it (the UI counts down to it).
    this.armDeadline();
    this.setState('RECONNECTING');
  }

  private onByteCount(bytesIn: number, bytesOut: number): void {
    const now = Date.now();
    const last = this.lastByteCount;
    // After a restart openvpn counts from zero again; a negative delta is not a rate.
    const seconds = last ? (now - last.at) / 1000 : 0;
    const rateIn = last && seconds > 0 && bytesIn >= last.bytesIn ? (bytesIn - last.bytesIn) / seconds : 0;
    const rateOut = last && seconds > 0 && bytesOut >= last.bytesOut ? (bytesOut - last.bytesOut) / seconds : 0;
    this.lastByteCount = { at: now, bytesIn, bytesOut };
    this.stats = { ...this.stats, bytesIn, bytesOut, rateIn: Math.round(rateIn), rateOut: Math.round(rateOut) };
    this.emit('stats', { ...this.stats });
  }

  private onLogLine(message: string): void {
    const cipher = /Data Channel: cipher '([^']+)'|Outgoing Data Channel: Cipher '([^']+)' initialized/.exec(message);
    if (cipher) {
      this.stats = { ...this.stats, cipher: cipher[1] ?? cipher[2]! };
      this.emit('stats', { ...this.stats });
    }
    if (/^TCP connection established with/.test(message)) this.attempt.linkUp = true;
    const classified = classifyLogLine(message);
    if (!classified) return;
    // With a password, a rejection also arrives as PASSWORD "Verification Failed", which
    // asks the person again; only a certificate-only profile ends here.
    if (classified.failure.code === 'auth' && this.deps.profile.passwordRequired) return;
    if (classified.verdict === 'fatal') return void this.fail(classified.failure);
    // The attempt's first problem is its cause; what openvpn says after it are consequences.
    this.attempt.problem ??= classified;
    this.lastProblem = this.attempt.problem.failure;
  }

  /**
   * openvpn restarts (`reason`: tls-error, connection-reset, …): judge the attempt by what
   * came back, and stop once the same failure that waiting cannot heal keeps coming back.
   * A gateway that verifies our certificate and rejects it (revoked, expired, another CA)
   * often just closes the TCP connection under TLS 1.3, with no alert we could read: that
   * is one of them (attemptFailure).
   */
  private endAttempt(reason: string): void {
    const ended = attemptFailure(this.attempt, { restart: reason, tlsKey: this.hasTlsKey() });
    this.attempt = newAttempt();
    if (ended) this.lastProblem = ended.failure;
    const repeats = this.repeats.record(ended?.verdict === 'persistent' ? ended.failure : undefined);
    if (ended && repeats > 0) void this.fail(repeatedFailure(ended.failure, repeats));
  }

  private hasTlsKey(): boolean {
    const { tlsAuth, tlsCrypt, tlsCryptV2 } = this.deps.files;
    return Boolean(tlsAuth ?? tlsCrypt ?? tlsCryptV2);
  }

  /** True (and the session failing) when the VPN address lies in a local network. */
  private checkPoolOverlap(virtualIp: string): boolean {
    const overlap = findOverlap(virtualIp, this.deps.localNetworks());
    if (!overlap) return false;
    void this.fail({
      code: 'pool-overlap',
      message: `the VPN gave this device the address ${virtualIp}, which lies inside your local network ${overlap.cidr} (${overlap.interface}); traffic would go astray, so Ferry disconnected. Ask your administrator to move the client address pool, or connect from another network`,
    });
    return true;
  }

  // ---- credentials ------------------------------------------------------------------

  private async answerAuth(staticChallenge?: { text: string; echo: boolean }): Promise<void> {
    const pending = this.pendingAuth;
    this.pendingAuth = undefined;
    const answer = await this.whilePrompting(pending ?? this.deps.credentials.auth(staticChallenge ? { staticChallenge } : {}));
    if (this.stopping || !this.management) return;
    if (!answer) {
      return this.fail({ code: 'credentials-unavailable', message: `a password is needed to connect "${this.deps.profile.name}" and none was given` });
    }
    await this.management.command(`username "Auth" ${quoteArg(answer.username)}`);
    await this.management.command(`password "Auth" ${quoteArg(answer.password)}`);
  }

  private async onVerificationFailed(tag: string, reason: string | undefined, dynamic: DynamicChallenge | undefined): Promise<void> {
    if (tag === 'Private Key') return this.answerKeyPassphrase(true);
    if (dynamic) {
      // The server wants a second answer (e.g. an OTP); openvpn asks for 'Auth' again next.
      this.emit('notice', `the gateway asks: ${dynamic.text}`);
      this.pendingAuth = this.deps.credentials.challenge({ text: dynamic.text, echo: dynamic.echo }).then((response) => {
        if (response !== undefined) return { username: dynamic.username, password: `CRV1::${dynamic.stateId}::${response}` };
        void this.fail({ code: 'credentials-unavailable', message: `the gateway asked "${dynamic.text}" and no answer was given` });
        return undefined;
      });
      return;
    }
    const { failure, verdict } = classifyAuthFailure(reason ?? '');
    // A temporary refusal: openvpn tries again by itself after the gateway's pause.
    if (verdict === 'transient') {
      this.lastProblem = failure;
      return;
    }
    // Not about the password (connection limit, no cipher in common): asking again cannot help.
    if (failure.code !== 'auth') return this.fail(failure);
    // Ask once more (the desktop shows its login dialog); nobody to ask → FAILED, no retry loop.
    this.setState('AUTH');
    this.pendingAuth = this.deps.credentials.auth({ rejected: reason ?? '' }).then((answer) => {
      if (!answer) void this.fail(failure);
      return answer;
    });
  }

  private async answerPendingChallenge(text: string, echo: boolean): Promise<void> {
    this.emit('notice', `the gateway asks: ${text}`);
    const response = await this.whilePrompting(this.deps.credentials.challenge({ text, echo }));
    if (response === undefined) return this.fail({ code: 'auth', message: `the gateway asked "${text}" and no answer was given` });
    await this.management?.command(`cr-response ${Buffer.from(response, 'utf8').toString('base64')}`);
  }

  private async answerKeyPassphrase(rejected: boolean): Promise<void> {
    const passphrase = await this.whilePrompting(this.deps.credentials.keyPassphrase({ rejected }));
    if (passphrase === undefined) {
      return this.fail({ code: 'credentials-unavailable', message: rejected ? 'the private key passphrase was wrong' : 'the private key is passphrase-protected and no passphrase was given' });
    }
    await this.management?.command(`password "Private Key" ${quoteArg(passphrase)}`);
  }

  private async whilePrompting<T>(work: Promise<T>): Promise<T> {
    this.prompting++;
    this.clearDeadline();
    try {
      return await work;
    } finally {
      this.prompting--;
      if (this.prompting === 0 && this.state !== 'CONNECTED' && this.state !== 'FAILED' && this.state !== 'DISCONNECTED') this.armDeadline();
    }
  }

  // ---- give-up deadline -------------------------------------------------------------

  private armDeadline(): void {
    this.clearDeadline();
    if (this.prompting > 0) return;
    const ms = this.deps.profile.reconnectTimeoutSec * 1000;
    const at = new Date(Date.now() + ms);
    const timer = setTimeout(() => void this.giveUp(), ms);
    timer.unref?.();
    this.deadline = { at, timer };
  }

  private clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline.timer);
    this.deadline = undefined;
  }

  private async giveUp(): Promise<void> {
    this.deadline = undefined;
    const seconds = this.deps.profile.reconnectTimeoutSec;
    // An earlier attempt's cause beats the running one's silence, which may just be early.
    const problem = this.lastProblem ?? attemptFailure(this.attempt, { tlsKey: this.hasTlsKey() }).failure;
    const message = this.everConnected
      ? `lost the connection and could not reconnect within ${seconds} s: ${problem.message}`
      : `could not connect within ${seconds} s: ${problem.message}`;
    await this.fail({ code: this.everConnected ? 'reconnect-timeout' : problem.code, message });
  }

  // ---- helpers ----------------------------------------------------------------------

  /** An expired client certificate fails here, with its date, instead of as a TLS error later. */
  private async ownCertificateExpiry(): Promise<Failure | undefined> {
    if (!this.deps.files.cert) return undefined;
    const cert = new X509Certificate(await readFile(this.deps.files.cert));
    const notAfter = new Date(cert.validTo);
    if (notAfter.getTime() >= Date.now()) return undefined;
    return { code: 'cert-expired', message: `your client certificate expired on ${notAfter.toISOString().slice(0, 10)}; ask your administrator for a new one and import it` };
  }

  private setState(state: SessionState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = new Date();
    const snapshot = this.snapshot();
    this.emit('state', snapshot);
    if (state === 'DISCONNECTED' || state === 'FAILED') this.finish(snapshot);
  }

  private addLog(message: string, epochSeconds?: number): void {
    const entry = { time: new Date(epochSeconds ? epochSeconds * 1000 : Date.now()).toISOString(), message };
    this.log.push(entry);
    if (this.log.length > LOG_HISTORY) this.log.shift();
    this.emit('log', entry);
  }

  private lastLogHint(): string {
    const lines = [...this.log.map((e) => e.message), ...this.startupOutput];
    const last = lines.reverse().find((m) => /error|fatal|cannot|failed/i.test(m));
    return last ? `: ${withoutTimestamp(last)}` : '';
  }

  private resetFinished(): void {
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }
}

