/**
 * Deleting SSL clients (seed 3.4.3.2, 删除 SSL 客户端) from the command line: revoked for
 * good (the CRL keeps the serial), account, files and password hash removed, the name free
 * again; refusals that change nothing; a command killed right after its commit.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { addAccounts, ferryServer, initServer, killAt, snapshot, tempDir } from '../support/cli.js';

const run = promisify(execFile);

interface IndexFile {
  crlNumber: number;
  accounts: Array<{ name: string; serial: string; state: string; passwordHash?: string }>;
  revoked: Array<{ serial: string; account: string }>;
}

const readIndex = async (dir: string) => JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as IndexFile;

async function crlSerials(dir: string): Promise<string[]> {
  const { stdout } = await run('openssl', ['crl', '-in', path.join(dir, 'pki/crl.pem'), '-noout', '-text']);
  return [...stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase());
}

async function clientFiles(dir: string): Promise<string[]> {
  return (await readdir(path.join(dir, 'clients'))).sort();
}

describe('ferry-server client delete (seed 3.4.3.2)', () => {
  it('revokes, removes the account, its files and its password hash; the name can be added again with a new serial', async () => {
    const dir = await initServer();
    await addAccounts(dir, ['alice', 'bob']);
    const before = await readIndex(dir);
    const alice = before.accounts.find((a) => a.name === 'alice')!;
    expect(alice.passwordHash).toBeTruthy();
    expect(await clientFiles(dir)).toContain(`${alice.serial}.key`);

    const result = await ferryServer(['client', 'delete', '--dir', dir, 'alice']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^deleted alice: certificate in the CRL, account and files removed; gateway not running$/m);

    const after = await readIndex(dir);
    expect(after.accounts.map((a) => a.name)).toEqual(['bob']);
    expect(after.revoked.map((r) => r.serial)).toEqual([alice.serial]);
    expect(after.crlNumber).toBe(before.crlNumber + 1);
    expect(await readFile(path.join(dir, 'index.json'), 'utf8')).not.toContain(alice.passwordHash!);
    expect((await clientFiles(dir)).filter((f) => f.startsWith(alice.serial))).toEqual([]);
    expect(await crlSerials(dir)).toEqual([alice.serial]);
    const list = JSON.parse((await ferryServer(['client', 'list', '--dir', dir, '--json'])).stdout) as Array<{ account: string }>;
    expect(list.map((a) => a.account)).toEqual(['bob']);

    await addAccounts(dir, ['alice']);
    const again = await readIndex(dir);
    const fresh = again.accounts.find((a) => a.name === 'alice')!;
    expect(fresh.serial).not.toBe(alice.serial);
    expect(fresh.state).toBe('active');
    expect(await crlSerials(dir)).toEqual([alice.serial]); // the old certificate stays refused
    expect(await clientFiles(dir)).toEqual(again.accounts.flatMap((a) => [`${a.serial}.crt`, `${a.serial}.key`]).sort());
  });

  it('deletes an already-revoked account without listing its serial twice', async () => {
    const dir = await initServer();
    await addAccounts(dir, ['carol']);
    expect((await ferryServer(['client', 'revoke', '--dir', dir, 'carol'])).code).toBe(0);
    const revoked = await readIndex(dir);
    const result = await ferryServer(['client', 'delete', '--dir', dir, 'carol']);
    expect(result.code, result.stderr).toBe(0);
    const after = await readIndex(dir);
    expect(after.accounts).toEqual([]);
    expect(after.revoked).toEqual(revoked.revoked);
    expect(await crlSerials(dir)).toEqual([revoked.accounts[0]!.serial]);
    expect(await clientFiles(dir)).toEqual([]);
  });

  it('deletes several accounts in one command', async () => {
    const dir = await initServer(['--no-two-factor']);
    await addAccounts(dir, ['a1', 'a2', 'a3']);
    const before = await readIndex(dir);
    const result = await ferryServer(['client', 'delete', '--dir', dir, 'a1', 'A3']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^deleted a1: /), expect.stringMatching(/^deleted a3: /)]);
    const after = await readIndex(dir);
    expect(after.accounts.map((a) => a.name)).toEqual(['a2']);
    const gone = before.accounts.filter((a) => a.name !== 'a2').map((a) => a.serial);
    expect((await crlSerials(dir)).sort()).toEqual(gone.sort());
    expect(after.crlNumber).toBe(before.crlNumber + 1);
  });

  it.each([
    [['alice', 'nobody'], /^ferry-server: no account "nobody"; nothing was deleted \(see "ferry-server client list"\)\n$/],
    [['nobody', 'alice', 'ghost'], /no accounts "nobody", "ghost"; nothing was deleted/],
    [['alice', 'ALICE'], /account "ALICE" is listed twice/],
    [['bad name'], /account name "bad name" is not allowed/],
    [[], /name at least one account: ferry-server client delete ACCOUNT\.\.\./],
  ])('refuses %j with exit 2, one line, and deletes nothing', async (names, message) => {
    const dir = await initServer();
    await addAccounts(dir, ['alice']);
    const before = await snapshot(dir);
    const result = await ferryServer(['client', 'delete', '--dir', dir, ...names]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('refuses on a directory without a server', async () => {
    const dir = path.join(await tempDir(), 'nothing');
    const result = await ferryServer(['client', 'delete', '--dir', dir, 'alice']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no Ferry server in/);
    expect(existsSync(dir)).toBe(false);
  });

  it('10 concurrent deletes lose no revocation', async () => {
    const dir = await initServer(['--no-two-factor']);
    const names = Array.from({ length: 10 }, (_, i) => `u${i}`);
    await addAccounts(dir, names);
    const serials = (await readIndex(dir)).accounts.map((a) => a.serial).sort();
    const results = await Promise.all(names.map((name) => ferryServer(['client', 'delete', '--dir', dir, name])));
    expect(results.map((r) => r.code)).toEqual(names.map(() => 0));
    const after = await readIndex(dir);
    expect(after.accounts).toEqual([]);
    expect(after.revoked.map((r) => r.serial).sort()).toEqual(serials);
    expect((await crlSerials(dir)).sort()).toEqual(serials);
    expect(await clientFiles(dir)).toEqual([]);
  });

  it.each([
    ['client add of the same name', ['client', 'add', 'alice']],
    ['client delete of another account', ['client', 'delete', 'bob']],
  ])('killed right after its commit: the next command (%s) completes the CRL and removes the files', async (_label, next) => {
    const dir = await initServer();
    await addAccounts(dir, ['alice', 'bob']);
    const alice = (await readIndex(dir)).accounts.find((a) => a.name === 'alice')!;
    await killAt('client-delete:committed', ['client', 'delete', '--dir', dir, 'alice']);
    // The commit happened (the account is gone) but the CRL and the files were not done yet.
    expect((await readIndex(dir)).accounts.map((a) => a.name)).toEqual(['bob']);
    expect(await crlSerials(dir)).toEqual([]);
    expect(await clientFiles(dir)).toContain(`${alice.serial}.key`);

    const result = await ferryServer([...next.slice(0, 2), '--dir', dir, ...next.slice(2)]);
    expect(result.code, result.stderr).toBe(0);
    expect(await crlSerials(dir)).toContain(alice.serial);
    const index = await readIndex(dir);
    expect(index.revoked.map((r) => r.serial)).toContain(alice.serial);
    expect(await clientFiles(dir)).toEqual(index.accounts.flatMap((a) => [`${a.serial}.crt`, `${a.serial}.key`]).sort());
  });
});
