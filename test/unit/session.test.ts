/**
 * The session state machine against a scripted management peer: a fake Launcher hands
 * the session a unix socket on which this test plays openvpn, line by line, and records
 * every command the session sends. No openvpn, no network.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProfileSchema } from '../../core/profile/schema.js';
import type { CredentialProvider } from '../../core/session/credentials.js';
import { failureText } from '../../core/session/failure-text.js';
import type { Message } from '../../core/session/messages.js';
import { REPEAT_LIMIT } from '../../core/session/repeat-guard.js';
import { Session, type SessionState } from '../../core/session/session.js';
import { tempDir } from '../support/cli.js';
import { FakeOpenvpn } from '../support/fake-openvpn.js';

const credentials = (password: string | undefined): CredentialProvider & { accepted_: number; rejected: string[]; expired: number } => ({
  accepted_: 0,
  rejected: [],
  expired: 0,
  async auth(req) {
    if (req.expired) this.expired++;
    if (req.rejected !== undefined) {
      this.rejected.push(req.rejected);
      return undefined;
    }
    return password === undefined ? undefined : { username: 'alice', password };
  },
  async challenge() {
    return undefined;
  },
  async keyPassphrase() {
    return undefined;
  },
  async accepted() {
    this.accepted_++;
  },
});

async function setup(opts: { password?: string; reconnectTimeoutSec?: number } = {}) {
  const runtime = await tempDir('ferry-session-');
  const profile = ProfileSchema.parse({
    version: 1, id: 'office-abc123', name: 'office', remotes: [{ host: '198.18.1.1', port: 1194, proto: 'tcp' }], username: 'alice',
    passwordRequired: true, files: ['ca.crt'], engine: {}, createdAt: '2026-01-01T00:00:00Z', reconnectTimeoutSec: opts.reconnectTimeoutSec ?? 60,
  });
  const engine = new FakeOpenvpn();
  const creds = credentials('password' in opts ? opts.password : 'pw');
  const session = new Session({ profile, files: { ca: path.join(runtime, 'ca.crt') }, launcher: engine, credentials: creds, runtimeDir: runtime, localNetworks: () => [{ interface: 'eth0', address: '192.0.2.2', cidr: '192.0.2.0/24' }] });
  const states: SessionState[] = [];
  session.on('state', (s) => states.push(s.state));
  sessions.push(session);
  return { session, engine, creds, states };
}

const sessions: Session[] = [];

/** The failure as `ferry connect` prints it with LANG=en_US.UTF-8: its code and its English words. */
const reason = (session: Session) => {
  const f = session.snapshot().failure;
  return f && { code: f.code, message: failureText(f, 'en') };
};
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.disconnect();
});

const waitState = async (session: Session, state: SessionState) => {
  for (let i = 0; i < 300 && session.snapshot().state !== state; i++) await new Promise((r) => setTimeout(r, 10));
  expect(session.snapshot().state).toBe(state);
};

