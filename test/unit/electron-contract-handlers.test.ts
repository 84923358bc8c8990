/**
 * ContractHandlers (electron/contract-handlers.ts) on a real FerryClient: a temporary home, an
 * in-memory keychain and a fake Launcher on whose management socket this test plays
 * openvpn. Import from file contents (errors name the picked file, temp files vanish),
 * prompts (password, wrong password, remember), settings, and the rule that no secret
 * ever appears in an event.
 */
import { createServer } from 'node:net';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FerryClient } from '../../core/client.js';
import { HelperLauncher } from '../../core/engine/helper-launcher.js';
import { helperSocketPath } from '../../core/engine/helper-protocol.js';
import { DirectLauncher, type Launcher } from '../../core/engine/launcher.js';
import { MemorySecretStore } from '../../core/secrets/secret-store.js';
import { ImportError } from '../../core/profile/import.js';
import type { FerryEvent, ImportFile, Prompt } from '../../electron/contract.js';
import { liveSessions } from '../../core/session/status-socket.js';
import type { SessionState } from '../../core/session/snapshot.js';
import { ContractHandlers } from '../../electron/contract-handlers.js';
import { safeFileName } from '../../electron/import-staging.js';
import { encryptKey, makeCa, makeClient, type Identity } from '../fixtures/import/generate.js';
import { tempDir } from '../support/cli.js';
import { FakeOpenvpn } from '../support/fake-openvpn.js';
import { until } from '../support/until.js';

/** Plays openvpn on the management socket the session asks for, recording its commands. */

const b64 = (data: string | Uint8Array): string => Buffer.from(data).toString('base64');

let ca: Identity;
let alice: Identity;
let other: Identity;

beforeAll(async () => {
  // Valid around the real "now": the session checks the client certificate's expiry itself.
  ca = await makeCa({ cn: 'Service CA', fromDays: -3000 });
  alice = await makeClient(ca, { cn: 'alice', fromDays: -3000 });
  other = await makeClient(ca, { cn: 'mallory', fromDays: -3000 });
});

interface Setup {
  service: ContractHandlers;
  client: FerryClient;
  secrets: MemorySecretStore;
  engine: FakeOpenvpn;
  events: FerryEvent[];
  tempRoot: string;
  home: string;
  savedTo: string;
  env: NodeJS.ProcessEnv;
}

/** The registry's state for a profile, as the tunnel events told it (the last one wins). */
const stateIn = (events: FerryEvent[], id?: string): SessionState | undefined => {
  const last = events.filter((e) => e.type === 'tunnel' && (id === undefined || e.id === id)).at(-1);
  return last?.type === 'tunnel' ? last.tunnel?.snapshot?.state : undefined;
};
const sawState = (events: FerryEvent[], state: SessionState) => events.some((e) => e.type === 'tunnel' && e.tunnel?.snapshot?.state === state);

const services: ContractHandlers[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) await s.dispose();
});
afterAll(() => {});

async function setup(opts: { launcher?: (env: NodeJS.ProcessEnv) => Launcher; env?: NodeJS.ProcessEnv } = {}): Promise<Setup> {
  const base = await tempDir('ferry-service-');
  const home = path.join(base, 'home');
  const tempRoot = path.join(base, 'tmp');
  const runtime = path.join(base, 'run');
  await Promise.all([tempRoot, runtime].map((d) => import('node:fs/promises').then((fs) => fs.mkdir(d, { mode: 0o700 }))));
  const env = { XDG_RUNTIME_DIR: runtime, FERRY_HELPER_SOCKET: path.join(base, 'no-helper.sock'), ...opts.env };
  const secrets = new MemorySecretStore();
  const engine = new FakeOpenvpn();
  const client = new FerryClient({ home, secrets, launcher: opts.launcher?.(env) ?? engine, env });
  const savedTo = path.join(base, 'exported.log');
  const runtimeEnv = env;
  const service = new ContractHandlers({
    client,
    systemLanguage: 'zh-CN',
    platform: 'linux',
    tempRoot,
    chooseSavePath: async () => savedTo,
  });
  services.push(service);
  const events: FerryEvent[] = [];
  service.on('event', (e) => events.push(e));
  await service.start();
  return { service, client, secrets, engine, events, tempRoot, home, savedTo, env: runtimeEnv };
}

