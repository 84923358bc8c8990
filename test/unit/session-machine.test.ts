/**
 * The session machine's transition function as a table: (phase, event) → (phase shown,
 * effects). Pure, so every row is one call; the timing and the I/O are session.ts's (its
 * own tests play openvpn over a socket). The last block asserts the table is total: every
 * phase has a defined outcome for every event kind.
 */
import { describe, expect, it } from 'vitest';
import { newAuthDialogue } from '../../core/session/credential-dialogue.js';
import { failure, failureKey, newAttempt } from '../../core/session/failures.js';
import { EVENT_KINDS, PHASES, TABLE, initialMachine, transition, type Context, type Effect, type Machine, type MachineEvent, type Phase, type Run } from '../../core/session/machine.js';
import { REPEAT_LIMIT } from '../../core/session/repeat-guard.js';
import { noStats, SessionStateSchema } from '../../core/session/snapshot.js';

const NOW = 1_800_000_000_000;
const ctx: Context = { now: NOW, random: 0, profile: { name: 'office', passwordRequired: true, tlsKey: false, reconnectTimeoutSec: 60 } };

const run = (patch: Partial<Run> = {}): Run => ({
  everConnected: false,
  attempt: newAttempt(),
  engine: 'running',
  restartsSinceUp: 0,
  downSince: 0,
  asking: 0,
  auth: newAuthDialogue(),
  stats: noStats(),
  ...patch,
});

/** A machine in `phase` with a run in it (as connect() and the events after it leave one). */
function inPhase(phase: Phase, patch: Partial<Run> = {}): Machine {
  if (phase === 'DISCONNECTED' && !patch.engine) return initialMachine(NOW - 1000);
  const shown = phase === 'STOPPING' ? 'CONNECTED' : phase;
  const deadline = phase === 'CONNECTING' || phase === 'AUTH' || phase === 'RECONNECTING' ? NOW + 5000 : undefined;
  return {
    phase,
    shown,
    since: NOW - 1000,
    ...(phase === 'STOPPING' ? { ending: 'DISCONNECTED' as const } : {}),
    run: run({ ...(phase === 'CONNECTED' || phase === 'RECONNECTING' ? { everConnected: true } : {}), ...(deadline ? { deadline } : {}), ...patch }),
  };
}

const state = (name: string, extra: Partial<Extract<MachineEvent, { kind: 'state' }>> = {}): MachineEvent => ({ kind: 'state', time: 1_800_000_000, name, description: '', ...extra });
const log = (message: string): MachineEvent => ({ kind: 'log', time: 1_800_000_000, flags: 'N', message });
const types = (effects: Effect[]) => effects.map((e) => e.type);

