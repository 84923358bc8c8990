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
 *   group or others. The copy the package installs next to the helper passes; Homebrew's
 *   (owned by whoever installed Homebrew) does not, and is named in the refusal.
 */
import type { Stats } from 'node:fs';
import path from 'node:path';

export function darwinDeviceRefusal(dev: string): string | undefined {
  return dev === 'tap'
    ? 'this profile uses a tap (layer 2) device, which macOS does not have: OpenVPN there opens utun (layer 3) devices only; ask the gateway\'s administrator for a tun profile'
    : undefined;
}

type StatOf = (file: string) => Pick<Stats, 'uid' | 'mode'> | undefined;

/** Undefined when only root can change `file`; else the first path that someone else could. */
export function notRootOnly(file: string, statOf: StatOf): string | undefined {
  for (let p = path.posix.resolve(file); ; p = path.posix.dirname(p)) {
    const st = statOf(p);
    if (!st || st.uid !== 0 || (st.mode & 0o022) !== 0) return p;
    if (p === '/') return undefined;
  }
}

export function binaryRefusal(binary: string, statOf: StatOf): string | undefined {
  const weak = notRootOnly(binary, statOf);
  return weak === undefined
    ? undefined
    : `ferry-helper runs openvpn as root and will not run ${binary}: ${weak} can be changed by a user other than root. Reinstall Ferry (its package puts openvpn next to ferry-helper), or set FERRY_OPENVPN in the helper's launchd plist to a root-owned copy`;
}
