/**
 * The session as an explicit state machine: `transition(machine, event, ctx)` is pure and
 * returns the next machine and the effects to carry out; session.ts runs it, one event at
 * a time, and turns effects (start or stop openvpn, a management command, a question for
 * the person, a log line) into real work whose outcomes come back as events.
 *
 *   DISCONNECTED ─connect→ CONNECTING ─(gateway answers)→ AUTH ─CONNECTED→ CONNECTED ⇄ RECONNECTING
 *   any active ─disconnect | failure→ STOPPING ─engine-stopped→ DISCONNECTED | FAILED
 *
 * STOPPING is internal: a snapshot still shows the state being left (`shown`) until openvpn
 * has exited. Everything one connect() knows lives in its `Run`, made fresh by `connect`:
 * nothing is reset by hand.
 */
import type { EngineExit } from '../engine/launcher.js';
import { askAhead, authCommands, expectRelogin, crResponseCommand, newAuthDialogue, onAuthAnswer, onNeedAuth, passphraseCommand, type Answer, type AuthDialogue, type Question } from './credential-dialogue.js';
import { attemptFailure, classifyAuthFailure, classifyFatal, classifyLogLine, failure, newAttempt, type AttemptEvidence, type Failure } from './failures.js';
import { message, type Message } from './messages.js';
import { cipherFromLog, withByteCount, type ByteSample } from './rates.js';
import { recordRepeat, type RepeatStreak } from './repeat-guard.js';
import { restartPauseMs } from './restart-pause.js';
import type { EngineEvent } from './router.js';
import { noStats, type SessionState, type SessionStats } from './snapshot.js';

export const PHASES = ['DISCONNECTED', 'CONNECTING', 'AUTH', 'CONNECTED', 'RECONNECTING', 'STOPPING', 'FAILED'] as const;
export type Phase = (typeof PHASES)[number];

/** Everything one connect() knows, from its start to the next connect(). */
export interface Run {
  /** Why this run ended FAILED; the first failure wins. */
  failure?: Failure;
  /** The most telling non-fatal problem since the last CONNECTED, for the give-up reason. */
  lastProblem?: Failure;
  everConnected: boolean;
  /** What the current openvpn attempt (start or restart) has shown. */
  attempt: AttemptEvidence;
  /** Stops a session that fails the same way attempt after attempt. */
  repeats?: RepeatStreak;
  /** openvpn: being started, running (management attached), or not there. */
  engine: 'starting' | 'running' | 'none';
  /** Holds seen since this openvpn started or was last connected; 0 is the start itself. */
  restartsSinceUp: number;
  /** When the first of those restarts came: the retry pace slows with the time down. */
  downSince: number;
  /** When Ferry gives up (epoch ms); none while connected or while a person is being asked. */
  deadline?: number;
  /** Questions with the credential provider: the give-up clock does not run meanwhile. */
  asking: number;
  auth: AuthDialogue;
  /**
   * The gateway gave openvpn a session token (auth-token), which it sends instead of the
   * password on its reconnects. An AUTH_FAILED while it holds one is the token refused:
   * openvpn drops it and restarts (push.c receive_auth_failed), and one re-login follows.
   * A new token only comes with a successful login, so a refused re-login cannot loop.
   */
  tokenHeld?: boolean;
  stats: SessionStats;
  lastBytes?: ByteSample;
}

export interface Machine {
  phase: Phase;
  /** What a snapshot shows: the phase, or while STOPPING the state being left. */
  shown: SessionState;
  /** When `shown` last changed (epoch ms). */
  since: number;
  /** While STOPPING: where it ends. */
  ending?: 'DISCONNECTED' | 'FAILED';
  /** The current or last run; undefined before the first connect(). */
  run?: Run;
}

