/** A full disk: the command fails with a clear message and the state stays consistent. */
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferryServer, snapshot, tempDir } from '../support/cli.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === 'true') throw new Error('the full-disk test needs root (to mount a small tmpfs) and CI runs as root');

describe.skipIf(!isRoot)('ferry-server on a full disk', () => {
  let mount: string;

  beforeAll(async () => {
    mount = path.join(await tempDir(), 'small');
    await mkdir(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160k,mode=0700', 'tmpfs', mount]);
  });

  afterAll(() => {
    if (mount) execFileSync('umount', [mount]);
  });

  it('refuses with "disk full", commits nothing, and leaves no temp files', async () => {
    const dir = path.join(mount, 'state');
    const init = await ferryServer(['init', '--dir', dir, '--host', 'gw', '--subnet', '198.18.2.0/24', '--no-two-factor']);
    expect(init.code, init.stderr).toBe(0);
    const before = await snapshot(dir);
    const names = Array.from({ length: 40 }, (_, i) => `u${i}`);
    const result = await ferryServer(['client', 'add', '--dir', dir, ...names]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ferry-server: disk full while writing .*; free some space and run the command again\n$/);
    // Nothing changed on disk: no account committed, the files it had written taken back.
    expect(await snapshot(dir)).toEqual(before);
    const list = await ferryServer(['client', 'list', '--dir', dir, '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);
    // And with the space back, a request that fits succeeds.
    const few = await ferryServer(['client', 'add', '--dir', dir, 'u1', 'u2']);
    expect(few.code, few.stderr).toBe(0);
  });
});