describe('Session', () => {
  it('releases the hold, answers Need Auth over the socket, and reaches CONNECTED with stats', async () => {
    const { session, engine, creds, states } = await setup();
    await session.connect();
    await engine.attached;
    engine.send('>HOLD:Waiting for hold release:0');
    await engine.waitFor(/^hold release$/);
    // The hold stays on: restarts wait for the session too (restartPauseMs), the start goes at once.
    expect(engine.commands.slice(0, 4)).toEqual(['state on', 'bytecount 1', 'log on all', 'hold release']);
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/);
    expect(engine.commands).toContain('username "Auth" "alice"');
    expect(engine.commands).toContain('password "Auth" "pw"');
    engine.send('>STATE:1700000000,AUTH,,,,,,');
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    engine.send('>BYTECOUNT:1000,2000');
    await waitState(session, 'CONNECTED');
    expect(states).toEqual(['CONNECTING', 'AUTH', 'CONNECTED']);
    expect(session.snapshot().stats).toMatchObject({ virtualIp: '198.18.100.2', server: '198.18.1.1:1194', connectedSince: new Date(1700000001000).toISOString() });
    expect(creds.accepted_).toBe(1);
    await session.disconnect();
    expect(engine.commands.at(-1)).toBe('signal SIGTERM');
    expect(states.at(-1)).toBe('DISCONNECTED');
  });

  it("releases openvpn's start hold only after `log on all`, so the first attempt's lines are judged", async () => {
    const { session, engine } = await setup();
    engine.holdOnAttach = true;
    await session.connect();
    await engine.waitFor(/^hold release$/);
    expect(engine.commands.indexOf('log on all')).toBeLessThan(engine.commands.indexOf('hold release'));
  });

  it('a rejected password asks once; nobody to ask means FAILED, no retry loop', async () => {
    const { session, engine, creds } = await setup();
    await session.connect();
    await engine.attached;
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/);
    engine.send(">PASSWORD:Verification Failed: 'Auth' ['wrong password']");
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await waitState(session, 'FAILED');
    expect(creds.rejected).toEqual(['wrong password']);
    expect(reason(session)).toEqual({ code: 'auth', message: 'the gateway rejected the username or password (wrong password); check them and connect again' });
    expect(engine.commands.filter((c) => c.startsWith('password "Auth"'))).toHaveLength(1);
  });

  it('a session token the gateway refuses: one re-login with the password still at hand, then a wrong password fails, no loop', async () => {
    const { session, engine, creds } = await setup();
    await session.connect();
    await engine.attached;
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/);
    engine.send('>PASSWORD:Auth-Token:dG9rZW4tb2Ytbm9kZS1h');
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    // Failover to a node with another token secret: the token is refused (push.c: token dropped, soft restart).
    engine.send('>STATE:1700000002,RECONNECTING,ping-restart,,,,,');
    engine.send('>LOG:1700000003,,AUTH: Received control message: AUTH_FAILED,session expired: log in again');
    engine.send(">PASSWORD:Verification Failed: 'Auth' ['session expired: log in again']");
    engine.send('>STATE:1700000003,RECONNECTING,auth-failure (auth-token),,,,,');
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/, 2);
    expect(engine.commands.filter((c) => c === 'password "Auth" "pw"')).toHaveLength(2);
    expect(creds.rejected).toEqual([]);
    expect(creds.expired).toBe(1);
    expect(session.snapshot().state).toBe('RECONNECTING');
    // That node refuses the password too: a wrong password, asked as such (nobody here), FAILED.
    engine.send(">PASSWORD:Verification Failed: 'Auth' ['wrong password']");
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await waitState(session, 'FAILED');
    expect(creds.rejected).toEqual(['wrong password']);
    expect(engine.commands.filter((c) => c.startsWith('password "Auth"'))).toHaveLength(2);
  });

  it('a connection-limit refusal fails at once with its reason', async () => {
    const { session, engine } = await setup();
    await session.connect();
    await engine.attached;
    engine.send(">PASSWORD:Verification Failed: 'Auth' ['connection limit reached (2 clients)']");
    await waitState(session, 'FAILED');
    expect(reason(session)?.code).toBe('connection-limit');
    expect(reason(session)?.message).toMatch(/connection limit reached \(2 clients\); disconnect another device/);
  });

  it('networkChanged() soft-restarts a connected session at once (SIGUSR1, so the auth token survives)', async () => {
    const { session, engine, states } = await setup();
    await session.connect();
    await engine.attached;
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    const announced: Array<string | undefined> = [];
    session.on('state', (s) => announced.push(s.deadline));
    session.networkChanged();
    await engine.waitFor(/^signal SIGUSR1$/);
    expect(states.at(-1)).toBe('RECONNECTING');
    // The RECONNECTING event itself carries the deadline the UI counts down to.
    expect(announced).toEqual([session.snapshot().deadline]);
    expect(session.snapshot().deadline).toBeDefined();
    engine.send('>STATE:1700000009,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    expect(session.snapshot().deadline).toBeUndefined();
  });

  it('releases restarts quickly after a drop, but keeps a longer pause the server asked for', async () => {
    const { session, engine } = await setup();
    await session.connect();
    await engine.attached;
    engine.send('>HOLD:Waiting for hold release:0');
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    // The gateway went away: openvpn would pause 1 s; the first retry goes at once, the next soon after.
    engine.send('>STATE:1700000002,RECONNECTING,connection-reset,,,,,');
    engine.send('>HOLD:Waiting for hold release:1');
    await engine.waitFor(/^hold release$/, 2);
    engine.send('>HOLD:Waiting for hold release:1');
    await engine.waitFor(/^hold release$/, 3);
    // A server back-off (AUTH_FAILED,TEMP[backoff 5]) makes openvpn announce 5 s: not released early.
    // The password query sent after it proves the hold was read; a release would have come first.
    engine.send('>HOLD:Waiting for hold release:5');
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/);
    expect(engine.commands.filter((c) => c === 'hold release')).toHaveLength(3);
    // Connected again: the next drop starts the quick retries over.
    engine.send('>STATE:1700000009,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    engine.send('>HOLD:Waiting for hold release:1');
    await engine.waitFor(/^hold release$/, 4);
  });

  it('gives up RECONNECTING after the reconnect timeout, with the last problem as the reason', async () => {
    const { session, engine } = await setup({ reconnectTimeoutSec: 5 });
    await session.connect();
    await engine.attached;
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    engine.send('>STATE:1700000002,RECONNECTING,ping-restart,,,,,');
    engine.send('>LOG:1700000003,W,TCP: connect to [AF_INET]198.18.1.1:1194 failed: Connection refused');
    await waitState(session, 'RECONNECTING');
    await session.done;
    expect(reason(session)?.code).toBe('reconnect-timeout');
    expect(reason(session)?.message).toMatch(/^lost the connection and could not reconnect within 5 s: the gateway 198\.18\.1\.1:1194 cannot be reached \(connection refused\)/);
  }, 15_000);

  it('openvpn dying before it ever connected is FAILED with how it died', async () => {
    const { session, engine } = await setup();
    await session.connect();
    await engine.attached;
    engine.die({ code: 1, signal: null });
    await waitState(session, 'FAILED');
    expect(reason(session)).toMatchObject({ code: 'engine-died', message: expect.stringMatching(/^openvpn stopped unexpectedly \(exit code 1\)/) });
  });

  it('openvpn dying while connected is restarted within the same deadline', async () => {
    const { session, engine, states } = await setup();
    await session.connect();
    await engine.attached;
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    const notices: Message[] = [];
    session.on('notice', (n) => notices.push(n));
    engine.die({ code: null, signal: 'SIGKILL' });
    for (let i = 0; i < 200 && engine.launches < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(engine.launches).toBe(2);
    expect(notices).toEqual([{ code: 'engine-restarting-killed', params: { signal: 'SIGKILL' } }]);
    expect(states.at(-1)).toBe('RECONNECTING');
  });

  it('a VPN address inside a local network is refused before the tunnel is used', async () => {
    const { session, engine } = await setup();
    await session.connect();
    await engine.attached;
    engine.send('>STATE:1700000001,CONNECTED,SUCCESS,192.0.2.77,198.18.1.1,1194,,');
    await waitState(session, 'FAILED');
    expect(reason(session)?.code).toBe('pool-overlap');
    expect(reason(session)?.message).toMatch(/address 192\.0\.2\.77, which lies inside your local network 192\.0\.2\.0\/24 \(eth0\)/);
  });
});

