/**
 * The client core's front door, used by the `ferry` CLI and the desktop app alike:
 * profiles, secrets and sessions wired to their real parts. Everything here is
 * platform-neutral; the desktop shell adds windows and tray on top. The importer, the
 * certificate checks and the session are loaded when first used, so that listing profiles
 * or sessions (`ferry profiles`, `ferry status`) starts about as fast as Node itself.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { HelperLauncher } from './engine/helper-launcher.js';
import { helperSocketPath } from './engine/helper-protocol.js';
import { DirectLauncher, type Launcher, type LauncherKind } from './engine/launcher.js';
import type { EngineSpec } from './engine/config.js';
import { ManagementConnection } from './management/connection.js';
import { ferryHome, runtimeDir } from './paths.js';
import type { ImportedProfile, ImportOptions } from './profile/import.js';
import type { CertificateSummary, Profile } from './profile/schema.js';
import { ProfileStore } from './profile/store.js';
import { KeychainSecretStore, type SecretStore } from './secrets/secret-store.js';
import type { CredentialProvider } from './session/credentials.js';
import type { Session } from './session/session.js';
import { liveSession, liveSessions, publishSession, type LiveSession } from './session/status-socket.js';
import { FerryError } from './util/errors.js';

import { FERRY_VERSION } from './version.js';

export { FERRY_VERSION };

export interface FerryClientOptions {
  home?: string;
  secrets?: SecretStore;
  launcher?: Launcher;
  env?: NodeJS.ProcessEnv;
}

export class FerryClient {
  readonly store: ProfileStore;
  readonly secrets: SecretStore;
  private readonly launcher: Launcher;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: FerryClientOptions = {}) {
    this.env = opts.env ?? process.env;
    this.store = new ProfileStore(opts.home ?? ferryHome(this.env));
    this.secrets = opts.secrets ?? new KeychainSecretStore();
    this.launcher = opts.launcher ?? defaultLauncher(this.env);
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
   * A session for the profile, published for `ferry status`. Refuses when another
   * process already runs one; stops an openvpn a killed Ferry process left behind.
   */
  async openSession(profile: Profile, credentials: CredentialProvider): Promise<{ session: Session; close(): Promise<void> }> {
    const runtime = await this.runtimeDir();
    const other = await liveSession(runtime, profile.id);
    if (other) throw new FerryError(`"${profile.name}" is already ${other.snapshot.state.toLowerCase()} in another Ferry process (pid ${other.pid})`);
    await stopOrphanedEngine(path.join(runtime, profile.id));
    const [{ Session }, { localNetworks }] = await Promise.all([import('./session/session.js'), import('./session/local-networks.js')]);
    const session = new Session({
      profile,
      files: this.engineFiles(profile),
      launcher: this.launcher,
      credentials,
      runtimeDir: runtime,
      localNetworks,
      guiVersion: `Ferry ${FERRY_VERSION}`,
    });
    const published = await publishSession(runtime, profile.id, session);
    return { session, close: () => published.close() };
  }

  /**
   * Profiles whose tunnel still runs without a Ferry process attached (the app restarted
   * while ferry-helper kept it): `openSession` + `connect()` takes each one over.
   * `live`: the live sessions, when the caller has just listed them.
   */
  async runningUnattended(live?: LiveSession[]): Promise<Profile[]> {
    const labels = await this.keptRunning();
    if (labels.size === 0) return [];
    const attached = new Set((live ?? (await this.liveSessions())).map((s) => s.profileId));
    return (await this.store.list()).profiles.filter((p) => labels.has(p.id) && !attached.has(p.id));
  }

  /** Whether the launcher still runs this profile's openvpn, which connect() takes over with no secret asked. */
  async isKeptRunning(profile: Profile): Promise<boolean> {
    return (await this.keptRunning()).has(profile.id);
  }

  /** Profile ids whose openvpn the launcher keeps (only ferry-helper outlives a Ferry process). */
  private async keptRunning(): Promise<Set<string>> {
    return new Set(await this.launcher.running?.().catch(() => []));
  }

  /** How this client's tunnels start (the app shows it; "missing" comes with advice). */
  launcherKind(): Promise<LauncherKind> {
    return this.launcher.kind();
  }

  async liveSessions(): Promise<LiveSession[]> {
    return liveSessions(await this.runtimeDir());
  }

  /** Where this client's sessions publish their status sockets: the CLI and the app alike ask here. */
  runtimeDir(): Promise<string> {
    return runtimeDir(this.env, this.store.home);
  }
}

/**
 * Root (or a test lab) starts openvpn itself; everyone else goes through ferry-helper,
 * the privileged service, at $FERRY_HELPER_SOCKET or its default socket.
 */
export function defaultLauncher(env: NodeJS.ProcessEnv = process.env): Launcher {
  return process.getuid?.() === 0 ? new DirectLauncher(env) : new HelperLauncher(helperSocketPath(env));
}

/** An openvpn whose Ferry process was killed still holds its management socket: ask it to exit. */
async function stopOrphanedEngine(sessionDir: string): Promise<void> {
  const socket = path.join(sessionDir, 'management.sock');
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
