/**
 * FerryService: every call of the IPC contract implemented on the real client core. It
 * imports no `electron`, so the same object serves the Electron main process (through
 * electron/ipc.ts) and the UI tests' host (over its WebSocket bridge). Requests reach
 * it already parsed by the contract's schemas; failures are thrown as FerryError /
 * InputError / ImportError and turned into Results by the caller.
 *
 * The core's Session is the single owner of tunnel state; this service only relays its
 * events and answers its credential questions through prompts the renderer shows.
 * Secrets arrive here (prompt answers, a new OTP secret) and go only to the core and
 * the keychain: nothing this service emits or returns carries one.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { FERRY_VERSION, type FerryClient } from '../core/client.js';
import { editedRemotes, formatHostPort, normaliseOtpSecret, parseGateway } from '../core/profile/fields.js';
import { ImportError, importFiles, type ImportOptions } from '../core/profile/import.js';
import type { Profile, ProfilePatch } from '../core/profile/schema.js';
import { isSaved } from '../core/secrets/secret-store.js';
import { SessionCredentials, type SessionCredentialOptions, type Prompter } from '../core/session/credentials.js';
import type { Session, SessionSnapshot } from '../core/session/session.js';
import type { Failure } from '../core/session/failures.js';
import { idleSnapshot } from '../core/session/snapshot.js';
import { statusSocketPath, type LiveSession } from '../core/session/status-socket.js';
import { ensurePrivateDir, writeFileAtomic } from '../core/util/atomic-file.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { requestJsonSocket } from '../core/util/json-socket.js';
import {
  SettingsSchema,
  type Channel,
  type Contract,
  type FerryEvent,
  type ImportFile,
  type ImportPreview,
  type LogEntry,
  type Prompt,
  type ProfileView,
  type ResponseOf,
  type Settings,
} from './contract.js';

/** A request as the handler sees it: after the contract's schema has parsed it. */
export type ParsedRequest<C extends Channel> = z.output<Contract[C]['request']>;
export type Handlers = { [C in Channel]: (request: ParsedRequest<C>) => Promise<ResponseOf<C>> };


export interface FerryServiceDeps {
  client: FerryClient;
  /** The OS language (Electron: app.getLocale()). */
  systemLanguage: string;
  platform: string;
  version?: string;
  /** Shows a save dialog (main process); undefined = the person cancelled. Without it, export is unavailable. */
  chooseSavePath?: (suggested: string) => Promise<string | undefined>;
  /** Default: settings.json in the profile store's home. */
  settingsFile?: string;
  /** Makes settings real before they are saved (start at login); a failure keeps the old ones. */
  applySettings?: (next: Settings, previous: Settings) => Promise<void>;
  /** Where import temp dirs are made; default the OS temp dir. */
  tempRoot?: string;
}

export const DEFAULT_SETTINGS: Settings = { language: 'system', theme: 'system', startAtLogin: false };

/** One profile's state for the tray and notifications (main process). */
export interface TrayEntry {
  name: string;
  state: SessionSnapshot['state'];
  /** Why it failed, as data: the tray words it in the app's language. */
  failure?: Failure;
  minimizeOnConnect: boolean;
}

interface PendingPrompt {
  prompt: Prompt;
  profileId: string;
  resolve: (value: string | undefined) => void;
  /** The session's credential options: "remember password" flips savePassword here. */
  credentialOptions: SessionCredentialOptions;
}

interface LiveEntry {
  profile: Profile;
  session?: Session;
  close?: () => Promise<void>;
  credentialOptions: SessionCredentialOptions;
}

interface EndedEntry {
  snapshot: SessionSnapshot;
  log: LogEntry[];
}

export class FerryService extends EventEmitter<{ event: [FerryEvent] }> {
  readonly handlers: Handlers;
  private readonly client: FerryClient;
  private readonly settingsFile: string;
  /** Sessions this process runs, by profile id (including one still starting). */
  private readonly live = new Map<string, LiveEntry>();
  /** The last session per profile id once it ended: its outcome and log stay visible. */
  private readonly ended = new Map<string, EndedEntry>();
  private readonly prompts = new Map<string, PendingPrompt>();