/** What the machine is told. Engine events come from router.ts (a state event carries the pool-overlap check's verdict). */
export type MachineEvent =
  | Exclude<EngineEvent, { kind: 'state' }>
  | (Extract<EngineEvent, { kind: 'state' }> & { overlap?: Failure })
  | Answer
  | { kind: 'connect' }
  | { kind: 'disconnect' }
  /** The network changed or the machine woke: the old connection is likely dead. */
  | { kind: 'restart-now'; why: 'network changed' | 'woke from sleep' }
  | { kind: 'engine-started'; takenOver: boolean }
  | { kind: 'start-failed'; failure: Failure }
  /** A running openvpn exited by itself; `hint`: the last line that looked like an error. */
  | { kind: 'engine-exited'; exit: EngineExit; hint?: string }
  /** The stop-engine effect finished: openvpn is gone and the session's files removed. */
  | { kind: 'engine-stopped' }
  /** The give-up timer armed for `at` fired. */
  | { kind: 'deadline'; at: number };

export type EventKind = MachineEvent['kind'];

export const EVENT_KINDS = [
  'connect',
  'disconnect',
  'restart-now',
  'engine-started',
  'start-failed',
  'engine-exited',
  'engine-stopped',
  'deadline',
  'state',
  'bytecount',
  'log',
  'hold',
  'fatal',
  'need-auth',
  'need-private-key',
  'need-other-password',
  'verification-failed',
  'cr-text',
  'auth-token',
  'info',
  'auth-answer',
  'cr-answer',
  'passphrase-answer',
] as const satisfies readonly EventKind[];

export type Effect =
  /** Start openvpn (`reattach`: take over one the launcher still runs; `checkCertificate`: the client certificate's expiry first). */
  | { type: 'start-engine'; reattach: boolean; checkCertificate: boolean }
  /** Stop openvpn if it runs and remove the session's files; reports engine-stopped. */
  | { type: 'stop-engine' }
  /** Management commands, written together in this order. */
  | { type: 'command'; commands: string[] }
  | { type: 'release-hold'; afterMs: number }
  | { type: 'ask'; question: Question }
  /** The gateway accepted the credentials: the provider saves what the person asked to save. */
  | { type: 'accepted' }
  /** Something worth telling the person that is no state change, as a code (messages.ts). */
  | { type: 'notice'; notice: Message }
  | { type: 'log'; message: string; time?: number }
  | { type: 'stats' };

/** What the pure function may know besides the machine: the clock, a random draw, the profile. */
export interface Context {
  now: number;
  /** In [0, 1): the restart pause's jitter. */
  random: number;
  profile: { name: string; passwordRequired: boolean; tlsKey: boolean; reconnectTimeoutSec: number };
}

export interface Step {
  machine: Machine;
  effects: Effect[];
}

type Handler<K extends EventKind = EventKind> = (m: Machine, event: Extract<MachineEvent, { kind: K }>, ctx: Context) => Step;
type Row = { [K in EventKind]: Handler<K> };

export const initialMachine = (now: number): Machine => ({ phase: 'DISCONNECTED', shown: 'DISCONNECTED', since: now });

export function transition(m: Machine, event: MachineEvent, ctx: Context): Step {
  const handler = TABLE[m.phase][event.kind] as Handler;
  return handler(m, event, ctx);
}

// ---- building blocks ------------------------------------------------------------------

const stay = (m: Machine): Step => ({ machine: m, effects: [] });
const ignore = (m: Machine): Step => stay(m);
const ACTIVE: ReadonlySet<Phase> = new Set(['CONNECTING', 'AUTH', 'CONNECTED', 'RECONNECTING']);
/** Phases in which the give-up clock runs (unless a person is being asked). */
const WAITING: ReadonlySet<Phase> = new Set(['CONNECTING', 'AUTH', 'RECONNECTING']);

function run(m: Machine): Run {
  if (!m.run) throw new Error(`session machine: no run in ${m.phase}`);
  return m.run;
}

const withRun = (m: Machine, patch: Partial<Run>): Machine => ({ ...m, run: { ...run(m), ...patch } });

