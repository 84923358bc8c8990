/**
 * Profiles on disk: $FERRY_HOME/profiles/<id>/profile.json plus the PEM and static-key
 * files it names, 0700 directories and 0600 files. A new profile is written into a
 * temporary directory and renamed into place, so it appears whole or not at all (what a
 * killed command leaves is removed by the next one that takes the lock); a corrupt profile
 * is reported on its own and never hides the others. No secret is ever
 * written here (see core/secrets).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ensurePrivateDir, fsyncDir, writeFileAtomic } from '../util/atomic-file.js';
import { FerryError, InputError } from '../util/errors.js';
import { withDirLock } from '../util/lock.js';
import { describeSchemaError } from '../util/schema-error.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { ImportedProfile } from './import.js';
import type { Profile, ProfileFileName, ProfilePatch } from './schema.js';
import { readStoredProfile } from './stored-profile.js';

/**
 * ProfileSchema, loaded when first needed: to write a profile, or to read one that is not
 * in the form Ferry writes (stored-profile.ts). Listing the usual profiles loads no zod.
 */
const schema = () => import('./schema.js');

export interface ProfileLoadError {
  dir: string;
  message: string;
}

const PROFILE_FILE = 'profile.json';
const TEMP_PREFIX = '.incoming-';
const TRASH_PREFIX = '.removed-';
const BUSY = 'another ferry command is changing profiles; try again in a moment';

export class ProfileStore {
  readonly profilesDir: string;

  constructor(readonly home: string) {
    this.profilesDir = path.join(home, 'profiles');
  }

  /** Every loadable profile, plus one error per directory that is not. */
  async list(): Promise<{ profiles: Profile[]; errors: ProfileLoadError[] }> {
    let entries: string[];
    try {
      entries = await readdir(this.profilesDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: [], errors: [] };
      throw err;
    }
    const profiles: Profile[] = [];
    const errors: ProfileLoadError[] = [];
    for (const entry of entries.sort()) {
      if (entry.startsWith('.')) continue;
      const dir = path.join(this.profilesDir, entry);
      try {
        profiles.push(await this.load(dir));
      } catch (err) {
        errors.push({ dir, message: (err as Error).message });
      }
    }
    profiles.sort((a, b) => a.name.localeCompare(b.name));
    return { profiles, errors };
  }

  /** The profile called `name` (case-insensitive), or an error naming the ones there are. */
  async get(name: string): Promise<Profile> {
    const { profiles, errors } = await this.list();
    const found = profiles.find((p) => p.name.toLowerCase() === name.toLowerCase());
    if (found) return found;
    const broken = errors.find((e) => path.basename(e.dir).startsWith(slug(name)));
    if (broken) throw new FerryError(broken.message);
    const known = profiles.map((p) => `"${p.name}"`).join(', ');
    throw new InputError(`no profile named "${name}"${known ? ` (profiles: ${known})` : '; import one with `ferry import`'}`);
  }

  /** The profile with this id (ids never change; a rename does not break a running session's reference). */
  async byId(id: string): Promise<Profile> {
    const found = (await this.list()).profiles.find((p) => p.id === id);
    if (!found) throw new InputError('this profile was removed');
    return found;
  }

  dirOf(profile: Pick<Profile, 'id'>): string {
    return path.join(this.profilesDir, profile.id);
  }

  filePath(profile: Pick<Profile, 'id'>, file: ProfileFileName): string {
    return path.join(this.dirOf(profile), file);
  }

  async readFile(profile: Pick<Profile, 'id'>, file: ProfileFileName): Promise<string> {
    return readFile(this.filePath(profile, file), 'utf8');
  }

  /** Stores an imported profile; refuses a name that is taken. Nothing is left behind on failure. */
  async add(imported: ImportedProfile): Promise<Profile> {
    await ensurePrivateDir(this.home);
    await ensurePrivateDir(this.profilesDir);
    return this.locked(async () => {
      const { profiles } = await this.list();
      if (profiles.some((p) => p.name.toLowerCase() === imported.draft.name.toLowerCase())) {
        throw new InputError(`a profile named "${imported.draft.name}" already exists; pick another with --name or remove it with \`ferry remove\``);
      }
      const { PROFILE_VERSION, ProfileSchema } = await schema();
      const profile = ProfileSchema.parse({
        ...imported.draft,
        version: PROFILE_VERSION,
        id: `${slug(imported.draft.name)}-${randomBytes(3).toString('hex')}`,
        files: Object.keys(imported.files).sort(),
        createdAt: new Date().toISOString(),
      });
      const temp = path.join(this.profilesDir, `${TEMP_PREFIX}${profile.id}`);
      try {
        await ensurePrivateDir(temp);
        for (const [name, content] of Object.entries(imported.files)) {
          await writeFileAtomic(path.join(temp, name), content);
        }
        await writeFileAtomic(path.join(temp, PROFILE_FILE), `${JSON.stringify(profile, null, 2)}\n`);
        await rename(temp, this.dirOf(profile));
        await fsyncDir(this.profilesDir);
      } catch (err) {
        await rm(temp, { recursive: true, force: true });
        throw err;
      }
      return profile;
    });
  }

