/** Where the client keeps things: profiles in $FERRY_HOME, live sessions in a private runtime dir. */
import { lstat, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FerryError } from './util/errors.js';

/** $FERRY_HOME, else the OS config dir (XDG on Linux, Application Support on macOS, %APPDATA% on Windows). */
export function ferryHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_HOME) return path.resolve(env.FERRY_HOME);
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Ferry');
  if (process.platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Ferry');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'ferry');
}

/**
 * The per-user runtime directory (management sockets, generated configs, session control
 * sockets): $XDG_RUNTIME_DIR/ferry, else <tmp>/ferry-<uid>. It must be ours and 0700: in a
 * shared /tmp another user could otherwise pre-create it and watch our sockets.
 */
export async function runtimeDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const base = env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'ferry') : path.join(os.tmpdir(), `ferry-${process.getuid?.() ?? 'user'}`);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const info = await lstat(base);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (process.platform !== 'win32' && (info.mode & 0o077) !== 0)) {
    throw new FerryError(`the runtime directory ${base} is not a private directory owned by you; remove it and try again`);
  }
  return base;
}
