/**
 * Finds the openvpn 2.6 binary: $FERRY_OPENVPN; on macOS the one the app carries
 * (Resources/openvpn/openvpn, next to the helper), else Homebrew's; then PATH plus the
 * sbin directories a user's PATH often lacks.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { FailureError } from '../session/failure-error.js';
import { failure } from '../session/failures.js';
import { findExecutable } from '../util/executable.js';

/** Thrown when there is no openvpn to run; its words are failure-text.ts's `openvpn-missing`. */
const missing = () => new FailureError(failure('openvpn-missing', 'openvpn-missing'));

/**
 * Homebrew's openvpn (its formula installs sbin/openvpn): the prefix's sbin link, then the
 * keg itself (present even when unlinked). /opt/homebrew on Apple silicon, /usr/local on Intel.
 */
export const HOMEBREW_OPENVPN = [
  '/opt/homebrew/sbin/openvpn',
  '/opt/homebrew/opt/openvpn/sbin/openvpn',
  '/usr/local/sbin/openvpn',
  '/usr/local/opt/openvpn/sbin/openvpn',
] as const;

/**
 * The directory holding the app's resources: Electron's process.resourcesPath, or, for
 * ferry-helper started as Resources/helper/bin/ferry-helper.js (the packages put it
 * there), two levels above its bin directory.
 */
export function resourcesDirOf(resourcesPath: string | undefined, mainScript: string | undefined): string | undefined {
  if (resourcesPath) return resourcesPath;
  if (mainScript && /[/\\]helper[/\\]bin[/\\]ferry-helper\.js$/.test(mainScript)) return path.resolve(path.dirname(mainScript), '..', '..');
  return undefined;
}

/** Where to look before PATH, best first, for one platform. */
export function openvpnCandidates(platform: NodeJS.Platform, resourcesDir: string | undefined): string[] {
  if (platform !== 'darwin') return [];
  return [...(resourcesDir ? [path.posix.join(resourcesDir, 'openvpn', 'openvpn')] : []), ...HOMEBREW_OPENVPN];
}

export interface OpenvpnSearch {
  platform?: NodeJS.Platform;
  resourcesDir?: string;
  isExecutable?: (file: string) => boolean;
}

const executable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

export function findOpenvpn(env: NodeJS.ProcessEnv = process.env, search: OpenvpnSearch = {}): string {
  const isExecutable = search.isExecutable ?? executable;
  if (env.FERRY_OPENVPN) {
    if (isExecutable(env.FERRY_OPENVPN)) return env.FERRY_OPENVPN;
    throw missing();
  }
  const platform = search.platform ?? process.platform;
  const resourcesDir = 'resourcesDir' in search ? search.resourcesDir : resourcesDirOf((process as { resourcesPath?: string }).resourcesPath, process.argv[1]);
  const found = openvpnCandidates(platform, resourcesDir).find(isExecutable) ?? findExecutable('openvpn', env);
  if (!found) throw missing();
  return found;
}