/** A new public state (a snapshot and an event follow from `shown` changing). */
function enter(m: Machine, phase: Exclude<Phase, 'STOPPING'>, ctx: Context): Machine {
  return m.shown === phase && m.phase === phase ? m : { ...m, phase, shown: phase, since: m.shown === phase ? m.since : ctx.now };
}

/** The deadline from now, or none while someone is being asked. */
function armed(m: Machine, ctx: Context): Machine {
  return withRun(m, { deadline: run(m).asking > 0 ? undefined : ctx.now + ctx.profile.reconnectTimeoutSec * 1000 });
}

const disarmed = (m: Machine): Machine => withRun(m, { deadline: undefined });

function enterReconnecting(m: Machine, ctx: Context): Machine {
  // The deadline first: the RECONNECTING snapshot carries it (the UI counts down to it).
  return enter(armed(m, ctx), 'RECONNECTING', ctx);
}

/** Ends the run: openvpn is stopped first (STOPPING), then DISCONNECTED or FAILED. */
function stop(m: Machine, ending: 'DISCONNECTED' | 'FAILED', why?: Failure): Step {
  const r = run(m);
  const next: Machine = { ...m, phase: 'STOPPING', ending, run: { ...r, deadline: undefined, ...(why ? { failure: why } : {}) } };
  // openvpn still starting: it is stopped when engine-started (or start-failed) arrives.
  return { machine: next, effects: r.engine === 'starting' ? [] : [{ type: 'stop-engine' }] };
}

/** The first failure wins: what openvpn says while being stopped is an echo, not the cause. */
function fail(m: Machine, why: Failure): Step {
  return ACTIVE.has(m.phase) ? stop(m, 'FAILED', why) : stay(m);
}

function ask(m: Machine, question: Question, patch: Partial<Run> = {}): Step {
  const r = run(m);
  return { machine: { ...m, run: { ...r, ...patch, asking: r.asking + 1, deadline: undefined } }, effects: [{ type: 'ask', question }] };
}

/** A question was answered: the clock runs again once nobody is being asked. */
function answered(m: Machine, ctx: Context): Machine {
  const r = run(m);
  const asking = Math.max(0, r.asking - 1);
  const next = withRun(m, { asking });
  return asking === 0 && WAITING.has(m.phase) ? armed(next, ctx) : next;
}

function exitFailure(exit: EngineExit, hint: string | undefined): Failure {
  const f = exit.signal ? failure('engine-died', 'engine-killed', { signal: exit.signal }) : failure('engine-died', 'engine-exited', { exitCode: exit.code ?? 'unknown' });
  return hint ? { ...f, params: { ...f.params, openvpn: hint } } : f;
}

// ---- handlers ----------------------------------------------------------------------------

const connect: Handler<'connect'> = (m, _e, ctx) => {
  const fresh: Run = {
    everConnected: false,
    attempt: newAttempt(),
    engine: 'starting',
    restartsSinceUp: 0,
    downSince: 0,
    asking: 0,
    auth: newAuthDialogue(),
    stats: noStats(),
  };
  const next = armed(enter({ ...m, run: fresh, ending: undefined }, 'CONNECTING', ctx), ctx);
  return { machine: next, effects: [{ type: 'start-engine', reattach: true, checkCertificate: true }] };
};

const disconnect: Handler<'disconnect'> = (m) => stop(m, 'DISCONNECTED');

const restartNow: Handler<'restart-now'> = (m, e, ctx) => {
  if (m.phase !== 'CONNECTED' && m.phase !== 'RECONNECTING') return stay(m);
  // A new network deserves the full timeout again. SIGUSR1 is a soft restart: the
  // server's auth token survives, nobody is asked again.
  const next = m.phase === 'CONNECTED' ? enterReconnecting(m, ctx) : armed(m, ctx);
  return { machine: next, effects: [{ type: 'log', message: `Ferry: ${e.why}; reconnecting now` }, { type: 'command', commands: ['signal SIGUSR1'] }] };
};

