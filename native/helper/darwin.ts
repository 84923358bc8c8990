/**
 * What the helper checks before starting openvpn on macOS. Small and pure (the platform
 * and the file system are passed in), so they are unit-tested on Linux.
 *
 * - Devices: openvpn 2.6 on macOS opens a kernel `utun` device for `dev tun` (tun.c,
 *   open_tun for Darwin: utun first, the old tun.kext only as a fallback), and the
 *   interface is named utunN, which the --up hook passes on as $dev. There is no tap
 *   equivalent without a third-party kernel extension (macOS has none built in; utun is
 *   layer 3 only, and tun.c refuses "utun devices with --dev-type tap"), so a tap profile
 *   is refused before openvpn starts, with words a person can act on.
 * - The binary: the helper runs openvpn as root, so it runs only a file that root alone
 *   can change: the file and every directory above it owned by root and not writable by
 *   group or others, following symlinks hop by hop (each link root's, and every directory
 *   it leads through checked as well). The copy the package installs next to the helper passes; Homebrew's
 *   (owned by whoever installed Homebrew) does not, and is named in the refusal.
 */
import type { Stats } from 'node:fs';
import path from 'node:path';

export function darwinDeviceRefusal(dev: string): string | undefined {
  return dev === 'tap'
    ? 'this profile uses a tap (layer 2) device, which macOS does not have: OpenVPN there opens utun (layer 3) devices only; ask the gateway\'s administrator for a tun profile'
    : undefined;
}

/** lstat (not stat: symlinks are seen as such) and readlink, injected so that tests need no Mac. */
export interface PathLookup {
  lstat: (file: string) => Pick<Stats, 'uid' | 'mode'> | undefined;
  readlink: (file: string) => string;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
/** As the kernel's MAXSYMLINKS: more hops than this is a loop. */
const MAX_LINKS = 32;

/**
 * Undefined when only root can change what `file` names; else the first path that someone
 * else could change. The path is resolved as the kernel does, one component at a time, so
 * every directory the lookup passes through is checked, including those a symlink leads
 * into (Homebrew's opt/openvpn points into its Cellar); a symlink must be root's too.
 */
export function notRootOnly(file: string, fs: PathLookup): string | undefined {
  const pending = path.posix.resolve(file).split('/').filter(Boolean);
  let at = '/';
  let links = 0;
  const weak = (p: string) => {
    const st = fs.lstat(p);
    return !st || st.uid !== 0 || ((st.mode & S_IFMT) !== S_IFLNK && (st.mode & 0o022) !== 0);
  };
  if (weak(at)) return at;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      at = path.posix.dirname(at);
      continue;
    }
    const next = path.posix.join(at, name);
    if (weak(next)) return next;
    if ((fs.lstat(next)!.mode & S_IFMT) === S_IFLNK) {
      if (++links > MAX_LINKS) return next;
      const target = fs.readlink(next);
      pending.unshift(...target.split('/').filter(Boolean));
      if (target.startsWith('/')) at = '/';
      continue;
    }
    at = next;
  }
  return undefined;
}

export function binaryRefusal(binary: string, fs: PathLookup): string | undefined {
  const weak = notRootOnly(binary, fs);
  return weak === undefined
    ? undefined
    : `ferry-helper runs openvpn as root and will not run ${binary}: ${weak} can be changed by a user other than root. Reinstall Ferry (its package puts openvpn next to ferry-helper), or set FERRY_OPENVPN in the helper's launchd plist to a root-owned copy`;
}
