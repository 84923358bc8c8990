/**
 * Where a state directory may live. `ferry-server` runs as root and reads, writes and
 * removes files there (run/server.conf becomes openvpn's config as root): if any directory
 * on the way belongs to someone else, or others may write to it, that someone can swap a
 * file or a whole directory between our check and our use. So, like sshd's StrictModes:
 * the state directory and every directory above it must belong to root or to whoever runs
 * the command, and none may be writable by others — except sticky ones such as /tmp, whose
 * entries only their owners can rename or remove.
 */
import type { Stats } from 'node:fs';
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../core/util/errors.js';

const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/**
 * The state directory's real path (links resolved once, here, so nothing later walks a
 * link that could change), after checking it and its ancestors. A directory that does not
 * exist yet (init) is checked from its nearest existing ancestor.
 */
export async function trustedStateDir(dir: string, uid = process.geteuid?.()): Promise<string> {
  const wanted = path.resolve(dir);
  if (uid === undefined) return wanted; // no POSIX ownership (Windows): nothing to check
  let existing = wanted;
  while (!(await lstat(existing).catch(() => undefined))) existing = path.dirname(existing);
  const real = path.join(await realpath(existing), path.relative(existing, wanted));
  const refuse = (why: string) =>
    new InputError(
      `refusing the state directory ${real}: ${why}. It and every directory above it must belong to root${uid === 0 ? '' : ' or you'} and be writable only by their owner (move it, or fix with chown/chmod)`,
    );
  let below: Stats | undefined;
  for (let current = real; ; current = path.dirname(current)) {
    const info = await lstat(current).catch(() => undefined);
    if (info) {
      if (!info.isDirectory()) throw refuse(`${current} is not a directory`);
      if (info.uid !== 0 && info.uid !== uid) throw refuse(`${current} belongs to uid ${info.uid}`);
      const shared = (info.mode & WRITABLE_BY_OTHERS) !== 0;
      // A sticky shared directory is fine above a directory of ours (/tmp/x), never as the state directory itself.
      if (shared && !((info.mode & STICKY) !== 0 && below !== undefined)) {
        throw refuse(`${current} is writable by ${info.mode & 0o002 ? 'everyone' : 'its group'}`);
      }
      below = info;
    }
    if (current === path.dirname(current)) break;
  }
  return real;
}
