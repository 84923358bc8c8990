/**
 * The runtime directory (session and status sockets) without $XDG_RUNTIME_DIR: another
 * user must not be able to pre-empt it in a shared /tmp (lock Ferry out, or have it use a
 * directory they control), and every Ferry process of the user must find the same one.
 * The attacker is uid 65534 (nobody); /tmp is a fresh sticky directory given as $TMPDIR.
 */
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runtimeDir } from '../../core/paths.js';
import { tempDir } from '../support/cli.js';

const NOBODY = 65534;
const uid = process.getuid!();
/** Chowning to another user needs root; CI runs as root, so there a missing root is a failure. */
const notRoot = uid !== 0 && process.env.CI !== 'true';

/** Linux sun_path: 108 bytes with the NUL; Ferry's longest socket is <dir>/<41-char profile id>/management.sock. */
const LONGEST_SOCKET_SUFFIX = `/${'x'.repeat(41)}/management.sock`;

let tmp: string;
let env: NodeJS.ProcessEnv;
let base: string;

beforeEach(async () => {
  base = await tempDir('ferry-rt-');
  tmp = path.join(base, 't');
  await mkdir(tmp);
  await chmod(tmp, 0o1777); // a shared /tmp: everyone may create, nobody may remove another's entries
  vi.stubEnv('TMPDIR', tmp);
  env = { FERRY_HOME: path.join(base, 'home'), XDG_CACHE_HOME: path.join(base, 'cache'), HOME: path.join(base, 'user') };
});

afterEach(() => {
  vi.unstubAllEnvs();
});

async function expectPrivate(dir: string): Promise<void> {
  const info = await lstat(dir);
  expect(info.isDirectory(), `${dir} is a real directory`).toBe(true);
  expect(info.uid).toBe(uid);
  expect(info.mode & 0o777).toBe(0o700);
  expect(Buffer.byteLength(dir + LONGEST_SOCKET_SUFFIX)).toBeLessThanOrEqual(107);
}

describe.skipIf(notRoot)('runtimeDir without $XDG_RUNTIME_DIR', () => {
  it('is not locked out by a /tmp/ferry-<uid> another user made first, and finds the same directory again', async () => {
    const squat = path.join(tmp, `ferry-${uid}`);
    await mkdir(squat, { mode: 0o700 });
    await chown(squat, NOBODY, NOBODY);
    const dir = await runtimeDir(env);
    await expectPrivate(dir);
    expect(dir.startsWith(squat)).toBe(false);
    expect(await runtimeDir(env)).toBe(dir);
  });

  it('does not follow a /tmp/ferry-<uid> symlink to a directory of someone else', async () => {
    const theirs = path.join(base, 'theirs');
    await mkdir(theirs, { mode: 0o777 });
    await chown(theirs, NOBODY, NOBODY);
    await symlink(theirs, path.join(tmp, `ferry-${uid}`));
    const dir = await runtimeDir(env);
    await expectPrivate(dir);
    expect(await readdir(theirs)).toEqual([]);
  });

  it('is a private directory under the user\'s cache directory', async () => {
    expect(await runtimeDir(env)).toBe(path.join(base, 'cache', 'ferry', 'run'));
    await expectPrivate(path.join(base, 'cache', 'ferry', 'run'));
  });

  it('skips a cache directory where someone else made ferry/ first (a shared XDG_CACHE_HOME)', async () => {
    const shared = path.join(base, 'shared-cache');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    await mkdir(path.join(shared, 'ferry', 'run'), { recursive: true, mode: 0o700 });
    await chown(path.join(shared, 'ferry'), NOBODY, NOBODY);
    await chown(path.join(shared, 'ferry', 'run'), NOBODY, NOBODY);
    const dir = await runtimeDir({ ...env, XDG_CACHE_HOME: shared });
    await expectPrivate(dir);
    expect(dir.startsWith(shared)).toBe(false);
  });

  describe('when the cache directory is too long for unix socket paths', () => {
    beforeEach(() => {
      env.XDG_CACHE_HOME = path.join(base, 'c'.repeat(80));
    });

    it('makes an unguessable /tmp/ferry-<uid>-XXXXXX, records it in $FERRY_HOME (0600) and finds it again', async () => {
      const dir = await runtimeDir(env);
      expect(path.dirname(dir)).toBe(tmp);
      expect(path.basename(dir)).toMatch(new RegExp(`^ferry-${uid}-[A-Za-z0-9]{6}$`));
      await expectPrivate(dir);
      const record = (await readdir(env.FERRY_HOME!)).filter((f) => !f.startsWith('.'));
      expect(record).toHaveLength(1);
      const recordFile = path.join(env.FERRY_HOME!, record[0]!);
      expect((await stat(recordFile)).mode & 0o777).toBe(0o600);
      expect(await readFile(recordFile, 'utf8')).toBe(dir);
      expect(await runtimeDir(env)).toBe(dir);
      await expect(stat(env.XDG_CACHE_HOME!)).rejects.toThrow(); // nothing made where it could not be used
    });

    it('makes a new one when the recorded directory was removed and someone else took its name', async () => {
      const first = await runtimeDir(env);
      await rm(first, { recursive: true });
      await mkdir(first, { mode: 0o700 });
      await chown(first, NOBODY, NOBODY);
      const second = await runtimeDir(env);
      expect(second).not.toBe(first);
      await expectPrivate(second);
      expect(await runtimeDir(env)).toBe(second);
    });

    it('makes a new one when the recorded name became a symlink, or its mode was widened', async () => {
      const first = await runtimeDir(env);
      await rm(first, { recursive: true });
      const elsewhere = await tempDir('ferry-elsewhere-');
      await symlink(elsewhere, first);
      const second = await runtimeDir(env);
      expect(second).not.toBe(first);
      await expectPrivate(second);
      await chmod(second, 0o755);
      const third = await runtimeDir(env);
      expect(third).not.toBe(second);
      await expectPrivate(third);
    });
  });
});

describe('runtimeDir with $XDG_RUNTIME_DIR', () => {
  it('is $XDG_RUNTIME_DIR/ferry, private', async () => {
    const xdg = path.join(base, 'xdg');
    await mkdir(xdg, { mode: 0o700 });
    expect(await runtimeDir({ ...env, XDG_RUNTIME_DIR: xdg })).toBe(path.join(xdg, 'ferry'));
    await expectPrivate(path.join(xdg, 'ferry'));
    await writeFile(path.join(xdg, 'ferry', 'x.sock'), '');
    expect(await runtimeDir({ ...env, XDG_RUNTIME_DIR: xdg })).toBe(path.join(xdg, 'ferry'));
  });
});
