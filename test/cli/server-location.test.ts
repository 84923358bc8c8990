/**
 * Where a state directory may live (server/state-location.ts): root refuses a state
 * directory that someone else could swap under it — owned by another user, or below a
 * directory others may write to — before reading or writing anything there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { trustedStateDir } from '../../server/state-location.js';
import { FERRY_SERVER, ferryServer, initServer, snapshot, tempDir } from '../support/cli.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

describe('trustedStateDir', () => {
  it('accepts a private directory below a sticky shared one (/tmp), and resolves links once', async () => {
    const base = await tempDir(); // /tmp/ferry-test-XXXX, 0700, ours
    const real = path.join(base, 'state');
    await mkdir(real, { mode: 0o700 });
    const link = path.join(base, 'link');
    await symlink(real, link);
    expect(await trustedStateDir(link)).toBe(real);
    expect(await trustedStateDir(path.join(base, 'not-yet', 'state'))).toBe(path.join(base, 'not-yet', 'state'));
  });

  it.skipIf(!asRoot)('refuses a directory another user owns', async () => {
    const dir = path.join(await tempDir(), 'state');
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, NOBODY, NOBODY);
    await expect(trustedStateDir(dir)).rejects.toThrow(/belongs to uid 65534/);
  });

  it.skipIf(!asRoot)('refuses a directory below one that everyone may write to (not sticky), or one that is itself shared', async () => {
    const base = await tempDir();
    await chmod(base, 0o777);
    const dir = path.join(base, 'state');
    await mkdir(dir, { mode: 0o700 });
    await expect(trustedStateDir(dir)).rejects.toThrow(new RegExp(`${base} is writable by everyone`));
    await chmod(base, 0o1777); // sticky, like /tmp: fine above a directory of ours
    expect(await trustedStateDir(dir)).toBe(dir);
    await chmod(dir, 0o1777); // but the state directory itself must be private
    await expect(trustedStateDir(dir)).rejects.toThrow(/is writable by everyone/);
    await chmod(dir, 0o770);
    await expect(trustedStateDir(dir)).rejects.toThrow(/is writable by its group/);
  });

  it.skipIf(!asRoot)('a link through a directory another user controls is judged where it leads', async () => {
    const base = await tempDir();
    const userDir = path.join(base, 'user');
    await mkdir(userDir, { mode: 0o755 });
    await chown(userDir, NOBODY, NOBODY);
    await mkdir(path.join(userDir, 'state'), { mode: 0o700 });
    const link = path.join(base, 'link');
    await symlink(path.join(userDir, 'state'), link);
    await expect(trustedStateDir(link)).rejects.toThrow(new RegExp(`${userDir} belongs to uid 65534`));
  });

  it('for an ordinary user, their own directories are fine (checked as that uid)', async () => {
    const dir = path.join(await tempDir(), 'state');
    await mkdir(dir, { mode: 0o700 });
    const uid = process.geteuid!();
    expect(await trustedStateDir(dir, uid === 0 ? 0 : uid)).toBe(dir);
  });
});

describe.skipIf(!asRoot)('ferry-server refuses an unsafe --dir', () => {
  it('every command: exit 2, one line naming the directory and the fix, nothing touched', async () => {
    const dir = await initServer();
    await chown(dir, NOBODY, NOBODY); // as a non-root init would have left it, then run with sudo
    const before = await snapshot(dir);
    for (const args of [['run'], ['status'], ['client', 'add', 'eve'], ['client', 'list'], ['delete', '--yes'], ['config']]) {
      const result = await ferryServer([...args, '--dir', dir]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(/refusing the state directory .*: .* belongs to uid 65534\. It and every directory above it must belong to root and be writable only by their owner/);
    }
    expect(await snapshot(dir)).toEqual(before);
  });

  it('init below a directory everyone may write to creates nothing', async () => {
    const base = await tempDir();
    await chmod(base, 0o777);
    const dir = path.join(base, 'state');
    const result = await ferryServer(['init', '--dir', dir, '--host', '198.18.1.1', '--subnet', '198.18.2.0/24']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/is writable by everyone/);
    expect(existsSync(dir)).toBe(false);
  });

  it('an ordinary user may keep a state directory of their own', async () => {
    const base = await tempDir();
    await chown(base, NOBODY, NOBODY);
    const dir = path.join(base, 'state');
    const out = execFileSync('setpriv', ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', process.execPath, FERRY_SERVER, 'init', '--dir', dir, '--host', '198.18.1.1', '--subnet', '198.18.2.0/24'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: base },
    });
    expect(out).toMatch(/created SSL server/);
  });
});