const engineStarted: Handler<'engine-started'> = (m, e, ctx) => {
  const base = withRun(m, {
    engine: 'running',
    attempt: newAttempt(),
    // A fresh openvpn's first hold is its start; one taken over can only be holding before a restart.
    restartsSinceUp: e.takenOver ? 1 : 0,
    ...(e.takenOver ? { everConnected: true } : {}),
  });
  const effects: Effect[] = e.takenOver ? [{ type: 'log', message: 'Ferry: taking over the tunnel that was already running for this profile' }] : [];
  return { machine: armed(base, ctx), effects };
};

/** disconnect() or a failure came while openvpn was starting: it must not outlive the session. */
const engineStartedWhileStopping: Handler<'engine-started'> = (m) => ({ machine: withRun(m, { engine: 'running' }), effects: [{ type: 'stop-engine' }] });

const startFailed: Handler<'start-failed'> = (m, e) => fail(withRun(m, { engine: 'none' }), e.failure);

const startFailedWhileStopping: Handler<'start-failed'> = (m) => ({ machine: withRun(m, { engine: 'none' }), effects: [{ type: 'stop-engine' }] });

const engineExited: Handler<'engine-exited'> = (m, e, ctx) => {
  const r = run(m);
  const gone = withRun(m, { engine: 'none' });
  if (r.everConnected && (m.phase === 'CONNECTED' || m.phase === 'RECONNECTING')) {
    // The tunnel was up: start a fresh openvpn within the same give-up deadline.
    const notice = e.exit.signal ? message('engine-restarting-killed', { signal: e.exit.signal }) : message('engine-restarting-exited', { exitCode: e.exit.code ?? '' });
    const restarting = withRun(m.phase === 'CONNECTED' ? enterReconnecting(gone, ctx) : gone, { engine: 'starting' });
    return {
      machine: restarting,
      effects: [{ type: 'notice', notice }, { type: 'start-engine', reattach: false, checkCertificate: false }],
    };
  }
  return fail(gone, r.lastProblem ?? exitFailure(e.exit, e.hint));
};

const engineStopped: Handler<'engine-stopped'> = (m, _e, ctx) => {
  const { ending: _done, ...rest } = withRun(m, { engine: 'none' });
  return stay(enter({ ...rest, phase: 'STOPPING' }, m.ending ?? 'DISCONNECTED', ctx));
};

const deadline: Handler<'deadline'> = (m, e, ctx) => {
  const r = run(m);
  if (r.deadline !== e.at) return stay(m); // re-armed or cleared since: a stale timer
  // An earlier attempt's cause beats the running one's silence, which may just be early.
  const problem = r.lastProblem ?? attemptFailure(r.attempt, { tlsKey: ctx.profile.tlsKey }).failure;
  return fail(disarmed(m), { ...problem, code: r.everConnected ? 'reconnect-timeout' : problem.code, gaveUp: { seconds: ctx.profile.reconnectTimeoutSec, wasConnected: r.everConnected } });
};

const onLog: Handler<'log'> = (m, e, ctx) => {
  const effects: Effect[] = [{ type: 'log', message: e.message, time: e.time }];
  let next = m;
  const cipher = cipherFromLog(e.message);
  if (cipher) {
    next = withRun(next, { stats: { ...run(next).stats, cipher } });
    effects.push({ type: 'stats' });
  }
  if (/^TCP connection established with/.test(e.message)) next = withRun(next, { attempt: { ...run(next).attempt, linkUp: true } });
  const classified = classifyLogLine(e.message);
  if (!classified) return { machine: next, effects };
  // With a password, a rejection also arrives as PASSWORD "Verification Failed", which
  // asks the person again; only a certificate-only profile ends here.
  if (classified.failure.code === 'auth' && ctx.profile.passwordRequired) return { machine: next, effects };
  if (classified.verdict === 'fatal') {
    const failed = fail(next, classified.failure);
    return { machine: failed.machine, effects: [...effects, ...failed.effects] };
  }
  // The attempt's first problem is its cause; what openvpn says after it are consequences.
  const attempt = { ...run(next).attempt, problem: run(next).attempt.problem ?? classified };
  return { machine: withRun(next, { attempt, lastProblem: attempt.problem.failure }), effects };
};

