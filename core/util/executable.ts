/** Finds a program on PATH plus the sbin directories a non-root user's PATH often lacks. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const SBIN_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/opt/homebrew/sbin'];

/** The first executable `name` on PATH or in the sbin directories; undefined when none. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const candidate of dirs.map((d) => path.join(d, name))) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}
