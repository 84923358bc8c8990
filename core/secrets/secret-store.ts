/**
 * Where secrets live: the OS keychain (Secret Service on Linux, Keychain on macOS,
 * Credential Manager on Windows) through @napi-rs/keyring. There is no plaintext
 * fallback: when no keychain is reachable the store says so and callers ask each time.
 */
import type { AsyncEntry, EntryOptions } from '@napi-rs/keyring';

/** The secrets Ferry keeps per profile. */
export type SecretKind = 'password' | 'otp-secret' | 'key-passphrase';

export class KeychainUnavailableError extends Error {
  constructor(readonly detail: string) {
    super(`no OS keychain is reachable (${detail}); Ferry will ask for secrets each time instead of saving them`);
    this.name = 'KeychainUnavailableError';
  }
}

export interface SecretStore {
  /** Resolves undefined when nothing is saved; rejects with KeychainUnavailableError when the keychain cannot be reached. */
  get(profileId: string, kind: SecretKind): Promise<string | undefined>;
  set(profileId: string, kind: SecretKind, value: string): Promise<void>;
  /** Resolves true if something was deleted. */
  delete(profileId: string, kind: SecretKind): Promise<boolean>;
}

/** Whether a secret is saved; an unreachable keychain counts as nothing saved (the caller then asks). */
export async function isSaved(store: SecretStore, profileId: string, kind: SecretKind): Promise<boolean> {
  return (await store.get(profileId, kind).catch(() => undefined)) !== undefined;
}

const SERVICE = 'ferry-vpn';

/**
 * On Linux the entry is pinned to the Secret Service: the library's default would fall
 * back to the kernel keyring, which forgets everything at logout and is not what a
 * person means by "remember my password".
 */
const ENTRY_OPTIONS: EntryOptions | undefined = process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined;

export class KeychainSecretStore implements SecretStore {
  async get(profileId: string, kind: SecretKind): Promise<string | undefined> {
    return (await this.call(profileId, kind, (e) => e.getPassword())) ?? undefined;
  }

  async set(profileId: string, kind: SecretKind, value: string): Promise<void> {
    await this.call(profileId, kind, (e) => e.setPassword(value));
  }

  async delete(profileId: string, kind: SecretKind): Promise<boolean> {
    return this.call(profileId, kind, (e) => e.deletePassword());
  }

  private async call<T>(profileId: string, kind: SecretKind, op: (entry: AsyncEntry) => Promise<T>): Promise<T> {
    try {
      // Loaded on first use: the native addon is not something `ferry profiles` should pay for.
      const { AsyncEntry } = await import('@napi-rs/keyring');
      return await op(new AsyncEntry(SERVICE, `${profileId}/${kind}`, ENTRY_OPTIONS));
    } catch (err) {
      const detail = (err as Error).message.replace(/^Couldn't access platform storage: /, '');
      throw new KeychainUnavailableError(detail);
    }
  }
}

/** For unit tests and the test host: secrets in this process's memory only. */
export class MemorySecretStore implements SecretStore {
  readonly values = new Map<string, string>();
  async get(profileId: string, kind: SecretKind) {
    return this.values.get(`${profileId}/${kind}`);
  }
  async set(profileId: string, kind: SecretKind, value: string) {
    this.values.set(`${profileId}/${kind}`, value);
  }
  async delete(profileId: string, kind: SecretKind) {
    return this.values.delete(`${profileId}/${kind}`);
  }
}
