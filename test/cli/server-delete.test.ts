/**
 * Deleting the SSL server (seed 3.4.2.3, 删除 SSL 服务端) from the command line: refused
 * while SSL clients exist, confirmed on a terminal or with --yes, nothing outside the state
 * directory touched (links are unlinked, never followed), killed half-way and finished by
 * the next delete, and a racing client add.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addAccounts, FERRY_SERVER, ferryServer, holdAt, initServer, killAt, snapshot, tempDir, type CliResult } from '../support/cli.js';

const clientFiles = async (dir: string) => (await readdir(path.join(dir, 'clients'))).sort();

/** Runs ferry-server on a pseudo-terminal (util-linux `script`), typing `typed` at it. */
async function onTerminal(args: string[], typed: string): Promise<CliResult> {
  const command = [process.execPath, FERRY_SERVER, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    const child = execFile('script', ['-qec', command, '/dev/null'], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(typed);
  });
}

describe('ferry-server delete (seed 3.4.2.3)', () => {
  it('refuses while SSL clients exist, naming them (revoked ones too), and changes nothing', async () => {
    const dir = await initServer();
    await addAccounts(dir, ['alice', 'bob']);
    await ferryServer(['client', 'revoke', '--dir', dir, 'bob']);
    const before = await snapshot(dir);
    const result = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^ferry-server: cannot delete SSL server "ferry": 2 SSL client accounts exist \(alice, bob\); delete them first with "ferry-server client delete ACCOUNT\.\.\."\n$/,
    );
    expect(await snapshot(dir)).toEqual(before);
  });

  it('without a terminal it needs --yes, and changes nothing', async () => {
    const dir = await initServer();
    const before = await snapshot(dir);
    const result = await ferryServer(['delete', '--dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ferry-server: deleting SSL server "ferry" removes its CA and keys for good: confirm on a terminal, or pass --yes\n$/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('with --yes removes the whole state directory once its accounts are deleted', async () => {
    const dir = await initServer();
    await addAccounts(dir, ['alice']);
    expect((await ferryServer(['client', 'delete', '--dir', dir, 'alice'])).code).toBe(0);
    const result = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^deleted SSL server "ferry": removed .*state; gateway not running$/m);
    expect(existsSync(dir)).toBe(false);
    const again = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/no Ferry server in/);
  });

  it('on a terminal asks for the server name: a wrong answer deletes nothing, the name deletes', async () => {
    const dir = await initServer(['--name', 'office gw']);
    const before = await snapshot(dir);
    const wrong = await onTerminal(['delete', '--dir', dir], 'y\n');
    expect(wrong.stdout).toMatch(/type the server name \("office gw"\) to confirm/);
    expect(wrong.stdout).toMatch(/not confirmed: nothing was deleted/);
    expect(wrong.code).toBe(2);
    expect(await snapshot(dir)).toEqual(before);
    const right = await onTerminal(['delete', '--dir', dir], 'office gw\n');
    expect(right.code, right.stdout).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('never follows a link out of the state directory: links are removed, their targets survive', async () => {
    const dir = await initServer();
    const outside = await tempDir('ferry-outside-');
    await writeFile(path.join(outside, 'precious'), 'keep me');
    await mkdir(path.join(outside, 'run'));
    for (const name of ['server.conf', 'control.sock', 'management.sock']) await writeFile(path.join(outside, 'run', name), 'keep me too');
    // Links placed where ferry-server's own files and folders live.
    await symlink(path.join(outside, 'precious'), path.join(dir, 'clients', '4abc.key'));
    await rm(path.join(dir, 'pki', 'crl.json'));
    await symlink(path.join(outside, 'precious'), path.join(dir, 'pki', 'crl.json'));
    await rm(path.join(dir, 'run'), { recursive: true });
    await symlink(path.join(outside, 'run'), path.join(dir, 'run'));

    const result = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(await readFile(path.join(outside, 'precious'), 'utf8')).toBe('keep me');
    expect((await readdir(path.join(outside, 'run'))).sort()).toEqual(['control.sock', 'management.sock', 'server.conf']);
  });

  it.each([
    ['a link to a folder outside', async (dir: string, outside: string) => symlink(outside, path.join(dir, 'backup'))],
    ['a file of its own', async (dir: string) => writeFile(path.join(dir, 'pki', 'notes.txt'), 'mine')],
    ['a folder where a key belongs', async (dir: string) => mkdir(path.join(dir, 'clients', '4abc.key'))],
  ])('refuses when the directory holds something ferry-server did not make (%s), and changes nothing', async (_label, plant) => {
    const dir = await initServer();
    const outside = await tempDir('ferry-outside-');
    await writeFile(path.join(outside, 'precious'), 'keep me');
    await plant(dir, outside);
    const before = await snapshot(dir);
    const result = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^ferry-server: .* holds what ferry-server did not create \((backup|pki\/notes\.txt|clients\/4abc\.key)\); move it out of the directory, then run delete again\n$/);
    expect(await snapshot(dir)).toEqual(before);
    expect(await readFile(path.join(outside, 'precious'), 'utf8')).toBe('keep me');
  });

  it.each(['delete:committed', 'delete:removing', 'delete:unmarked'])('killed at %s: other commands say so, and the next delete completes it', async (point) => {
    const dir = await initServer();
    await killAt(point, ['delete', '--dir', dir, '--yes']);
    expect(existsSync(dir)).toBe(true);
    expect(existsSync(path.join(dir, 'settings.json'))).toBe(false); // the commit point is passed
    if (point !== 'delete:unmarked') {
      for (const args of [['client', 'add', 'alice'], ['status'], ['init', '--host', '198.18.1.1', '--subnet', '198.18.2.0/24']]) {
        const other = await ferryServer([...args, '--dir', dir]);
        expect(other.code, args.join(' ')).toBe(2);
        expect(other.stderr).toMatch(/the SSL server in .* was being deleted when that command was stopped; finish with "ferry-server delete"/);
      }
    }
    const next = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(next.code, next.stderr).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it('a client add racing the delete cannot bring accounts back: it fails, and nothing is recreated', async () => {
    const dir = await initServer();
    // The add stops after writing its key and certificate, before taking the lock to commit.
    const add = await holdAt('client-add:issued', ['client', 'add', '--dir', dir, 'late']);
    expect((await clientFiles(dir)).length).toBe(2);
    const deleted = await ferryServer(['delete', '--dir', dir, '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(existsSync(dir)).toBe(false);
    add.child.kill('SIGCONT');
    expect(await add.exited).toBe(1);
    expect(add.stderr()).toMatch(/the SSL server in .* was deleted while this command ran/);
    expect(existsSync(dir)).toBe(false);
  });
});
