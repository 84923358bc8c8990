/**
 * Real unprivileged users for the helper's tests: created with useradd, removed after.
 * Their Ferry runs from a world-readable copy of the built CLI, since the checkout may
 * sit somewhere only root can enter (a CI clone under /root, say).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, cp, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './cli.js';

const exec = promisify(execFile);

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  /** The user's own 0700 directory: FERRY_HOME and XDG_RUNTIME_DIR live inside. */
  home: string;
  env: NodeJS.ProcessEnv;
  /** argv prefix that runs a command as this user, with no supplementary groups or capabilities. */
  asUser: string[];
}

/**
 * A test user. `group` (a TestGroup's gid) makes them a member, and their processes carry
 * it as a supplementary group, as a logged-in member's would.
 */
export async function createTestUser(helperSocket: string, group?: TestGroup): Promise<TestUser> {
  const name = `ferryt${randomBytes(3).toString('hex')}`;
  await exec('useradd', ['--no-create-home', '--user-group', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', ...(group ? ['--groups', group.name] : []), name]);
  const uid = Number((await exec('id', ['-u', name])).stdout.trim());
  const gid = Number((await exec('id', ['-g', name])).stdout.trim());
  const home = await tempDir('ferry-user-');
  await chmod(home, 0o700);
  await mkdir(path.join(home, 'run'), { mode: 0o700 });
  await chown(home, uid, gid);
  await chown(path.join(home, 'run'), uid, gid);
  return {
    name,
    uid,
    gid,
    home,
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: home,
      FERRY_HOME: path.join(home, 'ferry'),
      XDG_RUNTIME_DIR: path.join(home, 'run'),
      FERRY_HELPER_SOCKET: helperSocket,
    },
    asUser: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, ...(group ? [`--groups=${group.gid}`] : ['--clear-groups']), '--inh-caps=-all', '--'],
  };
}

export interface TestGroup {
  name: string;
  gid: number;
}

/** A group made for one test run (ferry-helper's --group), removed after. */
export async function createTestGroup(): Promise<TestGroup> {
  const name = `ferryg${randomBytes(3).toString('hex')}`;
  await exec('groupadd', [name]);
  return { name, gid: Number((await exec('getent', ['group', name])).stdout.split(':')[2]) };
}

export async function removeTestGroup(group: TestGroup | undefined): Promise<void> {
  if (group) await exec('groupdel', [group.name]).catch(() => {});
}

export async function removeTestUser(user: TestUser | undefined): Promise<void> {
  if (user) await exec('userdel', [user.name]).catch(() => {});
}

/** Copies the built `ferry` CLI (bin, dist, its one native dependency) where anyone may read it. */
export async function installForUsers(): Promise<string> {
  const app = await tempDir('ferry-app-');
  await chmod(app, 0o755);
  await cp(path.join(ROOT, 'bin'), path.join(app, 'bin'), { recursive: true });
  await mkdir(path.join(app, 'dist'));
  for (const file of await readdir(path.join(ROOT, 'dist'))) {
    if (file.endsWith('.mjs')) await cp(path.join(ROOT, 'dist', file), path.join(app, 'dist', file));
  }
  await cp(path.join(ROOT, 'node_modules/@napi-rs'), path.join(app, 'node_modules/@napi-rs'), { recursive: true });
  await exec('chmod', ['-R', 'a+rX', app]);
  return path.join(app, 'bin/ferry.js');
}

/** Copies files into the user's home, owned by the user (as if downloaded by them). */
export async function giveFiles(user: TestUser, files: string[]): Promise<string[]> {
  const dir = path.join(user.home, 'downloads');
  await mkdir(dir, { recursive: true });
  await chown(dir, user.uid, user.gid);
  const copies: string[] = [];
  for (const file of files) {
    const copy = path.join(dir, path.basename(file));
    await cp(file, copy);
    await chown(copy, user.uid, user.gid);
    copies.push(copy);
  }
  return copies;
}
