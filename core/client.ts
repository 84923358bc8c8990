/**
 * The client core's front door, used by the `ferry` CLI and the desktop app alike:
 * profiles, secrets and sessions wired to their real parts. Everything here is
 * platform-neutral; the desktop shell adds windows and tray on top. The importer, the
 * certificate checks and the session are loaded when first used, so that listing profiles
 * or sessions (`ferry profiles`, `ferry status`) starts about as fast as Node itself: only
 * the profile store and the session registry are imported here; launchers, editing,
 * credentials and the status socket's server side are imported where they are used.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { EngineSpec } from './engine/config.js';
import type { Launcher, LauncherKind } from './engine/launcher.js';
import { ferryHome, runtimeDir } from './paths.js';
import type { ImportedProfile, ImportOptions } from './profile/import.js';
import type { ProfileEdit } from './profile/edit.js';
import type { CertificateSummary, Profile } from './profile/schema.js';
import { ProfileStore } from './profile/store.js';
import { KeychainSecretStore, type SecretStore } from './secrets/secret-store.js';
import type { CredentialProvider, Prompter } from './session/credentials.js';
import { isRunning, SessionRegistry, type Tunnel } from './session/registry.js';
import type { Session, SessionSnapshot } from './session/session.js';
import type { Message } from './session/messages.js';

import { FERRY_VERSION } from './version.js';

export { FERRY_VERSION };

export interface FerryClientOptions {
  home?: string;
  secrets?: SecretStore;
  launcher?: Launcher;
  env?: NodeJS.ProcessEnv;
}

export interface ConnectOptions {
  /** Asks a person for what the keychain and the given values do not hold. */
  prompter: Prompter;
  /** Handed over for this connect (`--password-stdin`, the login form). */
  password?: string;
  otp?: string;
  /** Save the password once the gateway accepted it (a prompt answer may change this). */
  savePassword?: boolean;
  /** Lines worth telling the person that are no state change, as codes (session/messages.ts). */
  notice?: (notice: Message) => void;
}

export interface Connected {
  session: Session;
  /** The session's end, once its status socket is closed too. */
  ended: Promise<SessionSnapshot>;
}

/** What an edit did: the profile now, and whether a running tunnel still uses the old connection settings. */
export interface ProfileUpdate {
  profile: Profile;
  /** True when a tunnel runs and the edit changed what it was started with: used from the next connect. */
  appliesAtNextConnect: boolean;
}

