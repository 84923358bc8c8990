/** A cross-process lock on a directory (proper-lockfile, stale after 10 s so a killed command never blocks the next). */
import type lockfileModule from 'proper-lockfile';
import path from 'node:path';
import { FerryError } from './errors.js';

export async function withDirLock<T>(dir: string, busyMessage: string, fn: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  // Loaded on first use (it patches fs through graceful-fs): reading commands never lock.
  const lockfile: typeof lockfileModule = (await import('proper-lockfile')).default;
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