  /** Applies a validated patch (the profile editor, `ferry set`); the profile by name, or by id. */
  async update(ref: string | Pick<Profile, 'id'>, patch: ProfilePatch): Promise<Profile> {
    const { ProfilePatchSchema, ProfileSchema } = await schema();
    const changes = ProfilePatchSchema.parse(patch);
    return this.locked(async () => {
      const current = typeof ref === 'string' ? await this.get(ref) : await this.byId(ref.id);
      if (changes.name && changes.name.toLowerCase() !== current.name.toLowerCase()) {
        const { profiles } = await this.list();
        if (profiles.some((p) => p.name.toLowerCase() === changes.name!.toLowerCase())) {
          // Loaded when refusing: `ferry profiles` does not need the message catalogue.
          const { refusal } = await import('../session/message-error.js');
          throw refusal('profile-name-taken', { name: changes.name });
        }
      }
      const next = ProfileSchema.parse({ ...current, ...changes });
      await writeFileAtomic(path.join(this.dirOf(next), PROFILE_FILE), `${JSON.stringify(next, null, 2)}\n`);
      return next;
    });
  }

  /** Removes the profile's directory (atomically, by rename first) and its saved secrets. */
  async remove(name: string, secrets?: SecretStore): Promise<Pick<Profile, 'id' | 'name'>> {
    const profile = await this.locked(async () => {
      const found = await this.get(name).catch(async (err: unknown) => {
        // A damaged profile cannot be loaded by name; its error message gives its id.
        if (/^[a-z0-9][a-z0-9-]{0,40}$/.test(name) && (await stat(path.join(this.profilesDir, name)).catch(() => undefined))?.isDirectory()) {
          return { id: name, name };
        }
        throw err;
      });
      const trash = path.join(this.profilesDir, `${TRASH_PREFIX}${found.id}`);
      await rename(this.dirOf(found), trash);
      await fsyncDir(this.profilesDir);
      await rm(trash, { recursive: true, force: true });
      return found;
    });
    if (secrets) {
      for (const kind of ['password', 'otp-secret', 'key-passphrase'] as const) {
        await secrets.delete(profile.id, kind).catch(() => false);
      }
    }
    return profile;
  }

  /** Runs `fn` holding the store's lock, after clearing what killed commands left behind. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return withDirLock(this.profilesDir, BUSY, async () => {
      await this.removeLeftovers();
      return fn();
    });
  }

  /**
   * A command killed between writing and renaming leaves `.incoming-<id>/` (add: the new
   * profile, its key included, plaintext if the source was) or `.removed-<id>/` (remove).
   * Only a command holding the lock writes them, so with the lock held any that exist are
   * leftovers — whatever their age.
   */
  private async removeLeftovers(): Promise<void> {
    for (const entry of await readdir(this.profilesDir)) {
      if (entry.startsWith(TEMP_PREFIX) || entry.startsWith(TRASH_PREFIX)) await rm(path.join(this.profilesDir, entry), { recursive: true, force: true });
    }
  }

  private async load(dir: string): Promise<Profile> {
    const file = path.join(dir, PROFILE_FILE);
    let raw: string;
    try {
      raw = await readFile(file, 'utf8');
    } catch (err) {
      throw new FerryError(`profile ${path.basename(dir)} has no readable ${PROFILE_FILE} (${(err as Error).message}); remove it with \`ferry remove ${path.basename(dir)}\` and import it again`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new FerryError(`profile ${path.basename(dir)} is damaged: ${file} is not valid JSON; remove it with \`ferry remove ${path.basename(dir)}\` and import it again`);
    }
    const stored = readStoredProfile(json);
    const parsed = stored ? ({ success: true, data: stored } as const) : (await schema()).ProfileSchema.safeParse(json);
    if (!parsed.success) {
      throw new FerryError(`${describeSchemaError(parsed.error, `profile ${path.basename(dir)} is damaged`, { whole: 'profile' })}; remove it with \`ferry remove ${path.basename(dir)}\` and import it again`);
    }
    if (parsed.data.id !== path.basename(dir)) {
      throw new FerryError(`profile ${path.basename(dir)} is damaged: its id does not match its directory; remove it with \`ferry remove ${path.basename(dir)}\` and import it again`);
    }
    for (const name of parsed.data.files) {
      const info = await stat(path.join(dir, name)).catch(() => undefined);
      if (!info?.isFile()) throw new FerryError(`profile "${parsed.data.name}" is missing its file ${name}; remove it with \`ferry remove ${parsed.data.id}\` and import it again`);
    }
    return parsed.data;
  }
}

/** A directory-safe form of a profile name: lower-case ASCII letters, digits and dashes. */
function slug(name: string): string {
  const s = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  return s || 'profile';
}
