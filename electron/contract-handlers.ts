/**
 * ContractHandlers: every call of the IPC contract, answered by the client core, and the
 * events the window needs. What is left in the app is what only the app has: IPC,
 * prompts (electron/prompts.ts), import staging (electron/import-staging.ts) and its
 * settings file. The rules (edit, remove, connect, disconnect) are the core's, the same
 * the CLI uses; tunnel state is the core's SessionRegistry's, relayed and never kept here.
 *
 * It imports no `electron`, so the same object serves the Electron main process (through
 * electron/ipc.ts) and the UI tests' host. Requests arrive parsed by the contract's
 * schemas; failures are thrown and turned into Results by the caller. Secrets arrive here
 * (prompt answers, a new OTP secret) and go only to the core: nothing emitted or
 * returned carries one.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import type { z } from 'zod';
import { FERRY_VERSION, type FerryClient } from '../core/client.js';
import { OtpSecretNeededError } from '../core/profile/edit.js';
import { formatHostPort } from '../core/profile/fields.js';
import { importFiles } from '../core/profile/import.js';
import type { Profile } from '../core/profile/schema.js';
import { isSaved } from '../core/secrets/secret-store.js';
import type { Failure } from '../core/session/failures.js';
import type { TunnelChange } from '../core/session/registry.js';
import type { SessionState } from '../core/session/snapshot.js';
import { FailureError } from '../core/session/failure-error.js';
import { MessageError, refusal } from '../core/session/message-error.js';
import { message, type Cause, type Message } from '../core/session/messages.js';
import { describeError } from '../core/util/errors.js';
import { writeFileAtomic } from '../core/util/atomic-file.js';
import type { Channel, Contract, FerryEvent, ImportPreview, LogEntry, ProfileView, ResponseOf, Settings, TunnelState } from './contract.js';
import { importOptions, withImportFiles, type ImportSettings } from './import-staging.js';
import { PromptBroker } from './prompts.js';
import { SettingsFile } from './settings-file.js';

/** A request as the handler sees it: after the contract's schema has parsed it. */
export type ParsedRequest<C extends Channel> = z.output<Contract[C]['request']>;
export type Handlers = { [C in Channel]: (request: ParsedRequest<C>) => Promise<ResponseOf<C>> };

export interface ContractHandlersDeps {
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

/** One profile's state for the tray and notifications (main process), read from the registry. */
export interface TrayEntry {
  name: string;
  state: SessionState;
  /** Why it failed, as data: the tray words it in the app's language. */
  failure?: Failure;
  minimizeOnConnect: boolean;
}

/** What a thrown error says, as a message's cause: its code where it has one. */
function causeOf(err: unknown): Cause {
  if (err instanceof MessageError) return { message: { code: err.said.code, params: err.said.params } };
  if (err instanceof FailureError) return { failure: err.failure };
  return { text: describeError(err) };
}

export class ContractHandlers extends EventEmitter<{ event: [FerryEvent] }> {
  readonly handlers: Handlers;
  private readonly client: FerryClient;
  private readonly settings: SettingsFile;
  private readonly prompts: PromptBroker;
  private readonly relay = (change: TunnelChange) => this.onTunnelChange(change);