describe('session machine: the transition table', () => {
  it.each<[string, Machine, MachineEvent, Phase, string[]]>([
    // connect and disconnect
    ['connect from DISCONNECTED starts openvpn, looking for one to take over first', inPhase('DISCONNECTED'), { kind: 'connect' }, 'CONNECTING', ['start-engine']],
    ['connect from FAILED starts a fresh run', inPhase('FAILED', { failure: failure('auth', 'auth-rejected'), engine: 'none' }), { kind: 'connect' }, 'CONNECTING', ['start-engine']],
    ['connect while connected does nothing', inPhase('CONNECTED'), { kind: 'connect' }, 'CONNECTED', []],
    ['disconnect while connected stops openvpn first', inPhase('CONNECTED'), { kind: 'disconnect' }, 'STOPPING', ['stop-engine']],
    ['disconnect while openvpn is still starting waits for it', inPhase('CONNECTING', { engine: 'starting' }), { kind: 'disconnect' }, 'STOPPING', []],
    ['disconnect while DISCONNECTED does nothing', inPhase('DISCONNECTED'), { kind: 'disconnect' }, 'DISCONNECTED', []],
    ['an openvpn that started while stopping is stopped', inPhase('STOPPING', { engine: 'starting' }), { kind: 'engine-started', takenOver: false }, 'STOPPING', ['stop-engine']],
    ['engine-stopped ends STOPPING where it was going', inPhase('STOPPING'), { kind: 'engine-stopped' }, 'DISCONNECTED', []],
    // starting
    ['openvpn running: still CONNECTING', inPhase('CONNECTING', { engine: 'starting' }), { kind: 'engine-started', takenOver: false }, 'CONNECTING', []],
    ['an openvpn taken over is logged as such', inPhase('CONNECTING', { engine: 'starting' }), { kind: 'engine-started', takenOver: true }, 'CONNECTING', ['log']],
    ['openvpn cannot start: FAILED once its files are cleaned up', inPhase('CONNECTING', { engine: 'starting' }), { kind: 'start-failed', failure: failure('openvpn-missing', 'openvpn-missing') }, 'STOPPING', ['stop-engine']],
    // openvpn's states
    ['the gateway answered: AUTH', inPhase('CONNECTING'), state('AUTH'), 'AUTH', []],
    ['CONNECTED: credentials accepted', inPhase('AUTH'), state('CONNECTED', { localIp: '198.18.100.2' }), 'CONNECTED', ['accepted']],
    ['CONNECTED with route errors: a notice too', inPhase('AUTH'), state('CONNECTED', { description: 'ERROR' }), 'CONNECTED', ['notice', 'accepted']],
    ['CONNECTED into a local network: FAILED (pool overlap)', inPhase('AUTH'), state('CONNECTED', { overlap: failure('pool-overlap', 'pool-overlap') }), 'STOPPING', ['stop-engine']],
    ['an overlap after the first connect is our own tun', inPhase('RECONNECTING'), state('CONNECTED', { overlap: failure('pool-overlap', 'pool-overlap') }), 'CONNECTED', ['accepted']],
    ['a drop while connected: RECONNECTING', inPhase('CONNECTED'), state('RECONNECTING', { description: 'ping-restart' }), 'RECONNECTING', []],
    ['a restart during AUTH: back to CONNECTING', inPhase('AUTH'), state('RECONNECTING', { description: 'tls-error' }), 'CONNECTING', []],
    [
      'the same persistent failure on the last allowed attempt: FAILED',
      inPhase('AUTH', { repeats: { key: failureKey(failure('tls', 'tls-incomplete')), count: REPEAT_LIMIT - 1, since: NOW }, attempt: { answered: true, linkUp: false } }),
      state('RECONNECTING', { description: 'tls-error' }),
      'STOPPING',
      ['stop-engine'],
    ],
    ['network changed while connected: soft restart', inPhase('CONNECTED'), { kind: 'restart-now', why: 'network changed' }, 'RECONNECTING', ['log', 'command']],
    ['network changed while connecting: nothing to restart', inPhase('CONNECTING'), { kind: 'restart-now', why: 'network changed' }, 'CONNECTING', []],
    // openvpn's log and fatal errors
    ['a fatal line: FAILED', inPhase('AUTH'), log('VERIFY ERROR: depth=0, error=certificate has expired: CN=server'), 'STOPPING', ['log', 'stop-engine']],
    ['a transient line: remembered, still trying', inPhase('CONNECTING'), log('TCP: connect to [AF_INET]198.18.1.1:1194 failed: Connection refused'), 'CONNECTING', ['log']],
    ['a cipher line: stats', inPhase('CONNECTED'), log("Data Channel: cipher 'AES-256-GCM'"), 'CONNECTED', ['log', 'stats']],
    ['openvpn says FATAL: FAILED', inPhase('CONNECTING'), { kind: 'fatal', message: 'Options error: bad' }, 'STOPPING', ['stop-engine']],
    ['lines while stopping are logged, not judged', inPhase('STOPPING'), log('VERIFY ERROR: depth=0, error=certificate has expired'), 'STOPPING', ['log']],
    // holds and counts
    ['the start hold is released at once', inPhase('CONNECTING'), { kind: 'hold', pauseSeconds: 0 }, 'CONNECTING', ['release-hold']],
    ['a hold while stopping is never released', inPhase('STOPPING'), { kind: 'hold', pauseSeconds: 0 }, 'STOPPING', []],
    ['a byte count: stats', inPhase('CONNECTED'), { kind: 'bytecount', bytesIn: 10, bytesOut: 20 }, 'CONNECTED', ['stats']],
    // openvpn exits
    ['openvpn dies before it ever connected: FAILED', inPhase('CONNECTING'), { kind: 'engine-exited', exit: { code: 1, signal: null } }, 'STOPPING', ['stop-engine']],
    ['openvpn dies while connected: restarted', inPhase('CONNECTED'), { kind: 'engine-exited', exit: { code: null, signal: 'SIGKILL' } }, 'RECONNECTING', ['notice', 'start-engine']],
    ['an exit while stopping is the stop itself', inPhase('STOPPING'), { kind: 'engine-exited', exit: { code: 0, signal: null } }, 'STOPPING', []],
    // the give-up clock
    ['the deadline passes: FAILED', inPhase('RECONNECTING'), { kind: 'deadline', at: NOW + 5000 }, 'STOPPING', ['stop-engine']],
    ['a stale deadline (re-armed since) is ignored', inPhase('RECONNECTING'), { kind: 'deadline', at: NOW - 1 }, 'RECONNECTING', []],
    // the credential dialogue
    ["Need 'Auth': ask the provider", inPhase('AUTH'), { kind: 'need-auth' }, 'AUTH', ['ask']],
    ["Need 'Auth' with an answer ready: send it", inPhase('AUTH', { auth: { asking: false, openvpnWaiting: false, ready: { username: 'alice', password: 'pw' } } }), { kind: 'need-auth' }, 'AUTH', ['command']],
    ["Need 'Auth' while the answer is on its way: wait", inPhase('AUTH', { asking: 1, auth: { asking: true, openvpnWaiting: false } }), { kind: 'need-auth' }, 'AUTH', []],
    ['the answer when openvpn waits: send it', inPhase('AUTH', { asking: 1, auth: { asking: true, openvpnWaiting: true } }), { kind: 'auth-answer', answer: { username: 'alice', password: 'pw' } }, 'AUTH', ['command']],
    ['no answer: FAILED', inPhase('AUTH', { asking: 1, auth: { asking: true, openvpnWaiting: true } }), { kind: 'auth-answer', answer: undefined }, 'STOPPING', ['stop-engine']],
    ['a wrong password: AUTH, asked again ahead of openvpn', inPhase('CONNECTING'), { kind: 'verification-failed', tag: 'Auth', reason: 'wrong password' }, 'AUTH', ['ask']],
    ['a connection limit: FAILED, nobody asked', inPhase('AUTH'), { kind: 'verification-failed', tag: 'Auth', reason: 'connection limit reached' }, 'STOPPING', ['stop-engine']],
    ['a temporary refusal: openvpn retries', inPhase('AUTH'), { kind: 'verification-failed', tag: 'Auth', reason: 'TEMP' }, 'AUTH', []],
    [
      'a CRV1 challenge: asked ahead, with a notice',
      inPhase('AUTH'),
      { kind: 'verification-failed', tag: 'Auth', reason: 'CRV1:R,E:abc:YWxpY2U=:Enter PIN', dynamicChallenge: { stateId: 'abc', username: 'alice', echo: true, responseRequired: true, text: 'Enter PIN' } },
      'AUTH',
      ['notice', 'ask'],
    ],
    ['a CR_TEXT challenge: asked', inPhase('AUTH'), { kind: 'cr-text', echo: false, responseRequired: true, text: 'OTP' }, 'AUTH', ['notice', 'ask']],
    ['its answer: cr-response', inPhase('AUTH', { asking: 1 }), { kind: 'cr-answer', text: 'OTP', response: '123456' }, 'AUTH', ['command']],
    ['a key passphrase asked', inPhase('CONNECTING'), { kind: 'need-private-key' }, 'CONNECTING', ['ask']],
    ['no passphrase: FAILED', inPhase('CONNECTING', { asking: 1 }), { kind: 'passphrase-answer', rejected: false, passphrase: undefined }, 'STOPPING', ['stop-engine']],
    ['a password Ferry does not support: FAILED', inPhase('CONNECTING'), { kind: 'need-other-password', tag: 'HTTP Proxy' }, 'STOPPING', ['stop-engine']],
    ['an answer after the end changes nothing', inPhase('FAILED', { asking: 1, engine: 'none' }), { kind: 'auth-answer', answer: undefined }, 'FAILED', []],
    // events with nothing to do
    ['an auth token: openvpn keeps it', inPhase('CONNECTED'), { kind: 'auth-token' }, 'CONNECTED', []],
    ['management events after the end are ignored', inPhase('DISCONNECTED'), state('CONNECTED'), 'DISCONNECTED', []],
  ])('%s', (_title, machine, event, phase, effects) => {
    const step = transition(machine, event, ctx);
    expect(step.machine.phase).toBe(phase);
    expect(types(step.effects)).toEqual(effects);
  });
});