/** While stopping, openvpn's last words still go to the log, judged by nobody. */
const logOnly: Handler<'log'> = (m, e) => ({ machine: m, effects: [{ type: 'log', message: e.message, time: e.time }] });

/**
 * openvpn restarts (`reason`: tls-error, connection-reset, …): judge the attempt by what
 * came back, and stop once the same failure that waiting cannot heal keeps coming back.
 */
function endAttempt(m: Machine, reason: string, ctx: Context): { machine: Machine; failed?: Failure } {
  const r = run(m);
  const ended = attemptFailure(r.attempt, { restart: reason, tlsKey: ctx.profile.tlsKey });
  const { streak, verdict } = recordRepeat(r.repeats, ended?.verdict === 'persistent' ? ended.failure : undefined, ctx.now);
  const machine = withRun(m, { attempt: newAttempt(), repeats: streak, ...(ended ? { lastProblem: ended.failure } : {}) });
  return ended && verdict > 0 ? { machine, failed: { ...ended.failure, repeated: verdict } } : { machine };
}

const onState: Handler<'state'> = (m, e, ctx) => {
  const r = run(m);
  switch (e.name) {
    case 'AUTH':
    case 'GET_CONFIG':
    case 'AUTH_PENDING': {
      // openvpn enters AUTH when the gateway's first handshake packet arrives: it answered.
      const next = withRun(m, { attempt: { ...r.attempt, answered: true } });
      return stay(m.phase === 'CONNECTING' ? enter(next, 'AUTH', ctx) : next);
    }
    case 'ASSIGN_IP':
      // First connect only: later, our own persisted tun (old address, same pool) would look like a conflict.
      return e.overlap && !r.everConnected ? fail(m, e.overlap) : stay(m);
    case 'CONNECTED': {
      if (e.overlap && !r.everConnected) return fail(m, e.overlap);
      const stats: SessionStats = {
        ...r.stats,
        ...(e.localIp ? { virtualIp: e.localIp } : {}),
        ...(e.remoteIp ? { server: `${e.remoteIp}:${e.remotePort ?? ''}`.replace(/:$/, '') } : {}),
        connectedSince: new Date(e.time * 1000).toISOString(),
      };
      const next = enter(
        withRun(m, { deadline: undefined, attempt: { ...r.attempt, answered: true }, lastProblem: undefined, repeats: undefined, restartsSinceUp: 1, everConnected: true, stats }),
        'CONNECTED',
        ctx,
      );
      const effects: Effect[] = e.description === 'ERROR' ? [{ type: 'notice', notice: message('route-errors') }] : [];
      return { machine: next, effects: [...effects, { type: 'accepted' }] };
    }
    case 'RECONNECTING': {
      const ended = endAttempt(m, e.description, ctx);
      if (ended.failed) return fail(ended.machine, ended.failed);
      if (m.phase === 'CONNECTED') return stay(enterReconnecting(ended.machine, ctx));
      if (m.phase === 'AUTH') return stay(enter(ended.machine, 'CONNECTING', ctx));
      return stay(ended.machine);
    }
    default:
      return stay(m);
  }
};

const onByteCount: Handler<'bytecount'> = (m, e, ctx) => {
  const r = run(m);
  const { stats, last } = withByteCount(r.stats, r.lastBytes, { at: ctx.now, bytesIn: e.bytesIn, bytesOut: e.bytesOut });
  return { machine: withRun(m, { stats, lastBytes: last }), effects: [{ type: 'stats' }] };
};

/**
 * openvpn waits in its hold at start (management-hold) and before every restart: that is
 * where Ferry, not openvpn's fixed pause, decides how soon to try again (restart-pause.ts).
 */