export class FerryClient {
  readonly store: ProfileStore;
  readonly secrets: SecretStore;
  /** Every tunnel of this user, whoever runs it: the one place to read tunnel state from. */
  readonly registry: SessionRegistry;
  private launcherMade: Promise<Launcher> | undefined;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: FerryClientOptions = {}) {
    this.env = opts.env ?? process.env;
    this.store = new ProfileStore(opts.home ?? ferryHome(this.env));
    this.secrets = opts.secrets ?? new KeychainSecretStore();
    if (opts.launcher) this.launcherMade = Promise.resolve(opts.launcher);
    this.registry = new SessionRegistry({ runtimeDir: () => this.runtimeDir(), keptRunning: () => this.keptRunningIds() });
  }

  // ---- domain operations: the CLI and the app do these the same way ------------------

  /**
   * Saves an edit. Allowed while connected, rename included (tunnels are known by id);
   * connection settings changed under a running tunnel are used from its next connect.
   */
  async updateProfile(name: string, edit: ProfileEdit): Promise<ProfileUpdate> {
    const current = await this.store.get(name);
    const { applyProfileEdit, changesConnection } = await import('./profile/edit.js');
    const profile = await applyProfileEdit(this.store, this.secrets, current, edit);
    const changed = changesConnection(current, profile, edit);
    if (changed && !isRunning(this.registry.get(current.id))) await this.registry.refresh();
    return { profile, appliesAtNextConnect: changed && isRunning(this.registry.get(current.id)) };
  }

  /** Removes a profile and its secrets; refused while its tunnel runs, in any process. */
  async removeProfile(name: string): Promise<Pick<Profile, 'id' | 'name'>> {
    const profile = await this.store.get(name).catch(() => undefined);
    if (profile) {
      if (!this.registry.isLocal(profile.id)) await this.registry.refresh();
      const tunnel = this.registry.get(profile.id);
      if (this.registry.isLocal(profile.id) || isRunning(tunnel)) {
        const params = { profile: profile.name, state: tunnel?.snapshot?.state ?? 'CONNECTED' };
        // The message catalogue is loaded when something is refused: `ferry profiles` never needs it.
        const { refusal } = await import('./session/message-error.js');
        if (tunnel?.owner === 'other-process') throw refusal('remove-while-running-other', { ...params, pid: tunnel.pid ?? '' }, 1);
        throw refusal(tunnel?.owner === 'helper' ? 'remove-while-running-helper' : 'remove-while-running', params, 1);
      }
    }
    const removed = await this.store.remove(name, this.secrets);
    this.registry.forget(removed.id);
    return removed;
  }

  /**
   * Connects a profile in this process and hands the session to the registry. Already
   * starting or running here: that session. Returns once openvpn runs (or the session
   * has already failed); follow it through the registry or the session's events.
   */
  async connect(name: string, opts: ConnectOptions): Promise<Connected> {
    const profile = await this.store.get(name);
    const running = this.registry.session(profile.id);
    const runningEnd = this.registry.ended(profile.id);
    if (running && runningEnd) return { session: running, ended: runningEnd };
    if (this.registry.isLocal(profile.id)) throw (await import('./session/message-error.js')).refusal('already-starting', {}, 1);
    const release = this.registry.claim(profile.id);
    let opened: { session: Session; close(): Promise<void> };
    try {
      const { SessionCredentials } = await import('./session/credentials.js');
      const credentials = new SessionCredentials(profile, this.secrets, opts.prompter, {
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...(opts.otp !== undefined ? { otp: opts.otp } : {}),
        savePassword: opts.savePassword ?? false,
        ...(opts.notice ? { notice: opts.notice } : {}),
        // By id: the profile may be renamed while the session runs.
        saveHotpCounter: async (counter) => void (await this.store.update({ id: profile.id }, { otp: { ...profile.otp, counter } })),
      });
      opened = await this.openSession(profile, credentials);
    } catch (err) {
      release();
      throw err;
    }
    const { session } = opened;
    if (opts.notice) session.on('notice', opts.notice);
    const { ended } = this.registry.adopt(profile.id, session, () => opened.close());
    try {
      await session.connect();
    } catch (err) {
      await session.disconnect().catch(() => {});
      throw err;
    }
    return { session, ended };
  }

  /** Stops the profile's tunnel, whoever runs it (here, another Ferry process); dismisses a failure shown. */
  async disconnect(name: string): Promise<Tunnel | undefined> {
    const profile = await this.store.get(name);
    return this.registry.disconnect(profile.id);
  }

  /** Validates the files and stores a new profile; nothing is stored when validation fails. */
  async importProfile(paths: string[], opts: ImportOptions = {}): Promise<{ profile: Profile; imported: ImportedProfile }> {
    const { importFiles } = await import('./profile/import.js');
    const imported = await importFiles(paths, opts);
    const profile = await this.store.add(imported);
    return { profile, imported };
  }

  async certificates(profile: Profile): Promise<CertificateSummary[]> {
    const { summarizeCertificate } = await import('./profile/certificates.js');
    const summaries = [summarizeCertificate(await this.store.readFile(profile, 'ca.crt'), 'ca')];
    if (profile.files.includes('client.crt')) summaries.push(summarizeCertificate(await this.store.readFile(profile, 'client.crt'), 'client'));
    return summaries;
  }

  engineFiles(profile: Profile): EngineSpec['files'] {
    const file = (name: Parameters<ProfileStore['filePath']>[1]) => this.store.filePath(profile, name);
    return {
      ca: file('ca.crt'),
      ...(profile.files.includes('client.crt') ? { cert: file('client.crt') } : {}),
      ...(profile.files.includes('client.key') ? { key: file('client.key') } : {}),
      ...(profile.files.includes('tls-auth.key') ? { tlsAuth: file('tls-auth.key') } : {}),
      ...(profile.files.includes('tls-crypt.key') ? { tlsCrypt: file('tls-crypt.key') } : {}),
      ...(profile.files.includes('tls-crypt-v2.key') ? { tlsCryptV2: file('tls-crypt-v2.key') } : {}),
    };
  }

  /**
   * A session for the profile, published for `ferry status` and other Ferry processes.
   * Refuses when another process already runs one; stops an openvpn a killed Ferry
   * process left behind. `connect` is the way in (it also hands the session to the
   * registry); bench/connect-worker times this half on its own.
   */
  async openSession(profile: Profile, credentials: CredentialProvider): Promise<{ session: Session; close(): Promise<void> }> {
    const runtime = await this.runtimeDir();
    const { liveSession, publishSession } = await import('./session/status-socket.js');
    const other = await liveSession(runtime, profile.id);
    if (other) throw (await import('./session/message-error.js')).refusal('running-in-other-process', { profile: profile.name, state: other.snapshot.state, pid: other.pid }, 1);
    await stopOrphanedEngine(path.join(runtime, profile.id));
    const [{ Session }, { localNetworks }] = await Promise.all([import('./session/session.js'), import('./session/local-networks.js')]);
    const session = new Session({
      profile,
      files: this.engineFiles(profile),
      launcher: await this.launcher(),
      credentials,
      runtimeDir: runtime,
      localNetworks,
      guiVersion: `Ferry ${FERRY_VERSION}`,
    });
    const published = await publishSession(runtime, profile.id, session);
    return { session, close: () => published.close() };
  }

  /** Whether the launcher still runs this profile's openvpn, which connect() takes over with no secret asked. */
  async isKeptRunning(profile: Profile): Promise<boolean> {
    return (await this.keptRunningIds()).includes(profile.id);
  }

  /** Profile ids whose openvpn the launcher keeps (only ferry-helper outlives a Ferry process). */
  private async keptRunningIds(): Promise<string[]> {
    const launcher = await this.launcher();
    return (await launcher.running?.().catch(() => [])) ?? [];
  }

  /** How this client's tunnels start (the app shows it; "missing" comes with advice). */
  async launcherKind(): Promise<LauncherKind> {
    return (await this.launcher()).kind();
  }

  /** The launcher given, or the default one, loaded on first use. */
  private launcher(): Promise<Launcher> {
    this.launcherMade ??= defaultLauncher(this.env);
    return this.launcherMade;
  }

  /** Where this client's sessions publish their status sockets: the CLI and the app alike ask here. */
  runtimeDir(): Promise<string> {
    return runtimeDir(this.env, this.store.home);
  }
}