describe('session machine: what the rows imply', () => {
  it('a connect makes a fresh run: nothing of the last one survives (no reset list to forget a field)', () => {
    const old = inPhase('FAILED', {
      engine: 'none',
      failure: failure('auth', 'auth-rejected'),
      lastProblem: failure('unreachable', 'no-answer'),
      everConnected: true,
      repeats: { key: 'x', count: 2, since: 0 },
      asking: 1,
      auth: { asking: true, openvpnWaiting: true, ready: { username: 'a', password: 'b' } },
      stats: { ...noStats(), bytesIn: 5, virtualIp: '198.18.100.2' },
      lastBytes: { at: 0, bytesIn: 5, bytesOut: 0 },
      restartsSinceUp: 7,
    });
    const { machine } = transition(old, { kind: 'connect' }, ctx);
    expect(machine.run).toEqual({ ...run({ engine: 'starting' }), deadline: NOW + 60_000 });
    expect(machine).toMatchObject({ shown: 'CONNECTING', since: NOW });
  });

  it('a failure is kept and shown only once openvpn has stopped; the first failure wins', () => {
    const failing = transition(inPhase('AUTH'), { kind: 'verification-failed', tag: 'Auth', reason: 'connection limit reached' }, ctx).machine;
    expect(failing).toMatchObject({ phase: 'STOPPING', shown: 'AUTH', ending: 'FAILED', run: { failure: { code: 'connection-limit' } } });
    const echo = transition(failing, { kind: 'fatal', message: 'something after' }, ctx).machine;
    expect(echo.run?.failure?.code).toBe('connection-limit');
    const ended = transition(echo, { kind: 'engine-stopped' }, ctx).machine;
    expect(ended).toMatchObject({ phase: 'FAILED', shown: 'FAILED', since: NOW, run: { failure: { code: 'connection-limit' } } });
    expect(ended.ending).toBeUndefined();
  });

  it('the give-up reason: the last problem, framed by the timeout, coded reconnect-timeout once the tunnel had been up', () => {
    const lost = inPhase('RECONNECTING', { lastProblem: failure('unreachable', 'unreachable', { error: 'refused' }) });
    expect(transition(lost, { kind: 'deadline', at: NOW + 5000 }, ctx).machine.run?.failure).toEqual({
      code: 'reconnect-timeout',
      detail: 'unreachable',
      params: { error: 'refused' },
      gaveUp: { seconds: 60, wasConnected: true },
    });
    const never = inPhase('CONNECTING');
    expect(transition(never, { kind: 'deadline', at: NOW + 5000 }, ctx).machine.run?.failure).toEqual({ code: 'unreachable', detail: 'no-answer', params: {}, gaveUp: { seconds: 60, wasConnected: false } });
  });

  it('the give-up clock stops while a person is asked and runs again after the answer', () => {
    const asking = transition(inPhase('AUTH'), { kind: 'need-auth' }, ctx).machine;
    expect(asking.run?.deadline).toBeUndefined();
    const later = { ...ctx, now: NOW + 30_000 };
    const answered = transition(asking, { kind: 'auth-answer', answer: { username: 'alice', password: 'pw' } }, later).machine;
    expect(answered.run?.deadline).toBe(NOW + 30_000 + 60_000);
  });

  it('a persistent failure REPEAT_LIMIT attempts in a row ends the run, saying so', () => {
    let m = inPhase('CONNECTING');
    const attempt = (mm: Machine) => {
      mm = transition(mm, state('AUTH'), ctx).machine;
      return transition(mm, state('RECONNECTING', { description: 'tls-error' }), ctx).machine;
    };
    for (let i = 1; i < REPEAT_LIMIT; i++) m = attempt(m);
    expect(m.phase).toBe('CONNECTING');
    m = attempt(m);
    expect(m).toMatchObject({ phase: 'STOPPING', ending: 'FAILED', run: { failure: { code: 'tls', detail: 'tls-incomplete', repeated: REPEAT_LIMIT } } });
  });

  it('a rejected password answered by nobody ends with the rejection, not "no password"', () => {
    let m = transition(inPhase('AUTH'), { kind: 'verification-failed', tag: 'Auth', reason: 'wrong password' }, ctx).machine;
    m = transition(m, { kind: 'need-auth' }, ctx).machine;
    m = transition(m, { kind: 'auth-answer', answer: undefined }, ctx).machine;
    expect(m.run?.failure).toEqual({ code: 'auth', detail: 'auth-rejected-said', params: { said: 'wrong password' } });
  });

  it('the answer asked ahead is sent when openvpn asks, once', () => {
    let m = transition(inPhase('AUTH'), { kind: 'verification-failed', tag: 'Auth', reason: 'wrong password' }, ctx).machine;
    m = transition(m, { kind: 'auth-answer', answer: { username: 'alice', password: 'new' } }, ctx).machine;
    const asked = transition(m, { kind: 'need-auth' }, ctx);
    expect(asked.effects).toEqual([{ type: 'command', commands: ['username "Auth" "alice"', 'password "Auth" "new"'] }]);
    expect(types(transition(asked.machine, { kind: 'need-auth' }, ctx).effects)).toEqual(['ask']);
  });

  describe('a session token the gateway refuses (e.g. another node with another token secret)', () => {
    const SC = { text: 'Enter OTP', echo: false };
    /** Connected on a token, then the gateway refuses it: openvpn drops the token and restarts (push.c receive_auth_failed). */
    function tokenRefused(): Machine {
      let m = transition(inPhase('CONNECTED'), { kind: 'auth-token' }, ctx).machine;
      m = transition(m, state('RECONNECTING', { description: 'ping-restart' }), ctx).machine;
      const refused = transition(m, { kind: 'verification-failed', tag: 'Auth', reason: 'session expired: log in again' }, ctx);
      // Nobody is asked yet, and not as "the password was wrong": openvpn asks for 'Auth' once it restarts.
      expect(refused.effects.filter((e) => e.type === 'ask')).toEqual([]);
      expect(refused.machine.phase).toBe('RECONNECTING');
      return transition(refused.machine, state('RECONNECTING', { description: 'auth-failure (auth-token)' }), ctx).machine;
    }

    it('is followed by one re-login with the full credentials, asked as an expired session with the static challenge', () => {
      const asked = transition(tokenRefused(), { kind: 'need-auth', staticChallenge: SC }, ctx);
      expect(asked.effects).toEqual([{ type: 'ask', question: { kind: 'auth', expired: true, staticChallenge: SC } }]);
      const sent = transition(asked.machine, { kind: 'auth-answer', answer: { username: 'alice', password: 'SCRV1:cHc=:MTIz' } }, ctx);
      expect(sent.effects).toEqual([{ type: 'command', commands: ['username "Auth" "alice"', 'password "Auth" "SCRV1:cHc=:MTIz"'] }]);
      // The re-login's own password refused: that is a wrong password, asked as such; no second re-login.
      const again = transition(sent.machine, { kind: 'verification-failed', tag: 'Auth', reason: 'wrong password' }, ctx);
      expect(again.effects).toEqual([{ type: 'ask', question: { kind: 'auth', rejected: 'wrong password' } }]);
      const ended = transition(transition(again.machine, { kind: 'need-auth' }, ctx).machine, { kind: 'auth-answer', answer: undefined }, ctx).machine;
      expect(ended).toMatchObject({ phase: 'STOPPING', ending: 'FAILED', run: { failure: { code: 'auth', detail: 'auth-rejected-said', params: { said: 'wrong password' } } } });
    });

    it('with nobody to give the password again: FAILED as a session the gateway ended, not as a wrong password', () => {
      const asked = transition(tokenRefused(), { kind: 'need-auth' }, ctx);
      expect(asked.effects).toEqual([{ type: 'ask', question: { kind: 'auth', expired: true } }]);
      const ended = transition(asked.machine, { kind: 'auth-answer', answer: undefined }, ctx).machine;
      expect(ended).toMatchObject({ phase: 'STOPPING', ending: 'FAILED', run: { failure: { code: 'auth', detail: 'session-ended', params: { why: 'session expired: log in again' } } } });
    });

    it('a token refused again after a successful re-login gets its own single re-login (a new token came with the login)', () => {
      let m = transition(tokenRefused(), { kind: 'need-auth' }, ctx).machine;
      m = transition(m, { kind: 'auth-answer', answer: { username: 'alice', password: 'pw' } }, ctx).machine;
      m = transition(m, { kind: 'auth-token' }, ctx).machine;
      m = transition(m, state('CONNECTED'), ctx).machine;
      m = transition(m, state('RECONNECTING', { description: 'ping-restart' }), ctx).machine;
      m = transition(m, { kind: 'verification-failed', tag: 'Auth', reason: 'session expired: log in again' }, ctx).machine;
      expect(transition(m, { kind: 'need-auth' }, ctx).effects).toEqual([{ type: 'ask', question: { kind: 'auth', expired: true } }]);
    });

    it('a temporary refusal keeps the token: openvpn retries with it', () => {
      let m = transition(inPhase('RECONNECTING'), { kind: 'auth-token' }, ctx).machine;
      m = transition(m, { kind: 'verification-failed', tag: 'Auth', reason: 'TEMP[backoff 5]:busy' }, ctx).machine;
      m = transition(m, { kind: 'verification-failed', tag: 'Auth', reason: 'session expired: log in again' }, ctx).machine;
      expect(transition(m, { kind: 'need-auth' }, ctx).effects).toEqual([{ type: 'ask', question: { kind: 'auth', expired: true } }]);
    });
  });

  it('is pure: the same input gives the same output and the input is not changed', () => {
    const m = inPhase('CONNECTED');
    const before = structuredClone(m);
    const a = transition(m, { kind: 'bytecount', bytesIn: 100, bytesOut: 50 }, ctx);
    const b = transition(m, { kind: 'bytecount', bytesIn: 100, bytesOut: 50 }, ctx);
    expect(a).toEqual(b);
    expect(m).toEqual(before);
  });
});