  constructor(private readonly deps: FerryServiceDeps) {
    super();
    this.client = deps.client;
    this.settingsFile = deps.settingsFile ?? path.join(deps.client.store.home, 'settings.json');
    this.handlers = {
      listProfiles: () => this.listProfiles(),
      previewImport: (req) => this.previewImport(req.files, req.settings),
      saveImport: (req) => this.saveImport(req.files, req.settings),
      certificates: async (req) => this.client.certificates(await this.client.store.get(req.name)),
      updateProfile: (req) => this.updateProfile(req.name, req.edit),
      removeProfile: (req) => this.removeProfile(req.name),
      connect: (req) =>
        this.connect(req.name, {
          ...(req.password !== undefined ? { password: req.password } : {}),
          ...(req.otp !== undefined ? { otp: req.otp } : {}),
          savePassword: req.rememberPassword ?? false,
        }),
      disconnect: (req) => this.disconnect(req.name),
      answerPrompt: async (req) => ({ accepted: this.answerPrompt(req.id, req.value, req.rememberPassword) }),
      logs: async (req) => this.logsOf(await this.client.store.get(req.name)),
      exportLogs: (req) => this.exportLogs(req.name),
      getSettings: () => this.getSettings(),
      setSettings: (req) => this.setSettings(req),
      appInfo: async () => ({
        version: this.deps.version ?? FERRY_VERSION,
        systemLanguage: this.deps.systemLanguage,
        platform: this.deps.platform,
        launcher: await this.client.launcherKind(),
      }),
    };
  }

  // ---- profiles --------------------------------------------------------------------

  private async listProfiles(): Promise<ProfileView[]> {
    const { profiles } = await this.client.store.list();
    const others = await this.otherProcessSessions();
    return Promise.all(profiles.map((p) => this.view(p, others)));
  }

  private async view(profile: Profile, others?: Map<string, LiveSession>): Promise<ProfileView> {
    const session = this.snapshotOf(profile) ?? others?.get(profile.id)?.snapshot;
    return {
      profile,
      ...(session ? { session } : {}),
      savedPassword: await isSaved(this.client.secrets, profile.id, 'password'),
      savedOtpSecret: await isSaved(this.client.secrets, profile.id, 'otp-secret'),
    };
  }

  private snapshotOf(profile: Profile): SessionSnapshot | undefined {
    const entry = this.live.get(profile.id);
    if (entry?.session) return entry.session.snapshot();
    if (entry) return idleSnapshot(profile.name, 'CONNECTING');
    return this.ended.get(profile.id)?.snapshot;
  }

  /** Sessions `ferry connect` (or another Ferry) runs, found through their status sockets. */
  private async otherProcessSessions(): Promise<Map<string, LiveSession>> {
    const all = await this.client.liveSessions().catch(() => [] as LiveSession[]);
    return new Map(all.filter((s) => s.pid !== process.pid).map((s) => [s.profileId, s]));
  }

  private async updateProfile(name: string, edit: ParsedRequest<'updateProfile'>['edit']): Promise<ProfileView> {
    const current = await this.client.store.get(name);
    const patch: ProfilePatch = {};
    if (edit.name !== undefined && edit.name !== current.name) {
      // Events name sessions by profile name: renaming under a live one would orphan them.
      if (this.live.has(current.id)) throw new FerryError(`"${current.name}" is connected; disconnect it before renaming it`);
      patch.name = edit.name;
    }
    if (edit.username !== undefined) patch.username = edit.username;
    if (edit.passwordRequired !== undefined) patch.passwordRequired = edit.passwordRequired;
    if (edit.reconnectTimeoutSec !== undefined) patch.reconnectTimeoutSec = edit.reconnectTimeoutSec;
    if (edit.minimizeOnConnect !== undefined) patch.minimizeOnConnect = edit.minimizeOnConnect;
    if (edit.autoConnect !== undefined) patch.autoConnect = edit.autoConnect;
    if (edit.gateway !== undefined || edit.proto !== undefined) {
      patch.remotes = editedRemotes(current, edit.gateway !== undefined ? parseGateway(edit.gateway) : undefined, edit.proto);
    }
    const kind = edit.otpKind ?? current.otp.kind;
    let otpSecret: string | undefined;
    if (edit.otpSecret !== undefined && edit.otpSecret.trim() !== '') {
      if (kind === 'none') throw new InputError('choose the token type (TOTP or HOTP) for this OTP secret');
      otpSecret = normaliseOtpSecret(edit.otpSecret);
    }
    if (edit.otpKind !== undefined && (edit.otpKind !== current.otp.kind || otpSecret !== undefined)) {
      patch.otp = { ...current.otp, kind: edit.otpKind, counter: 0 };
    } else if (otpSecret !== undefined) {
      patch.otp = { ...current.otp, counter: 0 }; // a new HOTP token starts counting again
    }
    if (kind !== 'none' && otpSecret === undefined && edit.otpKind !== undefined && edit.otpKind !== current.otp.kind) {
      if (!(await isSaved(this.client.secrets, current.id, 'otp-secret'))) throw new InputError(`a ${kind.toUpperCase()} token needs its secret: type the base32 text your administrator gave you`);
    }
    // The keychain first: a profile never says "TOTP" without a secret to go with it.
    if (otpSecret !== undefined) await this.client.secrets.set(current.id, 'otp-secret', otpSecret);
    if (kind === 'none' && current.otp.kind !== 'none') await this.client.secrets.delete(current.id, 'otp-secret').catch(() => false);
    const updated = Object.keys(patch).length > 0 ? await this.client.store.update(current.name, patch).catch(readableZodError) : current;
    const entry = this.live.get(updated.id);
    if (entry) entry.profile = updated;
    this.emitEvent({ type: 'profiles-changed' });
    return this.view(updated);
  }