/**
 * Root (or a test lab) starts openvpn itself; everyone else goes through ferry-helper,
 * the privileged service, at $FERRY_HELPER_SOCKET or its default socket. On Windows,
 * OpenVPN's interactive service starts it ($FERRY_OPENVPN_SERVICE_PIPE or its pipe).
 */
export async function defaultLauncher(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Promise<Launcher> {
  // Windows: OpenVPN's interactive service. Elsewhere only when its pipe is named (the
  // simulator in tests, test/support/interactive-service-sim.ts).
  if (platform === 'win32' || env.FERRY_OPENVPN_SERVICE_PIPE) {
    const { InteractiveServiceLauncher, registryInstall } = await import('./engine/service-launcher.js');
    return new InteractiveServiceLauncher({
      ...(env.FERRY_OPENVPN_SERVICE_PIPE ? { pipe: env.FERRY_OPENVPN_SERVICE_PIPE } : {}),
      ...(platform === 'win32' ? { install: registryInstall } : {}),
    });
  }
  if (process.getuid?.() === 0) return new (await import('./engine/launcher.js')).DirectLauncher(env);
  const [{ HelperLauncher }, { helperSocketPath }] = await Promise.all([import('./engine/helper-launcher.js'), import('./engine/helper-protocol.js')]);
  return new HelperLauncher(helperSocketPath(env));
}

/** An openvpn whose Ferry process was killed still holds its management socket: ask it to exit. */
async function stopOrphanedEngine(sessionDir: string): Promise<void> {
  const socket = path.join(sessionDir, 'management.sock');
  const { ManagementConnection } = await import('./management/connection.js');
  const orphan = await ManagementConnection.connect(socket, () => {}, { attempts: 1 }).catch(() => undefined);
  if (orphan) {
    await orphan.command('signal SIGTERM').catch(() => {});
    orphan.close();
    // openvpn removes its socket on exit; wait briefly so the new session can bind.
    for (let i = 0; i < 50; i++) {
      const still = await ManagementConnection.connect(socket, () => {}, { attempts: 1 }).catch(() => undefined);
      if (!still) break;
      still.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await rm(sessionDir, { recursive: true, force: true });
}
