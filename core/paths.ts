/** Where the client keeps things: profiles in $FERRY_HOME, live sessions in a private runtime dir. */
import { chmod, lstat, mkdir, mkdtemp, readFile, rmdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROFILE_ID_MAX } from './profile/limits.js';
import { ensurePrivateDir, writeFileAtomic } from './util/atomic-file.js';
import { FerryError } from './util/errors.js';
import { withDirLock } from './util/lock.js';

/** $FERRY_HOME, else the OS config dir (XDG on Linux, Application Support on macOS, %APPDATA% on Windows). */
export function ferryHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_HOME) return path.resolve(env.FERRY_HOME);
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Ferry');
  if (process.platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Ferry');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'ferry');
}

/**
 * The longest socket path Ferry makes under the runtime dir is
 * <dir>/<profile id>/management.sock (status sockets, <dir>/<id>.sock, are shorter); a
 * unix socket path holds 108 bytes on Linux and 104 on macOS, its NUL included.
 */
const LONGEST_SOCKET = `/${'x'.repeat(PROFILE_ID_MAX)}/management.sock`;
const SOCKET_PATH_MAX = (process.platform === 'linux' ? 108 : 104) - 1;

/** The file in $FERRY_HOME that names the last-resort runtime dir in the shared temp dir. */
const RECORD = 'runtime-dir';

/**
 * The per-user runtime directory (management sockets, generated configs, session status
 * sockets), the same for every Ferry process of the user, and one nobody else can make
 * first: $XDG_RUNTIME_DIR/ferry; else a private directory in the user's cache dir
 * ($XDG_CACHE_HOME/ferry/run or ~/.cache/ferry/run; ~/Library/Caches/Ferry/run on macOS).
 * A fixed name in the shared /tmp (as /tmp/ferry-<uid> once was) can be made first by
 * anyone, so /tmp is the last resort only, when those paths are too long for a socket: a
 * fresh mkdtemp directory whose name is recorded in $FERRY_HOME and checked on every use.
 * `home`: the profile store's home (default $FERRY_HOME).
 */
export async function runtimeDir(env: NodeJS.ProcessEnv = process.env, home = ferryHome(env)): Promise<string> {
  const candidates: Array<[base: string | undefined, names: string[]]> = [
    [env.XDG_RUNTIME_DIR, ['ferry']],
    [cacheHome(env), [process.platform === 'darwin' ? 'Ferry' : 'ferry', 'run']],
  ];
  for (const [base, names] of candidates) {
    const dir = base && path.join(base, ...names);
    if (dir && fitsSockets(dir) && (await makePrivateDirs(base, names))) return dir;
  }
  return recordedTempDir(home);
}

function cacheHome(env: NodeJS.ProcessEnv): string {
  const home = env.HOME || os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches');
  if (process.platform === 'win32') return env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local');
  return env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(home, '.cache');
}

function fitsSockets(dir: string): boolean {
  return process.platform === 'win32' || Buffer.byteLength(dir + LONGEST_SOCKET) <= SOCKET_PATH_MAX;
}

/**
 * The directories Ferry names below `base` (ferry/run), each created 0700 when missing
 * and then checked with lstat: true only when every one is a real directory of ours, in a
 * base others cannot rename them out of. No link is followed below `base`; `base` itself
 * (say a ~/.cache symlinked elsewhere) is the user's to choose, and made only if its
 * parent exists (a missing home is not ours to create).
 */
async function makePrivateDirs(base: string, names: string[]): Promise<boolean> {
  try {
    await mkdirIfMissing(base);
    if (!safeParent(await stat(base))) return false;
    let dir = base;
    for (const name of names) {
      dir = path.join(dir, name);
      await mkdirIfMissing(dir);
      const info = await lstat(dir);
      if (!info.isDirectory() || !ours(info)) return false;
      // Ours and a real directory: only we could have widened it, so narrowing it is safe.
      if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) await chmod(dir, 0o700);
    }
    return true;
  } catch {
    return false; // unusable here (read-only, not a directory, …): the next candidate
  }
}

function mkdirIfMissing(dir: string): Promise<void> {
  return mkdir(dir, { mode: 0o700 }).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    },
  );
}

/** The last resort, in the shared temp dir: mkdtemp names are unguessable and it fails on an existing name, so nobody can make ours first. */
async function recordedTempDir(home: string): Promise<string> {
  await ensurePrivateDir(home);
  return withDirLock(home, 'another Ferry process is choosing its runtime directory; try again in a moment', async () => {
    const record = path.join(home, RECORD);
    const recorded = await readFile(record, 'utf8').catch(() => '');
    if (path.isAbsolute(recorded) && (await isPrivateDir(recorded))) return recorded;
    const dir = await mkdtemp(path.join(os.tmpdir(), `ferry-${process.getuid?.() ?? 'user'}-`));
    if (!fitsSockets(dir)) {
      await rmdir(dir);
      throw new FerryError(`no runtime directory short enough for Ferry's sockets (${dir} is too long): set XDG_RUNTIME_DIR or TMPDIR to a shorter directory`);
    }
    await writeFileAtomic(record, dir);
    return dir;
  });
}

/** A recorded runtime dir is used only as mkdtemp made it: a real directory of ours, 0700. */
async function isPrivateDir(dir: string): Promise<boolean> {
  const info = await lstat(dir).catch(() => undefined);
  return Boolean(info?.isDirectory() && ours(info) && (process.platform === 'win32' || (info.mode & 0o777) === 0o700));
}

function ours(info: Stats): boolean {
  const uid = process.getuid?.();
  return uid === undefined || info.uid === uid;
}

/** A directory others cannot rename our entries out of: ours or root's, and not writable by others unless sticky. */
function safeParent(info: Stats): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return true;
  return (info.uid === uid || info.uid === 0) && ((info.mode & 0o022) === 0 || (info.mode & 0o1000) !== 0);
}