  constructor(private readonly deps: ContractHandlersDeps) {
    super();
    this.client = deps.client;
    this.settings = new SettingsFile(deps.settingsFile ?? path.join(deps.client.store.home, 'settings.json'), deps.applySettings);
    this.prompts = new PromptBroker((event) => this.emit('event', event));
    this.client.registry.on('change', this.relay);
    this.handlers = {
      listProfiles: () => this.listProfiles(),
      previewImport: (req) => this.previewImport(req),
      saveImport: (req) => this.saveImport(req),
      certificates: async (req) => this.client.certificates(await this.client.store.get(req.name)),
      updateProfile: (req) => this.updateProfile(req.name, req.edit),
      removeProfile: (req) => this.removeProfile(req.name),
      connect: (req) => this.connect(req.name, { ...(req.password !== undefined ? { password: req.password } : {}), ...(req.otp !== undefined ? { otp: req.otp } : {}), savePassword: req.rememberPassword ?? false }),
      disconnect: (req) => this.disconnect(req.name),
      answerPrompt: async (req) => ({ accepted: this.prompts.answer(req.id, req.value, req.rememberPassword) }),
      logs: async (req) => this.logsOf(await this.client.store.get(req.name)),
      exportLogs: (req) => this.exportLogs(req.name),
      getSettings: () => this.settings.read(),
      setSettings: async (req) => {
        const next = await this.settings.change(req);
        this.emit('event', { type: 'settings', settings: next });
        return next;
      },
      appInfo: async () => ({
        version: this.deps.version ?? FERRY_VERSION,
        systemLanguage: this.deps.systemLanguage,
        platform: this.deps.platform,
        launcher: await this.client.launcherKind(),
      }),
    };
  }

  /** Follows tunnels of other Ferry processes from now on (the app's start). */
  start(): Promise<void> {
    return this.client.registry.follow();
  }

  getSettings(): Promise<Settings> {
    return this.settings.read();
  }

  // ---- profiles --------------------------------------------------------------------

  private async listProfiles(): Promise<ProfileView[]> {
    const { profiles } = await this.client.store.list();
    return Promise.all(profiles.map((p) => this.view(p)));
  }

  private async view(profile: Profile): Promise<ProfileView> {
    const savedPassword = await isSaved(this.client.secrets, profile.id, 'password');
    const savedOtpSecret = await isSaved(this.client.secrets, profile.id, 'otp-secret');
    // The registry last, with nothing awaited after it: `asOf` is then exact.
    return { profile, savedPassword, savedOtpSecret, ...this.tunnelState(profile.id) };
  }

  private tunnelState(id: string): TunnelState {
    const tunnel = this.client.registry.get(id);
    return { asOf: this.client.registry.revision, ...(tunnel ? { tunnel } : {}) };
  }

  private async updateProfile(name: string, edit: ParsedRequest<'updateProfile'>['edit']): Promise<ResponseOf<'updateProfile'>> {
    const { profile, appliesAtNextConnect } = await this.client.updateProfile(name, edit).catch((err: unknown) => {
      if (err instanceof OtpSecretNeededError) throw refusal('otp-secret-needed', { kind: err.kind.toUpperCase() });
      throw err;
    });
    this.emit('event', { type: 'profiles-changed' });
    return { ...(await this.view(profile)), appliesAtNextConnect };
  }

  private async removeProfile(name: string): Promise<{ removed: string }> {
    const removed = await this.client.removeProfile(name);
    this.emit('event', { type: 'profiles-changed' });
    return { removed: removed.name };
  }

  // ---- import ----------------------------------------------------------------------

