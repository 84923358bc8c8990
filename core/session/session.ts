/**
 * One VPN session: the single owner of the tunnel's truth. Tray, windows and the CLI only
 * display what it emits.
 *
 * The decisions are machine.ts's pure transition function; this class runs it. Every
 * input — a public call, a management notification, openvpn's exit, a timer, a person's
 * answer — becomes one event in a queue, handled one at a time; each transition's effects
 * are started in order and whatever they report comes back as another event. Effects
 * never throw into the queue: their failures are logged or become events.
 *
 *   DISCONNECTED → CONNECTING → AUTH → CONNECTED ⇄ RECONNECTING
 *   any → DISCONNECTED (disconnect) | FAILED(reason)
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { EngineSpec } from '../engine/config.js';
import type { EngineExit, Launcher } from '../engine/launcher.js';
import type { Profile } from '../profile/schema.js';
import { ownCertificateProblem } from './certificate-expiry.js';
import { askProvider, noAnswer } from './credential-dialogue.js';
import type { CredentialProvider } from './credentials.js';
import { EngineStartError, EngineSupervisor } from './engine-supervisor.js';
import { FailureError } from './failure-error.js';
import { failure, withoutTimestamp, type Failure } from './failures.js';
import type { LocalNetwork } from './local-networks.js';
import type { Message } from './messages.js';
import { initialMachine, transition, type Context, type Effect, type Machine, type MachineEvent } from './machine.js';
import { poolOverlapFailure } from './pool-overlap.js';
import type { EngineEvent } from './router.js';
import { noStats, type SessionSnapshot, type SessionStats } from './snapshot.js';

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
  notice: [Message];
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

const LOG_HISTORY = 500;

export class Session extends EventEmitter<SessionEvents> {
  private machine: Machine = initialMachine(Date.now());
  private readonly queue: MachineEvent[] = [];
  private draining = false;
  private readonly engine: EngineSupervisor;
  private deadlineTimer: { at: number; timer: NodeJS.Timeout } | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private finished!: Promise<SessionSnapshot>;
  private finish!: (s: SessionSnapshot) => void;
  /** connect() waits for this: openvpn runs, or the run has ended. */
  private started: (() => void) | undefined;
  readonly log: LogEntry[] = [];

  constructor(private readonly deps: SessionDeps) {
    super();
    this.resetFinished();
    const { profile } = deps;
    this.engine = new EngineSupervisor({
      launcher: deps.launcher,
      label: profile.id,
      sessionDir: this.sessionDir,
      spec: () => ({
        remotes: profile.remotes,
        engine: profile.engine,
        passwordRequired: profile.passwordRequired,
        ...(profile.staticChallenge ? { staticChallenge: profile.staticChallenge } : {}),
        files: deps.files,
        guiVersion: deps.guiVersion ?? 'Ferry',
      }),
      onEvent: (event) => this.dispatch(this.withOverlap(event)),
      onExit: (exit) => this.dispatch({ kind: 'engine-exited', exit, ...this.hint() }),
      onHistory: (message, time) => this.addLog(message, time),
    });
  }

  get sessionDir(): string {
    return path.join(this.deps.runtimeDir, this.deps.profile.id);
  }

  snapshot(): SessionSnapshot {
    const { shown, since, run } = this.machine;
    return {
      profile: this.deps.profile.name,
      state: shown,
      since: new Date(since).toISOString(),
      ...(run?.failure ? { failure: run.failure } : {}),
      ...(run?.deadline !== undefined ? { deadline: new Date(run.deadline).toISOString() } : {}),
      stats: { ...(run?.stats ?? noStats()) },
    };
  }

  /** Resolves when the session ends: DISCONNECTED or FAILED. */
  get done(): Promise<SessionSnapshot> {
    return this.finished;
  }

  /** Starts connecting; resolves once openvpn runs (or the session has already ended). Follow progress with 'state'. */
  async connect(): Promise<void> {
    if (this.machine.phase !== 'DISCONNECTED' && this.machine.phase !== 'FAILED') return;
    this.resetFinished();
    const started = new Promise<void>((resolve) => (this.started = resolve));
    this.dispatch({ kind: 'connect' });
    await started;
  }

  /** Disconnects cleanly; resolves once openvpn has exited. */
  async disconnect(): Promise<void> {
    if (this.machine.phase === 'DISCONNECTED' || this.machine.phase === 'FAILED') return;
    this.dispatch({ kind: 'disconnect' });
    await this.finished;
  }

  /** The network changed (new Wi-Fi, cable plugged): reconnect now instead of waiting for a timeout. */
  networkChanged(): void {
    this.dispatch({ kind: 'restart-now', why: 'network changed' });
  }

  /** The machine woke from sleep: the old connection is almost certainly dead. */
  wokeUp(): void {
    this.dispatch({ kind: 'restart-now', why: 'woke from sleep' });
  }

  // ---- the queue -------------------------------------------------------------------

  /** Queues an event; the first caller drains the queue, so events are handled one at a time, in order. */
  private dispatch(event: MachineEvent): void {
    this.queue.push(event);
    if (this.draining) return;
    this.draining = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) this.step(next);
    } finally {
      this.draining = false;
    }
  }

  private step(event: MachineEvent): void {
    const before = this.machine;
    const { machine, effects } = transition(before, event, this.context());
    this.machine = machine;
    this.syncDeadline();
    if (event.kind === 'engine-started') this.started?.();
    if (machine.shown !== before.shown || machine.since !== before.since) this.publishState();
    for (const effect of effects) this.perform(effect);
  }

  private context(): Context {
    const { profile, files } = this.deps;
    return {
      now: Date.now(),
      random: Math.random(),
      profile: {
        name: profile.name,
        passwordRequired: profile.passwordRequired,
        tlsKey: Boolean(files.tlsAuth ?? files.tlsCrypt ?? files.tlsCryptV2),
        reconnectTimeoutSec: profile.reconnectTimeoutSec,
      },
    };
  }

  private publishState(): void {
    const snapshot = this.snapshot();
    this.emit('state', snapshot);
    if (snapshot.state === 'DISCONNECTED' || snapshot.state === 'FAILED') {
      clearTimeout(this.holdTimer);
      this.started?.();
      this.started = undefined;
      this.finish(snapshot);
    }
  }

  // ---- effects ---------------------------------------------------------------------

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'start-engine':
        void this.startEngine(effect.reattach, effect.checkCertificate).then(
          (event) => this.dispatch(event),
          (err: unknown) => this.dispatch({ kind: 'start-failed', failure: this.startFailure(err) }),
        );
        return;
      case 'stop-engine':
        clearTimeout(this.holdTimer);
        void this.engine
          .stop()
          .catch((err: Error) => this.addLog(`Ferry: stopping openvpn: ${err.message}`))
          .finally(() => this.dispatch({ kind: 'engine-stopped' }));
        return;
      case 'command':
        this.engine.command(effect.commands).catch((err: Error) => this.addLog(`Ferry: ${err.message}`));
        return;
      case 'release-hold':
        return this.releaseHold(effect.afterMs);
      case 'ask':
        void askProvider(this.deps.credentials, effect.question).then(
          (answer) => this.dispatch(answer),
          (err: Error) => {
            this.addLog(`Ferry: asking for credentials failed: ${err.message}`);
            this.dispatch(noAnswer(effect.question));
          },
        );
        return;
      case 'accepted':
        this.deps.credentials.accepted().catch((err: Error) => this.addLog(`Ferry: saving credentials failed: ${err.message}`));
        return;
      case 'notice':
        this.emit('notice', effect.notice);
        return;
      case 'log':
        this.addLog(effect.message, effect.time);
        return;
      case 'stats':
        this.emit('stats', this.snapshot().stats);
        return;
    }
  }

  /** Starts (or takes over) openvpn; the event it amounts to. The state a taken-over openvpn is in follows it. */
  private async startEngine(reattach: boolean, checkCertificate: boolean): Promise<MachineEvent> {
    if (checkCertificate) {
      const problem = await ownCertificateProblem(this.deps.files.cert, Date.now());
      if (problem) return { kind: 'start-failed', failure: problem };
    }
    const { takenOver, current } = await this.engine.start(reattach);
    if (current) queueMicrotask(() => this.dispatch(this.withOverlap(current)));
    return { kind: 'engine-started', takenOver };
  }

  /** Why openvpn could not be started, as a failure (launchers throw FailureErrors; anything else is named as it is). */
  private startFailure(err: unknown): Failure {
    if (err instanceof EngineStartError) {
      if (err.exit) return this.exitFailure(err.exit);
      err = err.cause;
    }
    if (err instanceof FailureError) return err.failure;
    return failure('config', 'cannot-start', { error: err instanceof Error ? err.message : String(err) });
  }

  private exitFailure(exit: EngineExit): Failure {
    const hint = this.hint().hint;
    const f = exit.signal ? failure('engine-died', 'engine-killed', { signal: exit.signal }) : failure('engine-died', 'engine-exited', { exitCode: exit.code ?? 'unknown' });
    return hint ? { ...f, params: { ...f.params, openvpn: hint } } : f;
  }

  /**
   * openvpn waits in its hold at start and before every restart; the machine decided how
   * long (restart-pause.ts). The release goes to the openvpn it was meant for or nowhere.
   */
  private releaseHold(afterMs: number): void {
    clearTimeout(this.holdTimer);
    const token = this.engine.token();
    const release = () => {
      // A lost release leaves openvpn waiting in its hold: say so in the log, never silently.
      if (this.engine.isCurrent(token) && this.machine.phase !== 'STOPPING') {
        this.engine.command(['hold release']).catch((err: Error) => {
          if (this.engine.isCurrent(token)) this.addLog(`Ferry: releasing openvpn from its management hold failed: ${err.message}`);
        });
      }
    };
    if (afterMs === 0) return release();
    this.holdTimer = setTimeout(release, afterMs);
  }

  /** The give-up timer follows the machine's deadline; a stale firing is ignored by the machine. */
  private syncDeadline(): void {
    const at = this.machine.run?.deadline;
    if (this.deadlineTimer?.at === at) return;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer.timer);
    this.deadlineTimer = undefined;
    if (at === undefined) return;
    const timer = setTimeout(() => this.dispatch({ kind: 'deadline', at }), Math.max(0, at - Date.now()));
    timer.unref?.();
    this.deadlineTimer = { at, timer };
  }

  // ---- helpers ----------------------------------------------------------------------

  /** A state event with the verdict of the pool-overlap check on its VPN address. */
  private withOverlap(event: EngineEvent): MachineEvent {
    if (event.kind !== 'state' || !event.localIp || (event.name !== 'ASSIGN_IP' && event.name !== 'CONNECTED')) return event;
    const overlap = poolOverlapFailure(event.localIp, this.deps.localNetworks());
    return overlap ? { ...event, overlap } : event;
  }

  /** The last line of the log or of openvpn's output that looks like an error: a dying openvpn's reason. */
  private hint(): { hint?: string } {
    const lines = [...this.log.map((e) => e.message), ...this.engine.startupOutput];
    const last = lines.reverse().find((m) => /error|fatal|cannot|failed/i.test(m));
    return last ? { hint: withoutTimestamp(last).trim() } : {};
  }

  private addLog(message: string, epochSeconds?: number): void {
    const entry = { time: new Date(epochSeconds ? epochSeconds * 1000 : Date.now()).toISOString(), message };
    this.log.push(entry);
    if (this.log.length > LOG_HISTORY) this.log.shift();
    this.emit('log', entry);
  }

  private resetFinished(): void {
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }
}
