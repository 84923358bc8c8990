/**
 * The helper's on-disk layout for one session, and its removal. Both directories are
 * root's for their whole life: `sessions/<id>/` (0700) holds the config, the files and
 * the DNS hook's hand-off; `mgmt/<id>/` (0711) holds only openvpn's management socket,
 * which alone is handed to the caller (their uid, 0600). No user can create, rename or
 * link anything in either, and removal unlinks the names the helper itself uses, then
 * the directory: it never recurses and never follows a link, so nothing a user does can
 * point root's deletes elsewhere.
 */
import { spawn } from 'node:child_process';
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Every name the helper (or openvpn running its hook) writes into a session directory. */
export const SESSION_FILE_NAMES = [
  'ca.crt',
  'client.crt',
  'client.key',
  'tls-auth.key',
  'tls-crypt.key',
  'tls-crypt-v2.key',
  'dns-up.sh',
  'openvpn.conf',
  'session.json',
  'dns.env',
  'dns.env.tmp',
  'dns.ack',
] as const;

export const MANAGEMENT_SOCKET_NAME = 'management.sock';

/** writeFileAtomic's temp files: `.<name>.<hex>.tmp`, left only by a crash mid-write. */
const TEMP_FILE = /^\.[a-z0-9.-]+\.[0-9a-f]{12}\.tmp$/;

/**
 * Unlinks `names` (and atomic-write leftovers) in `dir`, then removes `dir`. Anything
 * else found there is left in place and returned, never deleted blindly.
 */
export async function removeKnown(dir: string, names: readonly string[]): Promise<string[]> {
  const present = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (present === undefined) return [];
  const unexpected: string[] = [];
  for (const name of present) {
    if (names.includes(name) || TEMP_FILE.test(name)) await unlink(path.join(dir, name)).catch(ignoreMissing);
    else unexpected.push(name);
  }
  if (unexpected.length === 0) await rmdir(dir).catch(ignoreMissing);
  return unexpected;
}

/**
 * A directory a user owned (the layout of helpers before 0.2 handed `mgmt/<id>/` to the
 * caller): its contents are removed *with the owner's own credentials* (`find -delete`
 * never follows links), so root's privilege is never lent to whatever the user put there;
 * then root removes the emptied directory. Returns false when something stayed.
 */
export async function removeAsOwner(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return true;
  if (!st.isDirectory() || st.uid === 0) return false;
  await new Promise<void>((resolve) => {
    const child = spawn('find', [dir, '-xdev', '-mindepth', '1', '-delete'], { uid: st.uid, gid: st.gid, stdio: 'ignore', env: { PATH: '/usr/bin:/bin' } });
    child.once('error', () => resolve());
    child.once('exit', () => resolve());
  });
  return rmdir(dir).then(
    () => true,
    () => false,
  );
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