  private previewImport(req: { files: ParsedRequest<'previewImport'>['files']; settings: ImportSettings }): Promise<ImportPreview> {
    return withImportFiles(req.files, this.deps.tempRoot, async (paths) => {
      const imported = await importFiles(paths, importOptions(req.settings));
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

  private async saveImport(req: { files: ParsedRequest<'saveImport'>['files']; settings: ImportSettings }): Promise<ProfileView> {
    const profile = await withImportFiles(req.files, this.deps.tempRoot, async (paths) => (await this.client.importProfile(paths, importOptions(req.settings))).profile);
    this.emit('event', { type: 'profiles-changed' });
    return this.view(profile);
  }

  // ---- sessions --------------------------------------------------------------------

  private async connect(name: string, given: { password?: string; otp?: string; savePassword: boolean }): Promise<TunnelState> {
    const profile = await this.client.store.get(name);
    const fresh = !this.client.registry.session(profile.id);
    const notice = (said: Message) => this.emit('event', { type: 'notice', profile: profile.name, notice: said });
    const { session, ended } = await this.client.connect(profile.name, { prompter: this.prompts.prompterFor(profile), ...given, notice });
    if (fresh) {
      const log = (entry: LogEntry) => this.emit('event', { type: 'log', id: profile.id, entry: { time: entry.time, message: entry.message } });
      session.on('log', log);
      void ended.then(() => {
        session.off('log', log);
        this.prompts.closeFor(profile.id);
      });
    }
    return this.tunnelState(profile.id);
  }

  private async disconnect(name: string): Promise<TunnelState> {
    const profile = await this.client.store.get(name);
    await this.client.disconnect(profile.name);
    return this.tunnelState(profile.id);
  }

  private onTunnelChange({ id, after }: TunnelChange): void {
    // A session's end closes its questions too (it may end before `ended` resolves).
    if (after?.owner === 'ended') this.prompts.closeFor(id);
    this.emit('event', { type: 'tunnel', id, asOf: after?.rev ?? this.client.registry.revision, ...(after ? { tunnel: after } : {}) });
  }

  private logsOf(profile: Profile): LogEntry[] {
    return this.client.registry.log(profile.id).map((e) => ({ time: e.time, message: e.message }));
  }

  private async exportLogs(name: string): Promise<{ path?: string }> {
    const profile = await this.client.store.get(name);
    if (!this.deps.chooseSavePath) throw refusal('export-logs-unavailable', {}, 1);
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
    const target = await this.deps.chooseSavePath(`ferry-${profile.name.replace(/[^A-Za-z0-9_-]+/g, '-')}-${stamp}.log`);
    if (target === undefined) return {};
    const text = this.logsOf(profile).map((e) => `${e.time} ${e.message}\n`).join('');
    await writeFileAtomic(target, text, 0o600);
    return { path: target };
  }

  // ---- the main process's own calls ------------------------------------------------

  /** The machine woke from sleep: every session of this process reconnects at once. */
  wokeUp(): void {
    for (const session of this.client.registry.localSessions()) session.wokeUp();
  }

  /** The network changed: every session of this process reconnects at once. */
  networkChanged(): void {
    for (const session of this.client.registry.localSessions()) session.networkChanged();
  }

  /**
   * At start: tunnels ferry-helper kept running while the app was away are taken over
   * (no password asked: the session reattaches to the running openvpn), then profiles
   * marked auto-connect connect, with the saved password or a prompt.
   */
  async connectAutoProfiles(): Promise<void> {
    await this.client.registry.refresh();
    const { profiles } = await this.client.store.list();
    const kept = (p: Profile) => this.client.registry.get(p.id)?.owner === 'helper';
    const atStart = [...profiles.filter(kept), ...profiles.filter((p) => p.autoConnect && !kept(p) && this.client.registry.get(p.id)?.owner !== 'other-process')];
    for (const profile of atStart) {
      await this.connect(profile.name, { savePassword: false }).catch((err: Error) =>
        this.emit('event', { type: 'notice', profile: profile.name, notice: message('auto-connect-failed', {}, causeOf(err)) }),
      );
    }
  }

  /** Each profile's state for the tray menu, icon and notifications: the store's names, the registry's states. */
  async trayEntries(): Promise<TrayEntry[]> {
    const { profiles } = await this.client.store.list();
    return profiles.map((p) => {
      const snapshot = this.client.registry.get(p.id)?.snapshot;
      return {
        name: p.name,
        state: snapshot?.state ?? 'DISCONNECTED',
        ...(snapshot?.failure ? { failure: snapshot.failure } : {}),
        minimizeOnConnect: p.minimizeOnConnect,
      };
    });
  }

  /** The profile a registry change is about, by id (undefined once removed). */
  profileById(id: string): Promise<Profile | undefined> {
    return this.client.store.byId(id).catch(() => undefined);
  }

  /** Disconnects this process's sessions, closes open prompts, stops following; not used afterwards. */
  async dispose(): Promise<void> {
    await this.client.registry.disconnectLocal();
    this.prompts.closeAll();
    await this.client.registry.settled();
    this.client.registry.close();
    this.client.registry.off('change', this.relay);
  }
}
