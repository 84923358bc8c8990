/**
 * Client core pieces that need no network: the profile store (atomic, private, a damaged
 * profile never hides the others), the openvpn config builder (only allowlisted fields,
 * Ferry's own management lines, nothing injectable) and the session's credential source
 * (keychain order, save only after acceptance, never delete on rejection, OTP codes).
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HOTP, Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { buildClientConfig, type EngineSpec } from '../../core/engine/config.js';
import type { ImportedProfile } from '../../core/profile/import.js';
import { ProfileSchema, type Profile } from '../../core/profile/schema.js';
import { ProfileStore } from '../../core/profile/store.js';
import { KeychainUnavailableError, MemorySecretStore, type SecretStore } from '../../core/secrets/secret-store.js';
import { passwordPrompt } from '../../core/cli/terminal-prompter.js';
import { SessionCredentials, type PasswordRequest, type Prompter } from '../../core/session/credentials.js';
import { messageText } from '../../core/session/failure-text.js';
import type { Message } from '../../core/session/messages.js';
import { tempDir } from '../support/cli.js';

function imported(name: string, overrides: Partial<ImportedProfile['draft']> = {}): ImportedProfile {
  return {
    draft: {
      name,
      remotes: [{ host: '198.18.1.1', port: 1194, proto: 'tcp' }],
      username: name,
      passwordRequired: true,
      otp: { kind: 'none', digits: 6, period: 30, algorithm: 'SHA1', counter: 0 },
      reconnectTimeoutSec: 60,
      autoConnect: false,
      minimizeOnConnect: false,
      keyEncrypted: false,
      files: ['ca.crt', 'client.crt', 'client.key'],
      engine: { dev: 'tun', directives: [{ name: 'remote-cert-tls', args: ['server'] }] },
      ...overrides,
    },
    files: { 'ca.crt': 'CA PEM', 'client.crt': 'CERT PEM', 'client.key': 'KEY PEM' },
    certificates: [],
    warnings: [],
  };
}

function profile(overrides: Partial<Profile> = {}): Profile {
  return ProfileSchema.parse({ ...imported('office').draft, version: 1, id: 'office-abc123', createdAt: '2026-01-01T00:00:00Z', ...overrides });
}

describe('ProfileStore', () => {
  it('stores a profile in a private directory, atomically, and loads it back', async () => {
    const store = new ProfileStore(path.join(await tempDir(), 'home'));
    const saved = await store.add(imported('Office VPN'));
    expect(saved.id).toMatch(/^office-vpn-[0-9a-f]{6}$/);
    const dir = store.dirOf(saved);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const file of await readdir(dir)) expect((await stat(path.join(dir, file))).mode & 0o777).toBe(0o600);
    expect(await readdir(store.profilesDir)).toEqual([saved.id]); // no temp directory left behind
    expect(await store.get('office vpn')).toEqual(saved);
  });

  it('refuses a second profile with the same name (any case) and keeps the first', async () => {
    const store = new ProfileStore(path.join(await tempDir(), 'home'));
    await store.add(imported('Office'));
    await expect(store.add(imported('OFFICE'))).rejects.toThrow(/a profile named "OFFICE" already exists/);
    expect((await store.list()).profiles).toHaveLength(1);
  });

  it('reports a damaged profile by itself and still loads the others; remove works by the id it names', async () => {
    const store = new ProfileStore(path.join(await tempDir(), 'home'));
    const good = await store.add(imported('good'));
    const bad = await store.add(imported('bad'));
    await writeFile(path.join(store.dirOf(bad), 'profile.json'), '{"version":1,"name":');
    const missing = await store.add(imported('missing-file'));
    await writeFile(path.join(store.dirOf(missing), 'profile.json'), JSON.stringify({ ...missing, remotes: [] }));
    const { profiles, errors } = await store.list();
    expect(profiles.map((p) => p.name)).toEqual(['good']);
    expect(errors.map((e) => e.message).sort()).toEqual([
      expect.stringMatching(new RegExp(`^profile ${bad.id} is damaged: .*profile.json is not valid JSON; remove it with \`ferry remove ${bad.id}\` and import it again$`)),
      expect.stringMatching(new RegExp(`^profile ${missing.id} is damaged: remotes: .*; remove it with \`ferry remove ${missing.id}\` and import it again$`)),
    ]);
    await expect(store.get('bad')).rejects.toThrow(/is damaged/);
    await expect(store.get('nothing')).rejects.toThrow(/no profile named "nothing" \(profiles: "good"\)/);
    await store.remove(bad.id);
    expect((await store.list()).errors).toHaveLength(1);
    expect(good.name).toBe('good');
  });

  it('removes a profile with its saved secrets', async () => {
    const store = new ProfileStore(path.join(await tempDir(), 'home'));
    const secrets = new MemorySecretStore();
    const saved = await store.add(imported('office'));
    await secrets.set(saved.id, 'password', 'pw');
    await secrets.set(saved.id, 'otp-secret', 'JBSWY3DPEHPK3PXP');
    await secrets.set('other', 'password', 'keep');
    await store.remove('office', secrets);
    expect([...secrets.values.keys()]).toEqual(['other/password']);
    expect(await readdir(store.profilesDir)).toEqual([]);
  });

  it('updates only editable fields, validated', async () => {
    const store = new ProfileStore(path.join(await tempDir(), 'home'));
    await store.add(imported('office'));
    const updated = await store.update('office', { reconnectTimeoutSec: 120, autoConnect: true });
    expect(updated).toMatchObject({ reconnectTimeoutSec: 120, autoConnect: true });
    await expect(store.update('office', { reconnectTimeoutSec: 1 })).rejects.toThrow();
    expect((await store.get('office')).reconnectTimeoutSec).toBe(120);
  });

  it('a profile JSON holds no secret and no key material', async () => {
    const store = new ProfileStore(path.join(await tempDir(), 'home'));
    const saved = await store.add(imported('office'));
    const json = await readFile(path.join(store.dirOf(saved), 'profile.json'), 'utf8');
    expect(json).not.toMatch(/PEM|password"\s*:\s*"|secret/i);
  });
});

describe('buildClientConfig', () => {
  const spec: EngineSpec = {
    remotes: [{ host: 'vpn.example.test', port: 1194, proto: 'udp' }, { host: '198.18.1.1', port: 443, proto: 'tcp' }],
    engine: { dev: 'tun', remoteCertTls: 'server', dataCiphers: 'AES-256-GCM:AES-128-GCM', verifyX509Name: { name: 'gateway', type: 'name' }, compress: 'lz4-v2' },
    passwordRequired: true,
    staticChallenge: { text: 'Enter "code"', echo: true },
    files: { ca: '/home/a b/ca.crt', cert: '/home/a b/client.crt', key: '/home/a b/client.key', tlsCrypt: '/home/a b/tls-crypt.key' },
    managementSocket: '/run/user/1000/ferry/x/management.sock',
    guiVersion: 'Ferry 0.1.0',
  };

  it('writes the profile fields and Ferry-owned management, credential and retry lines', () => {
    const lines = buildClientConfig(spec).split('\n');
    expect(lines).toEqual(expect.arrayContaining([
      'client', 'remote vpn.example.test 1194 udp', 'remote 198.18.1.1 443 tcp',
      'ca "/home/a b/ca.crt"', 'tls-crypt "/home/a b/tls-crypt.key"', 'verify-x509-name gateway name',
      'data-ciphers AES-256-GCM:AES-128-GCM', 'allow-compression asym', 'compress lz4-v2',
      'auth-user-pass', 'auth-nocache', 'auth-retry interact', 'static-challenge "Enter \\"code\\"" 1',
      'management "/run/user/1000/ferry/x/management.sock" unix', 'management-hold', 'management-query-passwords',
      'script-security 1', 'persist-tun',
    ]));
    expect(lines.filter((l) => /^(up|down|route-up|plugin|log|status|daemon|cd|chroot)\b/.test(l))).toEqual([]);
  });

  it('waits less on one gateway when there are others to try (failover), the usual time when there is one', () => {
    expect(buildClientConfig(spec).split('\n')).toContain('server-poll-timeout 4');
    expect(buildClientConfig({ ...spec, remotes: spec.remotes.slice(0, 1) }).split('\n')).toContain('server-poll-timeout 10');
  });

  it('refuses fields that could smuggle a directive in', () => {
    expect(() => buildClientConfig({ ...spec, remotes: [{ host: 'x\nup /bin/sh', port: 1194, proto: 'udp' }] })).toThrow();
    expect(() => buildClientConfig({ ...spec, files: { ...spec.files, ca: 'relative/ca.crt' } })).toThrow();
    expect(() => buildClientConfig({ ...spec, files: { ...spec.files, ca: '/x"\nplugin /evil.so' } })).toThrow();
    expect(() => buildClientConfig({ ...spec, engine: { ...spec.engine, dataCiphers: 'AES-256-GCM\nup /bin/sh' } })).toThrow();
    expect(() => buildClientConfig({ ...spec, guiVersion: 'x\ny' })).toThrow();
  });

  it('leaves out auth-user-pass for certificate-only profiles and cert/key for password-only ones', () => {
    const certOnly = buildClientConfig({ ...spec, passwordRequired: false, staticChallenge: undefined });
    expect(certOnly).not.toMatch(/^auth-user-pass/m);
    const passwordOnly = buildClientConfig({ ...spec, files: { ca: '/p/ca.crt' } });
    expect(passwordOnly).not.toMatch(/^(cert|key) /m);
  });
});

class ScriptedPrompter implements Prompter {
  readonly asked: string[] = [];
  constructor(private readonly answers: Record<string, Array<string | undefined>>) {}
  private next(kind: string) {
    this.asked.push(kind);
    const value = this.answers[kind]?.shift();
    return Promise.resolve(value === undefined ? undefined : { value });
  }
  password() { return this.next('password'); }
  otp() { return this.next('otp'); }
  challenge() { return this.next('challenge'); }
  keyPassphrase() { return this.next('keyPassphrase'); }
}

class UnreachableKeychain implements SecretStore {
  get(): Promise<string | undefined> { return Promise.reject(new KeychainUnavailableError('org.freedesktop.secrets was not provided')); }
  set(): Promise<void> { return Promise.reject(new KeychainUnavailableError('org.freedesktop.secrets was not provided')); }
  delete(): Promise<boolean> { return Promise.reject(new KeychainUnavailableError('org.freedesktop.secrets was not provided')); }
}

describe('SessionCredentials', () => {
  it('uses the saved password first, and on rejection asks the person without deleting the saved one', async () => {
    const secrets = new MemorySecretStore();
    await secrets.set('office-abc123', 'password', 'saved-pw');
    const prompter = new ScriptedPrompter({ password: ['typed-pw'] });
    const creds = new SessionCredentials(profile(), secrets, prompter, { savePassword: true });
    expect(await creds.auth({})).toEqual({ username: 'office', password: 'saved-pw' });
    expect(prompter.asked).toEqual([]);
    expect(await creds.auth({ rejected: '' })).toEqual({ username: 'office', password: 'typed-pw' });
    expect(await secrets.get('office-abc123', 'password')).toBe('saved-pw'); // not deleted, not yet replaced
    await creds.accepted();
    expect(await secrets.get('office-abc123', 'password')).toBe('typed-pw'); // replaced once accepted
  });

  it('saves a given password only when asked to, and only after acceptance', async () => {
    const secrets = new MemorySecretStore();
    const notices: Message[] = [];
    const creds = new SessionCredentials(profile(), secrets, new ScriptedPrompter({}), { password: 'pw1', savePassword: true, notice: (m) => notices.push(m) });
    await creds.auth({});
    expect(secrets.values.size).toBe(0);
    await creds.accepted();
    expect(await secrets.get('office-abc123', 'password')).toBe('pw1');
    expect(notices).toEqual([{ code: 'password-saved', params: {} }]);
    const noSave = new SessionCredentials(profile({ id: 'other-abc123' }), secrets, new ScriptedPrompter({}), { password: 'pw2' });
    await noSave.auth({});
    await noSave.accepted();
    expect(await secrets.get('other-abc123', 'password')).toBeUndefined();
  });

  it('without a keychain, says so once and asks each time instead', async () => {
    const notices: Message[] = [];
    const prompter = new ScriptedPrompter({ password: ['typed'] });
    const creds = new SessionCredentials(profile(), new UnreachableKeychain(), prompter, { savePassword: true, notice: (m) => notices.push(m) });
    expect(await creds.auth({})).toEqual({ username: 'office', password: 'typed' });
    await creds.accepted();
    expect(notices).toEqual([{ code: 'keychain-unavailable', params: { error: expect.any(String) } }]);
    expect(messageText(notices[0]!, 'en')).toMatch(/^no OS keychain is reachable \(.*\); Ferry will ask for secrets each time/);
  });

  it('answers a static challenge with SCRV1 and a TOTP code from the keychain secret', async () => {
    const secrets = new MemorySecretStore();
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await secrets.set('office-abc123', 'otp-secret', secret);
    const creds = new SessionCredentials(profile({ otp: { kind: 'totp', digits: 6, period: 30, algorithm: 'SHA1', counter: 0 } }), secrets, new ScriptedPrompter({}), { password: 'pw' });
    const answer = await creds.auth({ staticChallenge: { text: 'OTP', echo: true } });
    const [, pw, code] = answer!.password.split(':');
    expect(answer!.password.startsWith('SCRV1:')).toBe(true);
    expect(Buffer.from(pw!, 'base64').toString()).toBe('pw');
    const expected = new TOTP({ secret: Secret.fromBase32(secret) }).generate();
    expect(Buffer.from(code!, 'base64').toString()).toBe(expected);
  });

  it('HOTP codes advance the saved counter', async () => {
    const secrets = new MemorySecretStore();
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await secrets.set('office-abc123', 'otp-secret', secret);
    const saved: number[] = [];
    const creds = new SessionCredentials(profile({ otp: { kind: 'hotp', digits: 6, period: 30, algorithm: 'SHA1', counter: 5 } }), secrets, new ScriptedPrompter({}), { password: 'pw', saveHotpCounter: async (n) => void saved.push(n) });
    const code = (a: { password: string } | undefined) => Buffer.from(a!.password.split(':')[2]!, 'base64').toString();
    expect(code(await creds.auth({ staticChallenge: { text: 'OTP', echo: true } }))).toBe(new HOTP({ secret: Secret.fromBase32(secret), counter: 5 }).generate());
    expect(code(await creds.auth({ staticChallenge: { text: 'OTP', echo: true } }))).toBe(new HOTP({ secret: Secret.fromBase32(secret), counter: 6 }).generate());
    expect(saved).toEqual([6, 7]);
  });

  it('a re-login after the gateway refused the session token: the password at hand and a fresh OTP code, nobody asked', async () => {
    const secrets = new MemorySecretStore();
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    await secrets.set('office-abc123', 'otp-secret', secret);
    const prompter = new ScriptedPrompter({});
    const creds = new SessionCredentials(profile({ otp: { kind: 'totp', digits: 6, period: 30, algorithm: 'SHA1', counter: 0 } }), secrets, prompter, { password: 'piped', otp: '111111' });
    const code = (a: { password: string } | undefined) => Buffer.from(a!.password.split(':')[2]!, 'base64').toString();
    expect(code(await creds.auth({ staticChallenge: { text: 'OTP', echo: false } }))).toBe('111111');
    const again = await creds.auth({ expired: true, staticChallenge: { text: 'OTP', echo: false } });
    expect(Buffer.from(again!.password.split(':')[1]!, 'base64').toString()).toBe('piped');
    expect(code(again)).toBe(new TOTP({ secret: Secret.fromBase32(secret) }).generate());
    expect(prompter.asked).toEqual([]);
  });

  it('a re-login with no password at hand reads the keychain, else asks the person saying the session expired', async () => {
    const secrets = new MemorySecretStore();
    await secrets.set('office-abc123', 'password', 'saved-pw');
    expect(await new SessionCredentials(profile(), secrets, new ScriptedPrompter({}), {}).auth({ expired: true })).toEqual({ username: 'office', password: 'saved-pw' });
    const requests: PasswordRequest[] = [];
    const recording: Prompter = { ...new ScriptedPrompter({}), password: async (req) => (requests.push(req), { value: 'typed' }), otp: async () => undefined, challenge: async () => undefined, keyPassphrase: async () => undefined };
    expect(await new SessionCredentials(profile(), new MemorySecretStore(), recording, {}).auth({ expired: true })).toEqual({ username: 'office', password: 'typed' });
    expect(requests).toEqual([{ profile: 'office', username: 'office', expired: true }]);
  });

  it("the terminal's password prompt: an expired session is not called a rejected password", () => {
    expect(passwordPrompt({ profile: 'office', username: 'alice' })).toBe('Password for alice: ');
    expect(passwordPrompt({ profile: 'office', username: 'alice', rejected: 'wrong' })).toBe('The gateway rejected the password. Password for alice: ');
    const expired = passwordPrompt({ profile: 'office', username: 'alice', expired: true });
    expect(expired).toMatch(/session .*expired/i);
    expect(expired).not.toMatch(/rejected|wrong/i);
    expect(expired).toMatch(/Password for alice: $/);
  });

  it('a --otp code is used once; the next challenge asks', async () => {
    const prompter = new ScriptedPrompter({ challenge: ['second'] });
    const creds = new SessionCredentials(profile(), new MemorySecretStore(), prompter, { otp: '111111' });
    expect(await creds.challenge({ text: 'PIN', echo: false })).toBe('111111');
    expect(await creds.challenge({ text: 'PIN', echo: false })).toBe('second');
  });
});
