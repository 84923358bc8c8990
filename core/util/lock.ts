/** A cross-process lock on a directory (proper-lockfile, stale after 10 s so a killed command never blocks the next). */
// Loaded eagerly on purpose: through proper-lockfile, signal-exit adds SIGTERM/SIGINT
// listeners that re-raise the signal when they find no other listener left. Installed after
// a command's own process.once('SIGTERM') (as a lazy import would do), they kill the process
// that had just started its clean stop (`ferry-server run` then exits by the signal, not 0).
import lockfile from 'proper-lockfile';
import path from 'node:path';
import { FerryError } from './errors.js';

export async function withDirLock<T>(dir: string, busyMessage: string, fn: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      lockfilePath: path.join(dir, '.lock'),
      stale: 10_000,
      update: 2_000,
      retries: { retries: 400, factor: 1.2, minTimeout: 10, maxTimeout: 100 },
      realpath: false,
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED') throw new FerryError(busyMessage);
    throw err;
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
