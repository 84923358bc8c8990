/**
 * `ferry-server delete` (seed 3.4.2.3, 删除 SSL 服务端): refused while any SSL client account
 * exists (当 SSL 服务端下配置了 SSL 客户端时，该 SSL 服务端不允许被删除); otherwise, once
 * confirmed, stops the gateway and removes the state directory.
 *
 * Under the state lock, so no `client add` can commit an account meanwhile. The commit
 * point is settings.json renamed to deleting.json: before it nothing has changed (but the
 * gateway stopped); after it every other command reports a deletion to finish, and the next
 * `delete` finishes it. Only the names LAYOUT lists are removed, each with lstat first: a
 * link is unlinked, never followed. Anything else in the directory refuses the deletion
 * before it starts, naming it.
 */
import { lstat, readdir, readFile, realpath, rename, rmdir, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { read } from 'read';
import { fsyncDir } from '../core/util/atomic-file.js';
import type { Io } from '../core/util/cli-main.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { LAYOUT, LAYOUT_FOLDERS, LOCK_NAME, StateDir, type Index } from './store.js';
import { testHold } from './test-hold.js';

type Folder = (typeof LAYOUT_FOLDERS)[number];

export interface DeleteResult {
  /** The deleted server's name; undefined when only an empty directory was left to remove. */
  name: string | undefined;
  gateway: 'stopped' | 'orphan' | 'none';
  /** Why the directory itself stayed, if it did. */
  kept?: string;
}

/** `confirm` is asked once nothing refuses the deletion; it throws to refuse. */
export async function deleteServer(state: StateDir, confirm: (serverName: string) => Promise<void>): Promise<DeleteResult> {
  if (!(await state.isInitialised()) && !(await state.isBeingDeleted())) {
    // A delete killed after its last step leaves the directory empty but for a stale lock.
    const entries = await readdir(state.dir).catch(() => undefined);
    if (entries?.every((name) => name === LOCK_NAME)) {
      if (entries.length > 0) await state.withLock(async () => {});
      return { name: undefined, gateway: 'none', ...(await removeDir(state.dir)) };
    }
    await state.readSettings(); // throws the "no Ferry server" error
  }
  const name = await serverName(state);
  await refuseIfInUse(state, name);
  await confirm(name);
  const gateway = await state.withLock(async () => {
    // Again under the lock: another command may have committed an account meanwhile.
    await refuseIfInUse(state, name);
    if ((await serverName(state)) !== name) throw new InputError(`the SSL server in ${state.dir} changed while you confirmed; nothing was deleted`);
    const stopped = (await gatewaySocketsAreOurs(state)) ? await (await import('./gateway.js')).stopGateway(state) : 'none';
    if (await state.isInitialised()) {
      await rename(state.settingsFile, state.deletingFile); // the commit point
      await fsyncDir(state.dir);
    }
    testHold('delete:committed');
    await removeFolder(state, 'run');
    await removeFolder(state, 'clients');
    testHold('delete:removing');
    await removeFolder(state, 'pki');
    for (const entry of await readdir(state.dir)) {
      if (entry === LOCK_NAME || entry === path.basename(state.deletingFile)) continue;
      await removeEntry(state, '', entry);
    }
    await unlink(state.deletingFile); // the last trace of the server; the lock goes next
    testHold('delete:unmarked');
    return stopped;
  });
  return { name, gateway, ...(await removeDir(state.dir)) };
}

/** The CLI's part: the confirmation (the server's name typed on a terminal, or --yes) and the report. */
export async function deleteServerCommand(state: StateDir, yes: boolean, io: Io): Promise<void> {
  const result = await deleteServer(state, (name) => confirmByName(name, `everything in ${state.dir} (CA, keys, CRL)`, yes));
  const gateway = { stopped: 'gateway stopped', orphan: 'stopped an openvpn left behind by a killed run', none: 'gateway not running' }[result.gateway];
  if (result.name === undefined) io.out(`removed the empty ${state.dir}`);
  else io.out(`deleted SSL server "${result.name}": removed ${state.dir}; ${gateway}`);
  if (result.kept) io.err(`note: kept ${state.dir}: ${result.kept}`);
}

/**
 * The confirmation every delete asks for: --yes, or the server's name typed on a terminal
 * (`what` says what goes). Throws, so nothing is deleted, unless confirmed.
 */
export async function confirmByName(name: string, what: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) {
    throw new InputError(`deleting SSL server "${name}" removes its CA and keys for good: confirm on a terminal, or pass --yes`);
  }
  const prompt = `Delete SSL server "${name}" and ${what}? This cannot be undone; type the server name ("${name}") to confirm: `;
  const answer = await read({ prompt, input: process.stdin, output: process.stderr }).catch(() => undefined);
  if (answer === undefined) throw new InputError('cancelled: nothing was deleted');
  if (answer.trim() !== name) throw new InputError('not confirmed: nothing was deleted');
}