const onHold: Handler<'hold'> = (m, e, ctx) => {
  const r = run(m);
  const restart = r.restartsSinceUp;
  const downSince = restart === 1 ? ctx.now : r.downSince;
  const wait = restartPauseMs({ restart, announcedSeconds: e.pauseSeconds, downForMs: ctx.now - downSince, random: () => ctx.random });
  return { machine: withRun(m, { restartsSinceUp: restart + 1, downSince }), effects: [{ type: 'release-hold', afterMs: wait }] };
};

const onFatal: Handler<'fatal'> = (m, e) => {
  const last = run(m).lastProblem;
  return fail(m, last?.code === 'tls' ? last : classifyFatal(e.message));
};

const needAuth: Handler<'need-auth'> = (m, e) => {
  const r = run(m);
  const { dialogue, send, ask: question } = onNeedAuth(r.auth, e.staticChallenge);
  const next = withRun(m, { auth: dialogue });
  if (send) return { machine: next, effects: [{ type: 'command', commands: authCommands(send) }] };
  if (question) return ask(next, question);
  return stay(next);
};

const needPrivateKey: Handler<'need-private-key'> = (m) => ask(m, { kind: 'passphrase', rejected: false });

const needOtherPassword: Handler<'need-other-password'> = (m, e) => fail(m, failure('config', 'other-password', { tag: e.tag }));

const verificationFailed: Handler<'verification-failed'> = (m, e, ctx) => {
  const r = run(m);
  if (e.tag === 'Private Key') return ask(m, { kind: 'passphrase', rejected: true });
  const dynamic = e.dynamicChallenge;
  if (dynamic) {
    // The server wants a second answer (e.g. an OTP); openvpn asks for 'Auth' again next.
    const asked = ask(withRun(m, { auth: askAhead(r.auth) }), { kind: 'crv1', text: dynamic.text, echo: dynamic.echo, stateId: dynamic.stateId, username: dynamic.username });
    return { machine: asked.machine, effects: [{ type: 'notice', notice: message('gateway-asks', { text: dynamic.text }) }, ...asked.effects] };
  }
  const { failure: why, verdict } = classifyAuthFailure(e.reason ?? '');
  // A temporary refusal: openvpn tries again by itself after the gateway's pause.
  if (verdict === 'transient') return stay(withRun(m, { lastProblem: why }));
  // Not about the password (connection limit, no cipher in common): asking again cannot help.
  if (why.code !== 'auth') return fail(m, why);
  if (r.tokenHeld) {
    // The session token refused (expired, or a node with another token secret), not the
    // password: openvpn's next 'Auth' question is answered with the full credentials; if
    // nobody can give them, the session ends as one the gateway ended.
    const refusal = failure('auth', 'session-ended', { why: e.reason || 'session token refused' });
    return {
      machine: withRun(m, { tokenHeld: false, auth: expectRelogin(r.auth, refusal) }),
      effects: [{ type: 'log', message: 'Ferry: the gateway refused the session token; logging in again' }],
    };
  }
  // Ask once more (the desktop shows its login dialog); nobody to ask → FAILED, no retry loop.
  return ask(enter(withRun(m, { auth: askAhead(r.auth, why) }), 'AUTH', ctx), { kind: 'auth', rejected: e.reason ?? '' });
};

const authToken: Handler<'auth-token'> = (m) => stay(withRun(m, { tokenHeld: true }));

const crText: Handler<'cr-text'> = (m, e) => {
  const asked = ask(m, { kind: 'cr', text: e.text, echo: e.echo });
  return { machine: asked.machine, effects: [{ type: 'notice', notice: message('gateway-asks', { text: e.text }) }, ...asked.effects] };
};

const authAnswer: Handler<'auth-answer'> = (m, e, ctx) => {
  const r = run(m);
  const { dialogue, send, fail: why } = onAuthAnswer(r.auth, e.answer, e.refusal, ctx.profile.name);
  const next = answered(withRun(m, { auth: dialogue }), ctx);
  if (why) return fail(next, why);
  return { machine: next, effects: send ? [{ type: 'command', commands: authCommands(send) }] : [] };
};