function threeFiles(client: Identity = alice): ImportFile[] {
  return [
    { name: 'ca.crt', base64: b64(ca.certPem) },
    { name: 'client.crt', base64: b64(client.certPem) },
    { name: 'client.key', base64: b64(client.keyPem) },
  ];
}

async function imported(s: Setup, name = 'Office') {
  return s.service.handlers.saveImport({ files: threeFiles(), settings: { name, gateway: '198.18.1.1:1194' } });
}

async function caught(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('ContractHandlers: import from file contents', () => {
  it('previews the three PEM files without storing anything, and leaves no temp files', async () => {
    const s = await setup();
    const preview = await s.service.handlers.previewImport({ files: threeFiles(), settings: { gateway: 'vpn.example.com:1443', proto: 'udp' } });
    expect(preview).toMatchObject({ name: 'alice', gateway: 'vpn.example.com:1443', proto: 'udp', username: 'alice', passwordRequired: true });
    expect(preview.certificates.map((c) => [c.role, c.subject])).toEqual([
      ['ca', 'CN=Service CA'],
      ['client', 'CN=alice'],
    ]);
    expect(preview.certificates[1]!.sha1).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(await s.service.handlers.listProfiles({})).toEqual([]);
    expect(await readdir(s.tempRoot)).toEqual([]);
  });

  it('saves a profile, announces it, and lists it without its secrets', async () => {
    const s = await setup();
    const view = await imported(s);
    expect(view.profile).toMatchObject({ name: 'Office', username: 'alice', remotes: [{ host: '198.18.1.1', port: 1194, proto: 'tcp' }] });
    expect(s.events).toContainEqual({ type: 'profiles-changed' });
    const [listed] = await s.service.handlers.listProfiles({});
    expect(listed).toMatchObject({ profile: { name: 'Office' }, savedPassword: false, savedOtpSecret: false });
    expect(listed!.tunnel).toBeUndefined();
    expect(await readdir(s.tempRoot)).toEqual([]);
  });

  it('names the picked file in an error, never the temporary path, and still cleans up', async () => {
    const s = await setup();
    const files = [...threeFiles().slice(0, 2), { name: 'my key.pem', base64: b64('this is not a key\n') }];
    const err = await caught(s.service.handlers.previewImport({ files, settings: { gateway: 'vpn.example.com' } }));
    expect(err).toBeInstanceOf(ImportError);
    expect((err as ImportError).file).toBe('my key.pem');
    expect(err.message).toContain('my key.pem');
    expect(err.message).not.toContain(s.tempRoot);
    // A key that belongs to someone else: the error sits next to the key file.
    const mismatch = [...threeFiles().slice(0, 2), { name: 'client.key', base64: b64(other.keyPem) }];
    const err2 = await caught(s.service.handlers.saveImport({ files: mismatch, settings: { gateway: 'vpn.example.com' } }));
    expect((err2 as ImportError).file).toBe('client.key');
    expect(err2.message).toMatch(/does not belong to the certificate/);
    expect(await readdir(s.tempRoot)).toEqual([]);
    expect(await s.service.handlers.listProfiles({})).toEqual([]);
  });

  it('refuses duplicate names and unusable names; directory parts of a name are dropped', async () => {
    const s = await setup();
    const dup = [...threeFiles(), { name: 'CA.crt', base64: b64(ca.certPem) }];
    const err = await caught(s.service.handlers.previewImport({ files: dup, settings: { gateway: 'vpn.example.com' } }));
    expect(err.message).toMatch(/given twice/);
    expect((err as ImportError).file).toBe('CA.crt');
    expect(safeFileName('../../etc/passwd')).toBe('passwd');
    expect(safeFileName('C:\\Users\\me\\ca.crt')).toBe('ca.crt');
    expect(() => safeFileName('..')).toThrow(/not a usable file name/);
    const traversal = [{ name: '../../../ca.crt', base64: b64(ca.certPem) }, ...threeFiles().slice(1)];
    const preview = await s.service.handlers.previewImport({ files: traversal, settings: { gateway: 'vpn.example.com' } });
    expect(preview.name).toBe('alice');
    expect(await readdir(path.dirname(s.tempRoot))).not.toContain('ca.crt');
  });

  it('asks for an encrypted key\'s passphrase through the form, and the passphrase never leaves', async () => {
    const s = await setup();
    const passphrase = 'Key-Passphrase-4711';
    const files = [...threeFiles().slice(0, 2), { name: 'alice.key', base64: b64(encryptKey(alice.keyPem, passphrase)) }];
    const err = await caught(s.service.handlers.previewImport({ files, settings: { gateway: 'vpn.example.com' } }));
    expect(err.message).toMatch(/alice\.key is passphrase-protected — type its passphrase/);
    expect((err as ImportError).file).toBe('alice.key');
    const wrong = await caught(s.service.handlers.previewImport({ files, settings: { gateway: 'vpn.example.com', passphrase: 'nope' } }));
    expect((wrong as ImportError).file).toBe('alice.key');
    const view = await s.service.handlers.saveImport({ files, settings: { gateway: 'vpn.example.com', passphrase } });
    expect(view.profile.keyEncrypted).toBe(true);
    expect(JSON.stringify(s.events)).not.toContain(passphrase);
    expect(JSON.stringify(view)).not.toContain(passphrase);
  });
});

describe('ContractHandlers: sessions and prompts', () => {
  const promptOf = (events: FerryEvent[], n = 1): Prompt | undefined => events.filter((e) => e.type === 'prompt').map((e) => (e as { prompt: Prompt }).prompt)[n - 1];

  /** Connects Office with no password given; openvpn starts and asks for one; resolves with the UI's prompt. */
  async function connectUntilPrompt(s: Setup): Promise<Prompt> {
    await s.service.handlers.connect({ name: 'Office' });
    s.engine.send('>HOLD:Waiting for hold release:0');
    s.engine.send(">PASSWORD:Need 'Auth' username/password");
    await until(() => promptOf(s.events) !== undefined, 'the prompt');
    return promptOf(s.events)!;
  }

  it('asks for the password, asks again with "rejected" after a wrong one, saves it only once accepted', async () => {
    const s = await setup();
    const { profile } = await imported(s);
    const connecting = await s.service.handlers.connect({ name: 'office' });
    expect(connecting.tunnel).toMatchObject({ id: profile.id, owner: 'here', snapshot: { state: 'CONNECTING' } });
    s.engine.send('>HOLD:Waiting for hold release:0');
    await s.engine.waitFor(/^hold release$/);
    s.engine.send(">PASSWORD:Need 'Auth' username/password");
    await until(() => promptOf(s.events) !== undefined, 'the password prompt');
    const first = promptOf(s.events)!;
    expect(first).toMatchObject({ profile: 'Office', kind: 'password', text: 'alice', echo: false });
    expect(first.rejected).toBeUndefined();
    expect(await s.service.handlers.answerPrompt({ id: first.id, value: 'Wrong-Secret-1', rememberPassword: true })).toEqual({ accepted: true });
    expect(s.events).toContainEqual({ type: 'prompt-closed', id: first.id });
    await s.engine.waitFor(/^password "Auth"/);
    expect(s.engine.commands).toContain('password "Auth" "Wrong-Secret-1"');

    s.engine.send(">PASSWORD:Verification Failed: 'Auth' ['wrong password']");
    await until(() => promptOf(s.events, 2) !== undefined, 'the second prompt');
    const second = promptOf(s.events, 2)!;
    expect(second).toMatchObject({ kind: 'password', rejected: 'wrong password' });
    expect(await s.secrets.get(profile.id, 'password')).toBeUndefined(); // not saved: the server refused it
    await s.service.handlers.answerPrompt({ id: second.id, value: 'Right-Secret-2', rememberPassword: true });
    s.engine.send(">PASSWORD:Need 'Auth' username/password");
    await s.engine.waitFor(/^password "Auth" "Right-Secret-2"$/);
    s.engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    s.engine.send('>BYTECOUNT:1000,2000');
    await until(() => s.events.some((e) => e.type === 'tunnel' && e.tunnel?.snapshot?.stats.bytesIn === 1000), 'the byte count');
    await until(() => s.secrets.values.size === 1, 'the saved password');
    expect(await s.secrets.get(profile.id, 'password')).toBe('Right-Secret-2');

    const sessionStates = s.events.flatMap((e) => (e.type === 'tunnel' && e.tunnel?.snapshot ? [e.tunnel.snapshot.state] : []));
    expect(sessionStates).toEqual(expect.arrayContaining(['CONNECTING', 'CONNECTED']));
    const [listed] = await s.service.handlers.listProfiles({});
    expect(listed).toMatchObject({ savedPassword: true, tunnel: { owner: 'here', snapshot: { state: 'CONNECTED', stats: { virtualIp: '198.18.100.2' } } } });
    expect((await s.service.trayEntries())[0]).toMatchObject({ name: 'Office', state: 'CONNECTED' });

    // Removing a connected profile is refused; the tunnel is untouched.
    await expect(s.service.handlers.removeProfile({ name: 'Office' })).rejects.toThrow(/is connected; disconnect it first/);
    // As a code, for the window to word in its language.
    await expect(s.service.handlers.removeProfile({ name: 'Office' })).rejects.toMatchObject({ said: { code: 'remove-while-running', params: { profile: 'Office', state: 'CONNECTED' } } });

    // Woken from sleep: the live session restarts at once.
    s.service.wokeUp();
    await s.engine.waitFor(/^signal SIGUSR1$/);

    const end = await s.service.handlers.disconnect({ name: 'Office' });
    expect(end.tunnel).toMatchObject({ owner: 'ended', snapshot: { state: 'DISCONNECTED' } });
    await s.client.registry.settled();
    // Its status socket is gone: nothing left running for `ferry status`.
    expect(await liveSessions(await s.client.runtimeDir())).toEqual([]);
    expect((await s.service.handlers.logs({ name: 'Office' })).length).toBeGreaterThan(0);

    const everything = JSON.stringify(s.events);
    for (const secret of ['Wrong-Secret-1', 'Right-Secret-2']) expect(everything).not.toContain(secret);
    expect(JSON.stringify(await s.service.handlers.listProfiles({}))).not.toContain('Right-Secret-2');
  });

  it('uses a password given up front, and does not save it unless asked', async () => {
    const s = await setup();
    const { profile } = await imported(s);
    await s.service.handlers.connect({ name: 'Office', password: 'Given-Secret-3' });
    s.engine.send('>HOLD:Waiting for hold release:0');
    s.engine.send(">PASSWORD:Need 'Auth' username/password");
    await s.engine.waitFor(/^password "Auth" "Given-Secret-3"$/);
    s.engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await until(() => sawState(s.events, 'CONNECTED'), 'CONNECTED');
    expect(promptOf(s.events)).toBeUndefined();
    expect(await s.secrets.get(profile.id, 'password')).toBeUndefined();
    expect(JSON.stringify(s.events)).not.toContain('Given-Secret-3');
  });

  it('at start, takes over a tunnel ferry-helper kept while the app was away, asking nothing', async () => {
    const s = await setup();
    const { profile } = await imported(s);
    s.engine.keptRunning = profile.id;
    await s.service.connectAutoProfiles();
    await until(() => sawState(s.events, 'CONNECTED'), 'CONNECTED');
    expect(s.engine.launches).toBe(0);
    expect(promptOf(s.events)).toBeUndefined();
    expect(s.engine.commands.slice(0, 6)).toEqual(['log all', 'state on', 'bytecount 1', 'log on', 'hold on', 'state']);
    expect((await s.service.handlers.logs({ name: 'Office' })).map((l) => l.message)).toContain('Initialization Sequence Completed');
  });

  it('closes the open prompt when the session ends; a late answer is not accepted', async () => {
    const s = await setup();
    await imported(s);
    const prompt = await connectUntilPrompt(s);
    await s.service.handlers.disconnect({ name: 'Office' });
    await until(() => s.events.some((e) => e.type === 'prompt-closed' && e.id === prompt.id), 'prompt-closed');
    expect(await s.service.handlers.answerPrompt({ id: prompt.id, value: 'Late-Secret' })).toEqual({ accepted: false });
    expect(s.engine.commands.some((c) => c.includes('Late-Secret'))).toBe(false);
  });

  it('a cancelled prompt fails the session with its reason; disconnect dismisses the failure', async () => {
    const s = await setup();
    await imported(s);
    const prompt = await connectUntilPrompt(s);
    expect(await s.service.handlers.answerPrompt({ id: prompt.id })).toEqual({ accepted: true });
    await until(() => sawState(s.events, 'FAILED'), 'FAILED');
    await s.client.registry.settled();
    const [failed] = await s.service.handlers.listProfiles({});
    expect(failed!.tunnel).toMatchObject({ owner: 'ended', snapshot: { state: 'FAILED', failure: { code: 'credentials-unavailable', detail: 'password-missing', params: { profile: 'Office' } } } });
    expect((await s.service.trayEntries())[0]).toMatchObject({ state: 'FAILED' });
    // Disconnect on a failure shown dismisses it: the registry forgets the outcome.
    const dismissed = await s.service.handlers.disconnect({ name: 'Office' });
    expect(dismissed.tunnel).toBeUndefined();
    expect((await s.service.trayEntries())[0]).toMatchObject({ state: 'DISCONNECTED' });
    expect(s.events.at(-1)).toMatchObject({ type: 'tunnel', id: failed!.profile.id });
    expect(stateIn(s.events)).toBeUndefined();
  });

  it('exports the log to the chosen file', async () => {
    const s = await setup();
    await imported(s);
    await s.service.handlers.connect({ name: 'Office', password: 'x' });
    s.engine.send('>LOG:1700000003,I,TCP connection established with [AF_INET]198.18.1.1:1194');
    await until(() => s.events.some((e) => e.type === 'log'), 'a log line');
    expect(await s.service.handlers.exportLogs({ name: 'Office' })).toEqual({ path: s.savedTo });
    expect(await readFile(s.savedTo, 'utf8')).toMatch(/^2023-11-14T22:13:23\.000Z TCP connection established/m);
    expect((await stat(s.savedTo)).mode & 0o777).toBe(0o600);
  });
});

describe('ContractHandlers: one owner of tunnel state (the core registry)', () => {
  /** Office, connected through the fake openvpn with a password given up front. */
  async function connected(s: Setup) {
    const { profile } = await imported(s);
    await s.service.handlers.connect({ name: 'Office', password: 'x' });
    s.engine.send('>HOLD:Waiting for hold release:0');
    s.engine.send(">PASSWORD:Need 'Auth' username/password");
    await s.engine.waitFor(/^password "Auth"/);
    s.engine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,');
    await until(() => stateIn(s.events, profile.id) === 'CONNECTED', 'CONNECTED');
    return profile;
  }

  it('renaming a connected profile is allowed: the tunnel keeps running and shows under the new name everywhere', async () => {
    const s = await setup();
    const profile = await connected(s);
    const renamed = await s.service.handlers.updateProfile({ name: 'Office', edit: { name: 'HQ' } });
    expect(renamed).toMatchObject({ profile: { id: profile.id, name: 'HQ' }, appliesAtNextConnect: false, tunnel: { owner: 'here', snapshot: { state: 'CONNECTED' } } });
    // Nothing was restarted: no signal went to openvpn.
    expect(s.engine.commands.filter((c) => c.startsWith('signal'))).toEqual([]);
    // Byte counts keep arriving for the same id; tray and listing use the new name.
    s.engine.send('>BYTECOUNT:5000,6000');
    await until(() => s.events.some((e) => e.type === 'tunnel' && e.id === profile.id && e.tunnel?.snapshot?.stats.bytesIn === 5000), 'the byte count after the rename');
    expect(await s.service.trayEntries()).toEqual([{ name: 'HQ', state: 'CONNECTED', minimizeOnConnect: false }]);
    const [listed] = await s.service.handlers.listProfiles({});
    expect(listed).toMatchObject({ profile: { name: 'HQ' }, tunnel: { snapshot: { stats: { bytesIn: 5000 } } } });
    // The new name reaches the tunnel; the old one is gone.
    await expect(s.service.handlers.disconnect({ name: 'Office' })).rejects.toThrow(/no profile named "Office"/);
    expect((await s.service.handlers.disconnect({ name: 'HQ' })).tunnel).toMatchObject({ owner: 'ended', snapshot: { state: 'DISCONNECTED' } });
  });

  it('editing connection settings of a connected profile saves them for the next connect and says so; removing it is refused for the tunnel', async () => {
    const s = await setup();
    const profile = await connected(s);
    const edited = await s.service.handlers.updateProfile({ name: 'Office', edit: { gateway: '198.18.1.9:4443', minimizeOnConnect: true } });
    expect(edited).toMatchObject({ appliesAtNextConnect: true, profile: { remotes: [{ host: '198.18.1.9', port: 4443 }] }, tunnel: { snapshot: { state: 'CONNECTED' } } });
    expect(s.engine.commands.filter((c) => c.startsWith('signal'))).toEqual([]);
    // An edit that changes nothing the tunnel started with says nothing about it.
    expect((await s.service.handlers.updateProfile({ name: 'Office', edit: { autoConnect: true, username: 'alice' } })).appliesAtNextConnect).toBe(false);
    await expect(s.service.handlers.removeProfile({ name: 'Office' })).rejects.toThrow(/^"Office" is connected; disconnect it first$/);
    await s.service.handlers.disconnect({ name: 'Office' });
    await s.client.registry.settled();
    // Disconnected: the same edit needs no caveat, and removing works.
    expect((await s.service.handlers.updateProfile({ name: 'Office', edit: { gateway: '198.18.1.1:1194' } })).appliesAtNextConnect).toBe(false);
    await s.service.handlers.removeProfile({ name: 'Office' });
    expect(s.client.registry.get(profile.id)).toBeUndefined();
  });

  it('follows a tunnel another Ferry process runs (here: a second client on the same home) through its watch stream, and disconnects it', async () => {
    const s = await setup();
    const { profile } = await imported(s);
    // "ferry connect" in a terminal: another FerryClient, its own openvpn, the same runtime dir.
    const otherEngine = new FakeOpenvpn();
    const other = new FerryClient({ home: s.home, secrets: new MemorySecretStore(), launcher: otherEngine, env: s.env });
    const nobody = { password: async () => undefined, otp: async () => undefined, challenge: async () => undefined, keyPassphrase: async () => undefined };
    const { ended } = await other.connect('Office', { prompter: nobody, password: 'x' });
    otherEngine.send('>HOLD:Waiting for hold release:0');
    otherEngine.send(">PASSWORD:Need 'Auth' username/password");
    otherEngine.send('>STATE:1700000001,CONNECTED,SUCCESS,198.18.100.7,198.18.1.1,1194,,');
    await until(() => stateIn(s.events, profile.id) === 'CONNECTED', 'the other process\'s CONNECTED, seen by the app');
    expect(s.client.registry.get(profile.id)).toMatchObject({ owner: 'other-process', pid: process.pid });
    // Byte counts arrive as they happen (no listing asked for them).
    otherEngine.send('>BYTECOUNT:7000,8000');
    await until(() => s.events.some((e) => e.type === 'tunnel' && e.tunnel?.snapshot?.stats.bytesOut === 8000), 'the byte count');
    expect(await s.service.trayEntries()).toEqual([{ name: 'Office', state: 'CONNECTED', minimizeOnConnect: false }]);
    // Connecting it here as well is refused: it runs elsewhere.
    await expect(s.service.handlers.connect({ name: 'Office' })).rejects.toThrow(/already connected in another Ferry process/);
    // Disconnect from the app: the other process's session ends; the app sees it go.
    await s.service.handlers.disconnect({ name: 'Office' });
    expect((await ended).state).toBe('DISCONNECTED');
    await until(() => s.client.registry.get(profile.id) === undefined, 'the tunnel to leave the registry');
    expect(await s.service.trayEntries()).toEqual([{ name: 'Office', state: 'DISCONNECTED', minimizeOnConnect: false }]);
  });
});

describe('ContractHandlers: profile edits, settings, app info', () => {
  it('saves a valid OTP secret to the keychain first and refuses an invalid one; never echoes it', async () => {
    const s = await setup();
    const { profile } = await imported(s);
    await expect(s.service.handlers.updateProfile({ name: 'Office', edit: { otpKind: 'totp', otpSecret: 'not base32!' } })).rejects.toThrow(/base32/);
    await expect(s.service.handlers.updateProfile({ name: 'Office', edit: { otpKind: 'totp' } })).rejects.toThrow(/needs its secret/);
    expect((await s.client.store.get('Office')).otp.kind).toBe('none');
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DP';
    const view = await s.service.handlers.updateProfile({
      name: 'Office',
      edit: { otpKind: 'totp', otpSecret: secret.toLowerCase(), gateway: 'vpn2.example.com:4443', proto: 'udp', reconnectTimeoutSec: 120, minimizeOnConnect: true },
    });
    expect(view).toMatchObject({ savedOtpSecret: true, profile: { otp: { kind: 'totp' }, remotes: [{ host: 'vpn2.example.com', port: 4443, proto: 'udp' }], reconnectTimeoutSec: 120, minimizeOnConnect: true } });
    expect(await s.secrets.get(profile.id, 'otp-secret')).toBe(secret);
    expect(JSON.stringify(view)).not.toContain(secret);
    expect(JSON.stringify(s.events)).not.toContain(secret);
    await expect(s.service.handlers.updateProfile({ name: 'Office', edit: { gateway: 'bad host!' } })).rejects.toThrow(/^gateway: a gateway host is a hostname or an IP address$/);
    await expect(s.service.handlers.updateProfile({ name: 'Office', edit: { username: 'a\nb' } })).rejects.toThrow(/^username: /);
    await s.service.handlers.updateProfile({ name: 'Office', edit: { otpKind: 'none' } });
    expect(await s.secrets.get(profile.id, 'otp-secret')).toBeUndefined();
    await s.service.handlers.removeProfile({ name: 'Office' });
    expect(await s.service.handlers.listProfiles({})).toEqual([]);
  });

  it('keeps settings in a private file, announces changes, and survives a corrupt file', async () => {
    const s = await setup();
    expect(await s.service.handlers.getSettings({})).toEqual({ language: 'system', theme: 'system', startAtLogin: false });
    const next = await s.service.handlers.setSettings({ language: 'en', theme: 'dark' });
    expect(next).toEqual({ language: 'en', theme: 'dark', startAtLogin: false });
    expect(s.events).toContainEqual({ type: 'settings', settings: next });
    const file = path.join(s.home, 'settings.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(next);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, '{"language": "klingon"');
    expect(await s.service.handlers.getSettings({})).toEqual({ language: 'system', theme: 'system', startAtLogin: false });
    await writeFile(file, '{"language": "klingon", "theme": "dark"}');
    expect((await s.service.handlers.getSettings({})).language).toBe('system');
  });

  it('keeps the old settings when applying them fails', async () => {
    const base = await setup();
    const service = new ContractHandlers({
      client: base.client,
      systemLanguage: 'en',
      platform: 'linux',
      applySettings: async (next) => {
        if (next.startAtLogin) throw new Error('cannot write the autostart entry');
      },
    });
    await expect(service.handlers.setSettings({ startAtLogin: true })).rejects.toThrow(/autostart/);
    expect((await service.handlers.getSettings({})).startAtLogin).toBe(false);
  });

  it('reports how tunnels start: directly as root, through a reachable helper, or missing', async () => {
    const root = await setup({ launcher: (env) => new DirectLauncher(env) });
    expect(await root.service.handlers.appInfo({})).toMatchObject({ launcher: 'direct', systemLanguage: 'zh-CN', platform: 'linux', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    const helperAt = (env: NodeJS.ProcessEnv) => new HelperLauncher(helperSocketPath(env));
    const missing = await setup({ launcher: helperAt });
    expect((await missing.service.handlers.appInfo({})).launcher).toBe('missing');
    const socket = path.join(await tempDir('ferry-helper-'), 'helper.sock');
    // Something listening is not enough: it must answer the helper's status request.
    let answers = false;
    const helper = createServer((c) => c.once('data', () => c.end(answers ? '{"ok":true,"result":{"version":"0.1.0","sessions":0,"dns":"resolv.conf"}}\n' : '')));
    await new Promise<void>((resolve) => helper.listen(socket, resolve));
    try {
      const withHelper = await setup({ launcher: helperAt, env: { FERRY_HELPER_SOCKET: socket } });
      expect((await withHelper.service.handlers.appInfo({})).launcher).toBe('missing');
      answers = true;
      expect((await withHelper.service.handlers.appInfo({})).launcher).toBe('helper');
    } finally {
      helper.close();
    }
  });
});
