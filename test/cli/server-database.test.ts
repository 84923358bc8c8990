/**
 * `ferry-server --database`: the PostgreSQL store as commands see it (a private instance,
 * unix socket only). Bad input exits 2 and changes nothing; a command killed inside its
 * transaction leaves nothing half-written; a wrong key file and damaged rows are reported
 * in one clear line.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferryServer, holdAt, killAt, tempDir } from '../support/cli.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';

const skip = postgresSkipReason();

describe.skipIf(skip)('ferry-server --database', () => {
  let pg: PostgresInstance;
  let url: string;
  let db: string;
  let dir: string;
  const cli = (args: string[], extra: string[] = []) => ferryServer([...args, '--database', url, '--dir', dir, ...extra]);

  /** Everything a command could change, as one comparable value. */
  async function dump(): Promise<string> {
    const tables = ['ferry_server', 'ferry_accounts', 'ferry_revocations', 'ferry_client_pairs', 'ferry_nodes'];
    const parts = await Promise.all(tables.map(async (t) => JSON.stringify((await pg.sql(db, `SELECT * FROM ${t} ORDER BY 1`)).rows)));
    return parts.join('\n');
  }

  beforeAll(async () => {
    pg = await PostgresInstance.create();
    url = await pg.createDatabase();
    db = new URL(url).pathname.slice(1);
    dir = path.join(await tempDir(), 'node-a');
    const init = await cli(['init', '--host', '198.18.1.1', '--subnet', '198.18.2.0/24', '--pool', '198.18.100.0/24', '--node', 'a']);
    expect(init.code, init.stderr).toBe(0);
    expect((await cli(['client', 'add', 'alice', 'bob'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await pg?.destroy();
  });

  it.each([
    [['node', 'add', 'a', '--host', '198.18.4.1']],
    [['node', 'add', 'B', '--host', '198.18.4.1']],
    [['node', 'add', 'b', '--host', 'not a host']],
    [['node', 'add', 'b', '--host', '198.18.4.1:80']],
    [['node', 'add', 'b']],
    [['client', 'add', 'alice']],
    [['client', 'revoke', 'nobody']],
    [['set', '--port', '99999']],
    [['init', '--host', '198.18.1.1', '--subnet', '198.18.2.0/24']],
    [['run', '--node', 'Bad Name!']],
  ])('refuses %j with exit 2, one line, and changes nothing', async (args) => {
    const before = await dump();
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await dump()).toBe(before);
  });

  it('refuses a URL that is not postgres:// with exit 2', async () => {
    const result = await ferryServer(['client', 'list', '--database', 'mysql://x/y', '--dir', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--database must be a postgres:\/\/ or postgresql:\/\/ URL/);
  });

  it('an unreachable database is one clear line, exit 1', async () => {
    const result = await ferryServer(['client', 'list', '--database', `postgresql://ferry@${encodeURIComponent('/nonexistent')}/x`, '--dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^ferry-server: cannot reach the database \(PostgreSQL \/nonexistent\/x\): /);
  });

  it('another host with the wrong key file cannot open the secrets; a loose key file is refused', async () => {
    const other = path.join(await tempDir(), 'node-b');
    await mkdir(other, { recursive: true, mode: 0o700 });
    await writeFile(path.join(other, 'cluster.key'), `ferry-cluster-key v1 ${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
    const wrong = await ferryServer(['client', 'add', 'carol', '--database', url, '--dir', other]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/the database's ca_key does not open with the key in .*cluster\.key: the wrong key file for this database/);
    await copyFile(path.join(dir, 'cluster.key'), path.join(other, 'loose.key'));
    const { chmod } = await import('node:fs/promises');
    await chmod(path.join(other, 'loose.key'), 0o644);
    const loose = await ferryServer(['client', 'add', 'carol', '--database', url, '--dir', other, '--key-file', path.join(other, 'loose.key')]);
    expect(loose.code).toBe(2);
    expect(loose.stderr).toMatch(/readable by others \(mode 644\); chmod 600 it/);
    expect((await cli(['client', 'list', '--json'])).stdout).not.toMatch(/carol/);
  });

  it('a command killed inside its transaction changes nothing', async () => {
    const before = await dump();
    await killAt('client-delete:committed', ['client', 'delete', 'bob', '--database', url, '--dir', dir]);
    expect(await dump()).toBe(before);
    // And the database dying under a held transaction: the command fails, nothing changes.
    const held = await holdAt('client-delete:committed', ['client', 'delete', 'bob', '--database', url, '--dir', dir]);
    await pg.stop('immediate');
    held.child.kill('SIGCONT');
    expect(await held.exited).toBe(1);
    await pg.start();
    expect(await dump()).toBe(before);
    expect(JSON.parse((await cli(['client', 'list', '--json'])).stdout).map((a: { account: string }) => a.account)).toEqual(['alice', 'bob']);
  }, 60_000);

  it('node remove: refused while the node heartbeats; once down its pool slice and clients rows are released, bundles stale', async () => {
    const nodes = async () => JSON.parse((await cli(['node', 'list', '--json'])).stdout) as Array<{ name: string; pool: string; up: boolean }>;
    expect((await cli(['node', 'add', 'b', '--host', '198.18.4.1'])).code).toBe(0);
    const poolOfB = (await nodes()).find((n) => n.name === 'b')!.pool;
    // b runs (as "ferry-server run --node b" would show in the database): a fresh heartbeat, a client.
    await pg.sql(db, `UPDATE ferry_nodes SET run_id = 'r1', pid = 4242, started_at = now(), last_seen = now() WHERE name = 'b'`);
    await pg.sql(db, `INSERT INTO ferry_connections (node, cid, account, established) VALUES ('b', '7', 'alice', true)`);
    const running = await cli(['node', 'remove', 'b']);
    expect(running.code).toBe(1);
    expect(running.stderr.trim()).toMatch(/^ferry-server: node "b" is running \(pid 4242, last heartbeat .*\): stop "ferry-server run --node b" on its host first, then remove it$/);
    expect((await nodes()).map((n) => n.name)).toEqual(['a', 'b']);

    // b stopped long enough ago to count as down: removed, its client row and slice released.
    await pg.sql(db, `UPDATE ferry_nodes SET last_seen = now() - interval '1 hour' WHERE name = 'b'`);
    const removed = await cli(['node', 'remove', 'b']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/node "b" removed: client addresses 198\.18\.100\.\d+\/26 released, 1 client record dropped/);
    expect(removed.stdout).toMatch(/bundles no longer list this node; these accounts must download theirs again: alice, bob/);
    expect((await nodes()).map((n) => n.name)).toEqual(['a']);
    expect((await pg.sql(db, `SELECT count(*)::int AS n FROM ferry_connections WHERE node = 'b'`)).rows[0].n).toBe(0);
    // The slice is free again: the next node gets it.
    expect((await cli(['node', 'add', 'c', '--host', '198.18.6.1'])).code).toBe(0);
    expect((await nodes()).find((n) => n.name === 'c')!.pool).toBe(poolOfB);
    expect((await cli(['node', 'remove', 'c'])).code).toBe(0);

    const unknown = await cli(['node', 'remove', 'zz']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no node "zz" \(nodes: a\)/);
    const last = await cli(['node', 'remove', 'a']);
    expect(last.code).toBe(2);
    expect(last.stderr).toMatch(/node "a" is the only node/);
    expect((await nodes()).map((n) => n.name)).toEqual(['a']);
  }, 60_000);

  it('damaged rows are reported, not crashed on', async () => {
    await pg.sql(db, `UPDATE ferry_server SET settings = jsonb_set(settings, '{port}', '"not a number"')`);
    try {
      const result = await cli(['client', 'list']);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(/^ferry-server: the database's settings are damaged: port: .*restore the database from a backup$/);
    } finally {
      await pg.sql(db, `UPDATE ferry_server SET settings = jsonb_set(settings, '{port}', '1194')`);
    }
    await pg.sql(db, `UPDATE ferry_server SET token_secret = 'sealed:v1:AAAA'`);
    const run = await cli(['config']); // config needs no secret: still works
    expect(run.code).toBe(0);
  });
});