/**
 * Diagnosis: openvpn's lines of one attempt, as the scripted peer plays them (texts from
 * openvpn 2.6's source), and what the session makes of attempt after attempt.
 */
describe('Session diagnosis', () => {
  const PUSHED_COMPRESSION = [
    '>STATE:1700000001,AUTH,,,,,,',
    ">LOG:1700000001,I,PUSH: Received control message: 'PUSH_REPLY,route 198.18.2.0 255.255.255.0,compress lz4-v2,peer-id 0,cipher AES-256-GCM'",
    '>LOG:1700000001,N,Compression is not allowed since allow-compression is set to \'stub-only\'',
    '>LOG:1700000001,N,OPTIONS ERROR: server pushed compression settings that are not allowed and will result in a non-working connection. See also allow-compression in the manual.',
    '>LOG:1700000001,N,ERROR: Failed to apply push options',
    '>LOG:1700000001,N,Failed to open tun/tap interface',
    '>LOG:1700000001,I,SIGUSR1[soft,process-push-msg-failed] received, process restarting',
    '>STATE:1700000001,RECONNECTING,process-push-msg-failed,,,,,',
  ];
  const NO_ANSWER = ['>LOG:1700000011,I,Server poll timeout, restarting', '>STATE:1700000011,RECONNECTING,server_poll,,,,,'];

  /** Plays one attempt, from openvpn's start or restart to the next restart. */
  const attempt = (engine: FakeOpenvpn, lines: string[]) => {
    for (const line of lines) engine.send(line);
  };

  /** A session connecting, its scripted openvpn attached. */
  async function attached(opts: Parameters<typeof setup>[0] = {}) {
    const started = await setup(opts);
    await started.session.connect();
    await started.engine.attached;
    return started;
  }

  /** The same attempt REPEAT_LIMIT times: the session must have ended FAILED. */
  async function failedAfterRepeats(lines: string[]) {
    const { session, engine, states } = await attached();
    for (let i = 0; i < REPEAT_LIMIT; i++) attempt(engine, lines);
    await waitState(session, 'FAILED');
    return { failure: reason(session), engine, states };
  }

  it('a gateway that answers but pushes compression the profile refuses: FAILED naming it after a bounded number of attempts, openvpn stopped', async () => {
    const { failure, engine, states } = await failedAfterRepeats(PUSHED_COMPRESSION);
    expect(failure).toEqual({
      code: 'config',
      message: expect.stringMatching(/^the gateway pushes compression \(compress or comp-lzo\), which this profile does not allow: .* — openvpn: "OPTIONS ERROR: server pushed compression settings that are not allowed .*" \(the same on 3 attempts in a row\)$/),
    });
    expect(failure?.message).not.toMatch(/no answer/);
    expect(engine.commands.at(-1)).toBe('signal SIGTERM');
    expect(states.filter((s) => s === 'AUTH').length).toBeLessThanOrEqual(REPEAT_LIMIT);
  });

  it('anything else in between starts the count over, and so does CONNECTED', async () => {
    const { session, engine } = await attached();
    attempt(engine, PUSHED_COMPRESSION);
    attempt(engine, PUSHED_COMPRESSION);
    attempt(engine, NO_ANSWER);
    attempt(engine, PUSHED_COMPRESSION);
    attempt(engine, PUSHED_COMPRESSION);
    engine.send('>STATE:1700000020,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    engine.send('>STATE:1700000030,RECONNECTING,ping-restart,,,,,');
    attempt(engine, PUSHED_COMPRESSION);
    attempt(engine, PUSHED_COMPRESSION);
    // A round trip on the socket: everything above has been read and judged.
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/);
    expect(session.snapshot().state).toBe('RECONNECTING');
    attempt(engine, PUSHED_COMPRESSION);
    await waitState(session, 'FAILED');
    expect(reason(session)?.message).toMatch(/^the gateway pushes compression/);
  });

  it.each([
    [
      'a gateway that answered and then failed the TLS handshake is not "no answer"',
      [
        '>STATE:1700000001,AUTH,,,,,,',
        '>LOG:1700000001,N,OpenSSL: error:0A000086:SSL routines::certificate verify failed:',
        '>LOG:1700000001,N,TLS Error: TLS object -> incoming plaintext read error',
        '>LOG:1700000001,N,TLS Error: TLS handshake failed',
        '>STATE:1700000001,RECONNECTING,tls-error,,,,,',
      ],
      /^the gateway answered, but the TLS handshake with it did not complete/,
    ],
    [
      'a TCP gateway that closes the connection before answering wants a tls-crypt or tls-auth key',
      [
        '>STATE:1700000001,TCP_CONNECT,,,,,,',
        '>LOG:1700000001,I,TCP connection established with [AF_INET]198.18.1.1:1194',
        '>STATE:1700000001,WAIT,,,,,,',
        '>LOG:1700000001,N,Connection reset, restarting [0]',
        '>STATE:1700000001,RECONNECTING,connection-reset,,,,,',
      ],
      /^the gateway accepted the TCP connection but closed it before answering: it expects a tls-crypt or tls-auth key, which this profile does not have/,
    ],
  ])('%s', async (_title, lines, reason) => {
    const { failure } = await failedAfterRepeats(lines);
    expect(failure).toMatchObject({ code: 'tls', message: expect.stringMatching(reason) });
  });

  it('a gateway that never answers is retried until the timeout (it may come back), and the reason says so', async () => {
    const { session, engine } = await attached({ reconnectTimeoutSec: 5 });
    for (let i = 0; i < REPEAT_LIMIT + 2; i++) attempt(engine, NO_ANSWER);
    engine.send(">PASSWORD:Need 'Auth' username/password");
    await engine.waitFor(/^password "Auth"/);
    expect(session.snapshot().state).toBe('CONNECTING');
    await session.done;
    expect(reason(session)).toEqual({
      code: 'unreachable',
      message: expect.stringMatching(/^could not connect within 5 s: no answer from the gateway: .*; if the gateway uses a tls-crypt or tls-auth key, this profile does not have it/),
    });
  }, 15_000);

  it('no data-channel cipher in common fails at once, naming the cipher, without asking for the password again', async () => {
    const { session, engine, creds } = await attached();
    engine.send('>STATE:1700000001,AUTH,,,,,,');
    engine.send('>LOG:1700000002,,AUTH: Received control message: AUTH_FAILED,Data channel cipher negotiation failed (no shared cipher)');
    engine.send(">PASSWORD:Verification Failed: 'Auth' ['Data channel cipher negotiation failed (no shared cipher)']");
    await waitState(session, 'FAILED');
    expect(reason(session)).toMatchObject({ code: 'config', message: expect.stringMatching(/^the gateway and this profile have no data-channel cipher in common/) });
    expect(creds.rejected).toEqual([]);
  });

  it('a temporary refusal (AUTH_FAILED,TEMP) is neither a wrong password nor the end', async () => {
    const { session, engine, creds } = await attached();
    engine.send('>LOG:1700000002,,AUTH: Received control message: AUTH_FAILED,TEMP[backoff 5]:server busy');
    engine.send(">PASSWORD:Verification Failed: 'Auth' ['TEMP[backoff 5]:server busy']");
    engine.send('>STATE:1700000002,RECONNECTING,auth-temp-failure (server temporary reject),,,,,');
    engine.send('>STATE:1700000009,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await waitState(session, 'CONNECTED');
    expect(creds.rejected).toEqual([]);
  });
});