const crAnswer: Handler<'cr-answer'> = (m, e, ctx) => {
  const next = answered(m, ctx);
  if (e.response === undefined) return fail(next, failure('auth', 'challenge-unanswered', { text: e.text }));
  return { machine: next, effects: [{ type: 'command', commands: [crResponseCommand(e.response)] }] };
};

const passphraseAnswer: Handler<'passphrase-answer'> = (m, e, ctx) => {
  const next = answered(m, ctx);
  if (e.passphrase === undefined) return fail(next, failure('credentials-unavailable', e.rejected ? 'key-passphrase-wrong' : 'key-passphrase-missing'));
  return { machine: next, effects: [{ type: 'command', commands: [passphraseCommand(e.passphrase)] }] };
};

/** An answer that arrives after the run ended or while it stops: only the count of open questions changes. */
const lateAnswer = (m: Machine): Step => (m.run ? stay(withRun(m, { asking: Math.max(0, m.run.asking - 1) })) : stay(m));

// ---- the table ---------------------------------------------------------------------------

/** No run going: only connect does something. */
const IDLE: Row = {
  connect,
  disconnect: ignore,
  'restart-now': ignore,
  'engine-started': ignore,
  'start-failed': ignore,
  'engine-exited': ignore,
  'engine-stopped': ignore,
  deadline: ignore,
  state: ignore,
  bytecount: ignore,
  log: ignore,
  hold: ignore,
  fatal: ignore,
  'need-auth': ignore,
  'need-private-key': ignore,
  'need-other-password': ignore,
  'verification-failed': ignore,
  'cr-text': ignore,
  'auth-token': ignore,
  info: ignore,
  'auth-answer': lateAnswer,
  'cr-answer': lateAnswer,
  'passphrase-answer': lateAnswer,
};

/** On the way up, up, or on the way back up. */
const ACTIVE_ROW: Row = {
  connect: ignore, // already going
  disconnect,
  'restart-now': restartNow,
  'engine-started': engineStarted,
  'start-failed': startFailed,
  'engine-exited': engineExited,
  'engine-stopped': ignore, // only ever reported while STOPPING
  deadline,
  state: onState,
  bytecount: onByteCount,
  log: onLog,
  hold: onHold,
  fatal: onFatal,
  'need-auth': needAuth,
  'need-private-key': needPrivateKey,
  'need-other-password': needOtherPassword,
  'verification-failed': verificationFailed,
  'cr-text': crText,
  'auth-token': authToken, // openvpn keeps the token for its reconnects; the machine notes that it has one
  info: ignore,
  'auth-answer': authAnswer,
  'cr-answer': crAnswer,
  'passphrase-answer': passphraseAnswer,
};

/** openvpn is being stopped: wait for it, and judge nothing it says meanwhile. */
const STOPPING_ROW: Row = {
  connect: ignore, // connect() again once it has ended
  disconnect: ignore, // already ending; disconnect() waits for the end
  'restart-now': ignore,
  'engine-started': engineStartedWhileStopping,
  'start-failed': startFailedWhileStopping,
  'engine-exited': ignore, // the stop-engine effect reports engine-stopped once it has exited
  'engine-stopped': engineStopped,
  deadline: ignore,
  state: ignore,
  bytecount: ignore,
  log: logOnly,
  hold: ignore, // never released: openvpn is on its way out
  fatal: ignore,
  'need-auth': ignore,
  'need-private-key': ignore,
  'need-other-password': ignore,
  'verification-failed': ignore,
  'cr-text': ignore,
  'auth-token': ignore,
  info: ignore,
  'auth-answer': lateAnswer,
  'cr-answer': lateAnswer,
  'passphrase-answer': lateAnswer,
};

export const TABLE: Record<Phase, Row> = {
  DISCONNECTED: IDLE,
  FAILED: IDLE,
  CONNECTING: ACTIVE_ROW,
  AUTH: ACTIVE_ROW,
  CONNECTED: ACTIVE_ROW,
  RECONNECTING: ACTIVE_ROW,
  STOPPING: STOPPING_ROW,
};