describe('session machine: the table is total', () => {
  /** One event of each kind: what the totality check feeds every phase. */
  const SAMPLES: Record<(typeof EVENT_KINDS)[number], MachineEvent> = {
    connect: { kind: 'connect' },
    disconnect: { kind: 'disconnect' },
    'restart-now': { kind: 'restart-now', why: 'woke from sleep' },
    'engine-started': { kind: 'engine-started', takenOver: false },
    'start-failed': { kind: 'start-failed', failure: failure('config', 'cannot-start', { error: 'x' }) },
    'engine-exited': { kind: 'engine-exited', exit: { code: 1, signal: null } },
    'engine-stopped': { kind: 'engine-stopped' },
    deadline: { kind: 'deadline', at: NOW + 5000 },
    state: state('CONNECTED', { localIp: '198.18.100.2' }),
    bytecount: { kind: 'bytecount', bytesIn: 1, bytesOut: 2 },
    log: log('Initialization Sequence Completed'),
    hold: { kind: 'hold', pauseSeconds: 1 },
    fatal: { kind: 'fatal', message: 'x' },
    'need-auth': { kind: 'need-auth' },
    'need-private-key': { kind: 'need-private-key' },
    'need-other-password': { kind: 'need-other-password', tag: 'HTTP Proxy' },
    'verification-failed': { kind: 'verification-failed', tag: 'Auth', reason: 'wrong password' },
    'cr-text': { kind: 'cr-text', echo: false, responseRequired: true, text: 'OTP' },
    'auth-token': { kind: 'auth-token' },
    info: { kind: 'info', message: 'x' },
    'auth-answer': { kind: 'auth-answer', answer: undefined },
    'cr-answer': { kind: 'cr-answer', text: 'OTP', response: undefined },
    'passphrase-answer': { kind: 'passphrase-answer', rejected: false, passphrase: undefined },
  };

  it('names every event kind once', () => {
    expect(new Set(EVENT_KINDS).size).toBe(EVENT_KINDS.length);
    expect(Object.keys(SAMPLES).sort()).toEqual([...EVENT_KINDS].sort());
  });

  it.each(PHASES)('%s: every event kind has a handler, and each gives a machine the snapshot can show', (phase) => {
    expect(Object.keys(TABLE[phase]).sort()).toEqual([...EVENT_KINDS].sort());
    for (const kind of EVENT_KINDS) {
      expect(typeof TABLE[phase][kind], `${phase} × ${kind}`).toBe('function');
      const step = transition(inPhase(phase), SAMPLES[kind], ctx);
      expect(PHASES, `${phase} × ${kind}`).toContain(step.machine.phase);
      expect(SessionStateSchema.safeParse(step.machine.shown).success, `${phase} × ${kind}`).toBe(true);
      expect(Array.isArray(step.effects)).toBe(true);
      // STOPPING always knows where it ends; nothing else carries an ending.
      expect(step.machine.phase === 'STOPPING' ? step.machine.ending : undefined).toBe(step.machine.ending);
      if (step.machine.phase !== 'STOPPING') expect(step.machine.ending, `${phase} × ${kind}`).toBeUndefined();
    }
  });
});