  private async removeProfile(name: string): Promise<{ removed: string }> {
    const profile = await this.client.store.get(name).catch(() => undefined);
    if (profile) {
      const live = this.live.get(profile.id)?.session?.snapshot().state;
      if (this.live.has(profile.id) || (await this.otherProcessSessions()).has(profile.id)) {
        throw new FerryError(`"${profile.name}" is ${live ? live.toLowerCase() : 'connected'}; disconnect it first`);
      }
      this.ended.delete(profile.id);
    }
    const removed = await this.client.store.remove(name, this.client.secrets);
    this.emitEvent({ type: 'profiles-changed' });
    return { removed: removed.name };
  }

  // ---- import ----------------------------------------------------------------------

  private async previewImport(files: ImportFile[], settings: ImportSettings): Promise<ImportPreview> {
    return this.withImportFiles(files, async (paths) => {
      const imported = await importFiles(paths, importOptions(settings));
      const remote = imported.draft.remotes[0]!;
      return {
        name: imported.draft.name,
        gateway: formatHostPort(remote.host, remote.port),
        proto: remote.proto,
        username: imported.draft.username ?? '',
        passwordRequired: imported.draft.passwordRequired,
        certificates: imported.certificates,
        warnings: imported.warnings,
      };
    });
  }

  private async saveImport(files: ImportFile[], settings: ImportSettings): Promise<ProfileView> {
    const profile = await this.withImportFiles(files, async (paths) => (await this.client.importProfile(paths, importOptions(settings))).profile);
    this.emitEvent({ type: 'profiles-changed' });
    return this.view(profile);
  }