async function serverName(state: StateDir): Promise<string> {
  if (await state.isInitialised()) return (await state.readSettings()).name;
  const saved = await readFile(state.deletingFile, 'utf8').then((text) => (JSON.parse(text) as { name?: unknown }).name).catch(() => undefined);
  return typeof saved === 'string' ? saved : path.basename(state.dir);
}

/** Accounts (revoked ones too) keep the server; so does anything the layout does not name. */
async function refuseIfInUse(state: StateDir, name: string): Promise<void> {
  if (await state.isInitialised()) {
    const index: Index = await state.readIndex();
    const accounts = index.accounts.map((a) => a.name);
    if (accounts.length > 0) {
      const shown = accounts.slice(0, 10).join(', ') + (accounts.length > 10 ? `, and ${accounts.length - 10} more` : '');
      const count = accounts.length === 1 ? '1 SSL client account exists' : `${accounts.length} SSL client accounts exist`;
      throw new InputError(`cannot delete SSL server "${name}": ${count} (${shown}); delete ${accounts.length === 1 ? 'it' : 'them'} first with "ferry-server client delete ACCOUNT..."`);
    }
  } else if (!(await state.isBeingDeleted())) {
    await state.readSettings(); // a concurrent delete finished first: "no Ferry server"
  }
  const unknown = await unknownEntries(state);
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).join(', ') + (unknown.length > 10 ? ', …' : '');
    throw new InputError(
      `${state.dir} holds what ferry-server did not create (${shown}); move ${unknown.length === 1 ? 'it' : 'them'} out of the directory, then run delete again`,
    );
  }
}

/**
 * Talk to the gateway only through ferry-server's own sockets: a link placed in their stead
 * (or in place of run/) could lead the shutdown request, or the signal to an orphaned
 * openvpn, to another program.
 */
async function gatewaySocketsAreOurs(state: StateDir): Promise<boolean> {
  const run = await lstat(state.runDir).catch(() => undefined);
  if (!run?.isDirectory()) return false;
  for (const socket of [state.controlSocket, state.managementSocket]) {
    if ((await lstat(socket).catch(() => undefined))?.isSymbolicLink()) return false;
  }
  return true;
}

/** Files, links and sockets may be unlinked; anything else (a folder, a device) is not ours. */
const unlinkable = (info: Stats) => info.isFile() || info.isSymbolicLink() || info.isSocket();

function isLayoutFolder(name: string): name is Folder {
  return (LAYOUT_FOLDERS as readonly string[]).includes(name);
}

/** Entries (relative paths) that LAYOUT does not name, or of a kind ferry-server never makes there. */
async function unknownEntries(state: StateDir): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(state.dir)) {
    const info = await lstat(path.join(state.dir, name)).catch(() => undefined);
    if (!info) continue;
    if (name === LOCK_NAME && info.isDirectory()) continue;
    if (isLayoutFolder(name) && (info.isDirectory() || info.isSymbolicLink())) {
      if (info.isSymbolicLink()) continue; // a link in place of the folder: unlinked, never entered
      for (const inner of await readdir(path.join(state.dir, name))) {
        const innerInfo = await lstat(path.join(state.dir, name, inner)).catch(() => undefined);
        if (innerInfo && !(unlinkable(innerInfo) && LAYOUT[name].some((re) => re.test(inner)))) found.push(`${name}/${inner}`);
      }
      continue;
    }
    if (!(unlinkable(info) && LAYOUT[''].some((re) => re.test(name)))) found.push(name);
  }
  return found.sort();
}

/** Unlinks one layout entry of `folder` (never following it); anything else stops the deletion. */
async function removeEntry(state: StateDir, folder: Folder | '', name: string): Promise<void> {
  const file = path.join(state.dir, folder, name);
  const info = await lstat(file).catch(() => undefined);
  if (!info) return;
  if (!unlinkable(info) || !LAYOUT[folder].some((re) => re.test(name))) {
    throw new FerryError(`${path.join(folder, name)} appeared in ${state.dir} while deleting; move it out, then run "ferry-server delete" again`);
  }
  await unlink(file).catch(ignoreMissing);
}

/** Empties and removes one of pki/, clients/, run/; a link in its place is unlinked itself. */
async function removeFolder(state: StateDir, folder: Folder): Promise<void> {
  const dir = path.join(state.dir, folder);
  for (let attempt = 0; ; attempt++) {
    const info = await lstat(dir).catch(() => undefined);
    if (!info) return;
    if (!info.isDirectory()) {
      await unlink(dir).catch(ignoreMissing);
      return;
    }
    for (const name of await readdir(dir)) await removeEntry(state, folder, name);
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      // A command that started before the commit may just have written a key pair there;
      // it fails once the folder is gone. Its files are layout files: remove them too.
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt >= 10) throw err;
    }
  }
}

/** The state directory, once empty (and released); through a link to it, the link too. */
async function removeDir(dir: string): Promise<{ kept?: string }> {
  try {
    const info = await lstat(dir);
    if (info.isSymbolicLink()) {
      await rmdir(await realpath(dir));
      await unlink(dir);
    } else {
      await rmdir(dir);
    }
    return {};
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return { kept: 'something new was written into it while deleting (another ferry-server command?)' };
    throw err;
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
