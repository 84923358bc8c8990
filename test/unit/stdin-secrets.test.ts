/**
 * `--password-stdin --otp-stdin`: the two lines of stdin and where each one ends up. The
 * split is checked on its own, then end to end through the session: the password line and
 * the code line reach openvpn (a scripted management peer) as one SCRV1 answer.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OTP_CODE_LINE, PASSWORD_LINE, splitSecretLines } from '../../core/cli/stdin-secrets.js';
import { ProfileSchema } from '../../core/profile/schema.js';
import { MemorySecretStore } from '../../core/secrets/secret-store.js';
import { SessionCredentials, type Prompter } from '../../core/session/credentials.js';
import { Session } from '../../core/session/session.js';
import { tempDir } from '../support/cli.js';
import { FakeOpenvpn } from '../support/fake-openvpn.js';

const BOTH = [PASSWORD_LINE, OTP_CODE_LINE];

describe('splitSecretLines', () => {
  it('takes one line per secret, in order; a final newline, CRLF and trailing blank lines are not lines', () => {
    for (const text of ['pw\n731904', 'pw\n731904\n', 'pw\r\n731904\r\n', 'pw\n731904\n\n\n']) {
      expect(splitSecretLines(text, BOTH), JSON.stringify(text)).toEqual(['pw', '731904']);
    }
    // Spaces are part of a password.
    expect(splitSecretLines(' pass word \n', [PASSWORD_LINE])).toEqual([' pass word ']);
  });

  it('refuses a count it would have to guess at, or an empty secret, without repeating what it read', () => {
    for (const [text, secrets] of [['pw\n', BOTH], ['pw\n731904\nx\n', BOTH], ['', BOTH], ['pw\n731904\n', [PASSWORD_LINE]], ['\n731904\n', BOTH], ['pw\n\n731904\n', BOTH]] as const) {
      let message = '';
      try {
        splitSecretLines(text, secrets);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, JSON.stringify(text)).not.toBe('');
      expect(message).not.toMatch(/pw|731904/);
    }
  });
});

const refusingPrompter: Prompter = {
  password: () => Promise.reject(new Error('asked for a password that was piped')),
  otp: () => Promise.reject(new Error('asked for a code that was piped')),
  challenge: () => Promise.reject(new Error('asked for a challenge answer')),
  keyPassphrase: () => Promise.reject(new Error('asked for a passphrase')),
};

const sessions: Session[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) await s.disconnect();
});

describe('the two lines through the session', () => {
  it('password line + code line reach openvpn as SCRV1:<base64 password>:<base64 code>', async () => {
    const [password, code] = splitSecretLines('pass "word"\\x\n731904\n', BOTH);
    const profile = ProfileSchema.parse({
      version: 1, id: 'office-abc123', name: 'office', remotes: [{ host: '198.18.1.1', port: 1194, proto: 'tcp' }], username: 'alice',
      passwordRequired: true, staticChallenge: { text: 'Authenticator code', echo: true }, files: ['ca.crt'], engine: {}, createdAt: '2026-01-01T00:00:00Z',
    });
    const runtime = await tempDir('ferry-stdin-');
    const engine = new FakeOpenvpn();
    const credentials = new SessionCredentials(profile, new MemorySecretStore(), refusingPrompter, { password: password!, otp: code! });
    const session = new Session({ profile, files: { ca: path.join(runtime, 'ca.crt') }, launcher: engine, credentials, runtimeDir: runtime, localNetworks: () => [] });
    sessions.push(session);
    await session.connect();
    await engine.attached;
    engine.send('>HOLD:Waiting for hold release:0');
    engine.send(">PASSWORD:Need 'Auth' username/password SC:1,Authenticator code");
    await engine.waitFor(/^password "Auth"/);
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    expect(engine.commands).toContain('username "Auth" "alice"');
    expect(engine.commands).toContain(`password "Auth" "SCRV1:${b64('pass "word"\\x')}:${b64('731904')}"`);
  });
});