  /**
   * The renderer has file contents, not paths (it is sandboxed): the core's importer reads
   * files, so they go into a fresh private directory for the duration of the call and are
   * always removed. Errors name the file the person picked, never the temporary path.
   */
  private async withImportFiles<T>(files: ImportFile[], work: (paths: string[]) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(path.join(this.deps.tempRoot ?? os.tmpdir(), 'ferry-import-')); // mkdtemp: 0700
    const byPath = new Map<string, string>();
    try {
      const taken = new Set<string>();
      for (const file of files) {
        const safe = safeFileName(file.name);
        // Case-insensitive: on macOS and Windows "CA.crt" and "ca.crt" are one file.
        if (taken.has(safe.toLowerCase())) throw new ImportError(`${file.name} is given twice — give each file once`, file.name);
        taken.add(safe.toLowerCase());
        const full = path.join(dir, safe);
        await writeFile(full, decodeBase64(file), { mode: 0o600, flag: 'wx' });
        byPath.set(full, file.name);
      }
      try {
        return await work([...byPath.keys()]);
      } catch (err) {
        throw this.mapImportError(err, dir, byPath);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private mapImportError(err: unknown, dir: string, byPath: Map<string, string>): unknown {
    if (!(err instanceof Error)) return err;
    // The temp dir is nobody's business: strip it from the text, name the picked file.
    const scrub = (text: string) => text.split(dir + path.sep).join('').split(dir).join('');
    const message = scrub(err.message);
    if (err instanceof ImportError) {
      // core names the path it read, or for a zip entry "bundle.zip:entry"; both lead back to a picked file.
      const candidates = err.file === undefined ? [] : [err.file, path.join(dir, path.basename(err.file)), path.join(dir, path.basename(err.file).split(':')[0]!)];
      const original = candidates.map((c) => byPath.get(c)).find((name) => name !== undefined);
      return new ImportError(message, original);
    }
    if (err instanceof FerryError) return new FerryError(message, err.exitCode);
    return new FerryError(message);
  }

  // ---- sessions --------------------------------------------------------------------

  private async connect(name: string, given: { password?: string; otp?: string; savePassword: boolean }): Promise<SessionSnapshot> {
    const profile = await this.client.store.get(name);
    const existing = this.live.get(profile.id);
    if (existing) {
      // Already connecting or connected here: the renderer just sees where it stands.
      return this.snapshotOf(profile)!;
    }
    const credentialOptions: SessionCredentialOptions = {
      ...(given.password !== undefined ? { password: given.password } : {}),
      ...(given.otp !== undefined ? { otp: given.otp } : {}),
      savePassword: given.savePassword,
      notice: (message) => this.emitEvent({ type: 'notice', profile: profile.name, message }),
      saveHotpCounter: async (counter) => {
        const current = this.live.get(profile.id)?.profile ?? profile;
        const updated = await this.client.store.update(current.name, { otp: { ...current.otp, counter } });
        const entry = this.live.get(profile.id);
        if (entry) entry.profile = updated;
      },
    };
    const entry: LiveEntry = { profile, credentialOptions };
    this.live.set(profile.id, entry);
    let opened: { session: Session; close(): Promise<void> };
    try {
      const credentials = new SessionCredentials(profile, this.client.secrets, this.prompter(profile, credentialOptions), credentialOptions);
      opened = await this.client.openSession(profile, credentials);
    } catch (err) {
      this.live.delete(profile.id);
      throw err;
    }
    const { session, close } = opened;
    entry.session = session;
    entry.close = close;
    this.ended.delete(profile.id);
    session.on('state', (snapshot) => this.emitEvent({ type: 'session', profile: profile.name, snapshot }));
    // Byte counts and rates ride on the snapshot: the status view's graph follows them.
    session.on('stats', () => this.emitEvent({ type: 'session', profile: profile.name, snapshot: session.snapshot() }));
    session.on('log', (logEntry) => this.emitEvent({ type: 'log', profile: profile.name, entry: { ...logEntry } }));
    session.on('notice', (message) => this.emitEvent({ type: 'notice', profile: profile.name, message }));
    const starting = session.connect();
    // `done` is the promise of this connect (connect() renews it before its first await).
    void session.done.then((end) => this.sessionEnded(profile.id, session, end));
    try {
      await starting;
    } catch (err) {
      await session.disconnect().catch(() => {});
      throw err;
    }
    return session.snapshot();
  }

  private async sessionEnded(profileId: string, session: Session, end: SessionSnapshot): Promise<void> {
    const entry = this.live.get(profileId);
    if (entry?.session !== session) return;
    this.closePrompts(profileId);
    this.ended.set(profileId, { snapshot: end, log: session.log });
    this.live.delete(profileId);
    session.removeAllListeners();
    await entry.close?.().catch(() => {});
  }

  private async disconnect(name: string): Promise<SessionSnapshot> {
    const profile = await this.client.store.get(name);
    const entry = this.live.get(profile.id);
    if (entry?.session) {
      await entry.session.disconnect();
      return entry.session.snapshot();
    }
    if (entry) {
      // Still opening: wait for it to exist, then stop it.
      for (let i = 0; i < 100 && !entry.session && this.live.get(profile.id) === entry; i++) await sleep(50);
      if (entry.session) {
        await entry.session.disconnect();
        return entry.session.snapshot();
      }
    }
    const other = (await this.otherProcessSessions()).get(profile.id);
    if (other) {
      // A `ferry connect` in a terminal: ask it over its status socket, as `ferry status` reaches it.
      const reply = await requestJsonSocket(statusSocketPath(await this.client.runtimeDir(), profile.id), { op: 'disconnect' }, 15_000);
      const snapshot = (reply as { snapshot?: SessionSnapshot } | undefined)?.snapshot;
      return { ...(snapshot ?? other.snapshot), state: 'DISCONNECTED' };
    }
    // Nothing runs: a failed session's outcome is dismissed (the tray's error icon goes too).
    const ended = this.ended.get(profile.id);
    const snapshot = idleSnapshot(profile.name, 'DISCONNECTED');
    if (ended && ended.snapshot.state !== 'DISCONNECTED') {
      this.ended.set(profile.id, { snapshot, log: ended.log });
      this.emitEvent({ type: 'session', profile: profile.name, snapshot });
    }
    return snapshot;
  }

  private logsOf(profile: Profile): LogEntry[] {
    const log = this.live.get(profile.id)?.session?.log ?? this.ended.get(profile.id)?.log ?? [];
    return log.map((e) => ({ time: e.time, message: e.message }));
  }

  private async exportLogs(name: string): Promise<{ path?: string }> {
    const profile = await this.client.store.get(name);
    if (!this.deps.chooseSavePath) throw new FerryError('exporting the log is not available here; copy it from the log view instead');
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const target = await this.deps.chooseSavePath(`ferry-${profile.name.replace(/[^A-Za-z0-9_-]+/g, '-')}-${stamp}.log`);
    if (target === undefined) return {};
    const text = this.logsOf(profile).map((e) => `${e.time} ${e.message}\n`).join('');
    await writeFileAtomic(target, text, 0o600);
    return { path: target };
  }

  // ---- prompts ---------------------------------------------------------------------

  /** The core's Prompter for one profile: each question becomes a prompt event and waits for answerPrompt. */
  private prompter(profile: Profile, credentialOptions: SessionCredentialOptions): Prompter {
    const ask = (kind: Prompt['kind'], text: string, echo: boolean, rejected?: string) =>
      new Promise<string | undefined>((resolve) => {
        const prompt: Prompt = { id: randomUUID(), profile: profile.name, kind, text, echo, ...(rejected !== undefined ? { rejected: rejected || 'the gateway refused the password' } : {}) };
        this.prompts.set(prompt.id, { prompt, profileId: profile.id, resolve, credentialOptions });
        this.emitEvent({ type: 'prompt', prompt });
      });
    return {
      password: (req) => ask('password', req.username, false, req.rejected),
      otp: (req) => ask('otp', req.text, req.echo),
      challenge: (req) => ask('challenge', req.text, req.echo),
      keyPassphrase: () => ask('key-passphrase', '', false),
    };
  }

  private answerPrompt(id: string, value: string | undefined, rememberPassword: boolean | undefined): boolean {
    const pending = this.prompts.get(id);
    if (!pending) return false;
    this.prompts.delete(id);
    // The core saves only once the server has accepted the password (SessionCredentials.accepted).
    if (pending.prompt.kind === 'password' && rememberPassword !== undefined) pending.credentialOptions.savePassword = rememberPassword;
    this.emitEvent({ type: 'prompt-closed', id });
    pending.resolve(value);
    return true;
  }

  /** Open questions have no one to go to once their session ended. */
  private closePrompts(profileId: string): void {
    for (const [id, pending] of this.prompts) {
      if (pending.profileId !== profileId) continue;
      this.prompts.delete(id);
      this.emitEvent({ type: 'prompt-closed', id });
      pending.resolve(undefined);
    }
  }

  // ---- settings --------------------------------------------------------------------

  async getSettings(): Promise<Settings> {
    let raw: string;
    try {
      raw = await readFile(this.settingsFile, 'utf8');
    } catch {
      return { ...DEFAULT_SETTINGS };
    }
    // A damaged file falls back to the defaults: settings are never worth a crash.
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { ...DEFAULT_SETTINGS };
    }
    const parsed = SettingsSchema.partial().safeParse(json);
    return parsed.success ? { ...DEFAULT_SETTINGS, ...stripUndefined(parsed.data) } : { ...DEFAULT_SETTINGS };
  }

  private async setSettings(change: Partial<Settings>): Promise<Settings> {
    const previous = await this.getSettings();
    const next = SettingsSchema.parse({ ...previous, ...stripUndefined(change) });
    await this.deps.applySettings?.(next, previous);
    await ensurePrivateDir(path.dirname(this.settingsFile));
    await writeFileAtomic(this.settingsFile, `${JSON.stringify(next, null, 2)}\n`, 0o600);
    this.emitEvent({ type: 'settings', settings: next });
    return next;
  }

  // ---- the main process's own calls ------------------------------------------------

  /** The machine woke from sleep: every live session reconnects at once. */
  wokeUp(): void {
    for (const entry of this.live.values()) entry.session?.wokeUp();
  }

  /** The network changed: every live session reconnects at once. */
  networkChanged(): void {
    for (const entry of this.live.values()) entry.session?.networkChanged();
  }

  /**
   * At start: tunnels ferry-helper kept running while the app was away are taken over
   * (no password asked: the session reattaches to the running openvpn), then profiles
   * marked auto-connect connect, with the saved password or a prompt.
   */
  async connectAutoProfiles(): Promise<void> {
    const running = await this.client.runningUnattended();
    const { profiles } = await this.client.store.list();
    const atStart = [...running, ...profiles.filter((p) => p.autoConnect && !running.some((r) => r.id === p.id))];
    for (const profile of atStart) {
      await this.connect(profile.name, { savePassword: false }).catch((err: Error) =>
        this.emitEvent({ type: 'notice', profile: profile.name, message: `auto-connect failed: ${err.message}` }),
      );
    }
  }

  async disconnectAll(): Promise<void> {
    await Promise.all([...this.live.values()].map((e) => e.session?.disconnect().catch(() => {})));
  }

  /** Each profile's state for the tray menu, icon and notifications. */
  async trayEntries(): Promise<TrayEntry[]> {
    const { profiles } = await this.client.store.list();
    return profiles.map((p) => {
      const snapshot = this.snapshotOf(p);
      return {
        name: p.name,
        state: snapshot?.state ?? 'DISCONNECTED',
        ...(snapshot?.failure ? { failure: snapshot.failure } : {}),
        minimizeOnConnect: p.minimizeOnConnect,
      };
    });
  }

  /** The profile a session event is about (by name), for the main process. */
  liveProfile(name: string): Profile | undefined {
    for (const entry of this.live.values()) if (entry.profile.name === name) return entry.profile;
    return undefined;
  }

  /** Disconnects everything and closes open prompts; the service is not used afterwards. */
  async dispose(): Promise<void> {
    await this.disconnectAll();
    for (const id of [...this.live.keys()]) this.closePrompts(id);
    await Promise.all([...this.live.values()].map((e) => e.close?.().catch(() => {})));
    this.live.clear();
  }

  private emitEvent(event: FerryEvent): void {
    this.emit('event', event);
  }
}

// ---- helpers ---------------------------------------------------------------------------

type ImportSettings = ParsedRequest<'previewImport'>['settings'];

function importOptions(settings: ImportSettings): ImportOptions {
  const gateway = settings.gateway !== undefined && settings.gateway.trim() !== '' ? parseGateway(settings.gateway) : undefined;
  const name = settings.name !== undefined && settings.name !== '' ? settings.name : undefined;
  const username = settings.username !== undefined && settings.username !== '' ? settings.username : undefined;
  return {
    ...(name !== undefined ? { name } : {}),
    ...(gateway ? { gateway } : {}),
    ...(settings.proto ? { proto: settings.proto } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(settings.noPassword ? { noPassword: true } : {}),
    askPassphrase: async (display) => {
      if (settings.passphrase !== undefined && settings.passphrase !== '') return settings.passphrase;
      // The importer's own text says "run it from a terminal"; here the form has a field.
      throw new ImportError(`${display} is passphrase-protected — type its passphrase and import again`, display);
    },
  };
}

/** A picked file's name as a plain file name: no directories, no control characters. */
export function safeFileName(name: string): string {
  const base = path.basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base === '' || base === '.' || base === '..') throw new ImportError(`"${name}" is not a usable file name — rename the file and import again`, name);
  return base;
}

function decodeBase64(file: ImportFile): Buffer {
  const text = file.base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) throw new ImportError(`${file.name} could not be read — pick the file again`, file.name);
  return Buffer.from(text, 'base64');
}

/** The store validates with zod; a refusal becomes one line naming the field. */
function readableZodError(err: unknown): never {
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const field = issue?.path.map(String).join('.') ?? '';
    throw new InputError(`${field === 'remotes.0.host' ? 'gateway' : field || 'profile'}: ${issue?.message ?? 'invalid value'}`);
  }
  throw err;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

