/**
 * `ferry-server delete --database` (seed 3.4.2.3 for gateways sharing PostgreSQL), against a
 * real private PostgreSQL: refused while accounts exist or a node heartbeats (also when
 * either appears while the administrator confirms), confirmed as the directory delete is,
 * drops exactly what Ferry created (another application's tables in the same schema,
 * one even named ferry_*, survive with their rows; a view on a Ferry table refuses the
 * delete), all or nothing when killed before COMMIT, a node starting during the delete
 * cannot slip in, and init works again afterwards.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_SERVER, ferryServer, holdAt, killAt, tempDir, type CliResult } from '../support/cli.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';
import { until } from '../support/until.js';

const skip = postgresSkipReason();

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

describe.skipIf(skip)('ferry-server delete --database', () => {
  let pg: PostgresInstance;

  beforeAll(async () => {
    pg = await PostgresInstance.create();
  }, 60_000);

  afterAll(async () => {
    await pg?.destroy();
  });

  /** A database another application already uses, then a Ferry server in it (node "a"). */
  async function cluster(accounts: string[] = []) {
    const url = await pg.createDatabase();
    const db = new URL(url).pathname.slice(1);
    const dir = path.join(await tempDir(), 'node-a');
    await pg.sql(db, `CREATE TABLE app_notes (id integer PRIMARY KEY, note text); INSERT INTO app_notes VALUES (1, 'keep me')`);
    await pg.sql(db, `CREATE TABLE ferry_audit (id serial PRIMARY KEY, what text); INSERT INTO ferry_audit (what) VALUES ('not Ferry''s either')`);
    const before = await objects(db);
    const cli = (args: string[], extra: string[] = []) => ferryServer([...args, '--database', url, '--dir', dir, ...extra]);
    const init = await cli(['init', '--host', '198.18.1.1', '--subnet', '198.18.2.0/24', '--pool', '198.18.100.0/24', '--node', 'a', '--name', 'office gw']);
    expect(init.code, init.stderr).toBe(0);
    if (accounts.length > 0) expect((await cli(['client', 'add', ...accounts])).code).toBe(0);
    return { url, db, dir, cli, before };
  }

  /** Every relation, type and sequence in the database's public schema, by name and kind. */
  async function objects(db: string): Promise<string[]> {
    const rows = (await pg.sql(
      db,
      `SELECT 'rel ' || c.relkind::text || ' ' || c.relname::text AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
       UNION ALL SELECT 'type ' || t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public'
       ORDER BY 1`,
    )).rows as Array<{ o: string }>;
    return rows.map((r) => r.o);
  }

  /** Ferry's rows, as one comparable value. */
  async function dump(db: string): Promise<string> {
    const tables = ['ferry_schema', 'ferry_server', 'ferry_accounts', 'ferry_revocations', 'ferry_client_pairs', 'ferry_nodes', 'ferry_connections'];
    const parts = await Promise.all(tables.map(async (t) => JSON.stringify((await pg.sql(db, `SELECT * FROM ${t} ORDER BY 1`)).rows)));
    return parts.join('\n');
  }

  const foreignRows = async (db: string) => [
    ...(await pg.sql(db, 'SELECT note FROM app_notes')).rows.map((r) => r.note),
    ...(await pg.sql(db, 'SELECT what FROM ferry_audit')).rows.map((r) => r.what),
  ];

  it('refused while accounts exist, then while a node heartbeats; confirmed as the directory delete is; drops only Ferry\'s objects; init works again', async () => {
    const { url, db, dir, cli, before } = await cluster(['alice', 'bob']);
    const all = await dump(db);

    const accounts = await cli(['delete', '--yes']);
    expect(accounts.code).toBe(2);
    expect(accounts.stderr).toBe(
      'ferry-server: cannot delete SSL server "office gw": 2 SSL client accounts exist (alice, bob); delete them first with "ferry-server client delete ACCOUNT... --database URL"\n',
    );
    expect(await dump(db)).toBe(all);

    expect((await cli(['client', 'delete', 'alice', 'bob'])).code).toBe(0);
    // Node a runs (its claim and heartbeats, as "ferry-server run --node a" writes them).
    await pg.sql(db, `UPDATE ferry_nodes SET run_id = 'r1', pid = 4242, started_at = now(), last_seen = now() WHERE name = 'a'`);
    const settled = await dump(db);
    const running = await cli(['delete', '--yes']);
    expect(running.code).toBe(1);
    expect(running.stderr.trim()).toMatch(
      /^ferry-server: cannot delete SSL server "office gw": 1 node is running \("a" pid 4242 on 198\.18\.1\.1:1194, last heartbeat \d{4}-.*Z\); stop "ferry-server run --node NAME" on its host first, then run delete again$/,
    );
    expect(await dump(db)).toBe(settled);

    // Stopped long enough ago to count as down.
    await pg.sql(db, `UPDATE ferry_nodes SET last_seen = now() - interval '1 hour' WHERE name = 'a'`);
    const stopped = await dump(db);
    const noTerminal = await cli(['delete']);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.stderr).toBe('ferry-server: deleting SSL server "office gw" removes its CA and keys for good: confirm on a terminal, or pass --yes\n');
    const wrong = await onTerminal(['delete', '--database', url, '--dir', dir], 'y\n');
    expect(wrong.stdout).toMatch(/type the server name \("office gw"\) to confirm/);
    expect(wrong.stdout).toMatch(/not confirmed: nothing was deleted/);
    expect(wrong.code).toBe(2);
    expect(await dump(db)).toBe(stopped);

    const right = await onTerminal(['delete', '--database', url, '--dir', dir], 'office gw\n');
    expect(right.code, right.stdout).toBe(0);
    expect(right.stdout).toMatch(/deleted SSL server "office gw": dropped Ferry's tables \(ferry_connections, ferry_nodes, ferry_client_pairs, ferry_revocations, ferry_accounts, ferry_server, ferry_schema\) from schema public of PostgreSQL /);
    expect(right.stdout).toContain(`it remains on each gateway host (on this one ${path.join(dir, 'cluster.key')};`);
    expect(right.stdout).toContain(`(on this one ${dir}); nothing uses them any more: delete them on every host`);
    // Exactly what was there before init: the other application's tables, rows, sequence, types.
    expect(await objects(db)).toEqual(before);
    expect(await foreignRows(db)).toEqual(['keep me', "not Ferry's either"]);

    const again = await cli(['delete', '--yes']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^ferry-server: no Ferry server in PostgreSQL .*: nothing to delete\n$/);
    expect(await objects(db)).toEqual(before); // asking created nothing either
    // Any other command opening the database creates Ferry's tables, empty: delete drops them.
    expect((await cli(['client', 'list'])).code).toBe(2);
    expect(await objects(db)).not.toEqual(before);
    const empty = await cli(['delete', '--yes']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toMatch(/^dropped Ferry's empty tables \(ferry_connections, .*, ferry_schema\) from schema public of PostgreSQL .*: they held no SSL server/);
    expect(await objects(db)).toEqual(before);

    // The same URL takes a new server (the key file on this host is reused).
    const init = await cli(['init', '--host', '198.18.1.1', '--subnet', '198.18.2.0/24', '--pool', '198.18.100.0/24', '--node', 'a']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toMatch(/using the cluster key/);
    expect((await cli(['client', 'add', 'carol'])).code).toBe(0);
    expect(JSON.parse((await cli(['client', 'list', '--json'])).stdout).map((a: { account: string }) => a.account)).toEqual(['carol']);
    expect(await foreignRows(db)).toEqual(['keep me', "not Ferry's either"]);
  }, 120_000);

  it('killed before COMMIT (tables already dropped in its transaction) changes nothing; the next delete finishes', async () => {
    const { url, db, cli, before } = await cluster();
    const all = await dump(db);
    await killAt('delete-database:dropped', ['delete', '--yes', '--database', url, '--dir', path.join(await tempDir(), 'other')]);
    expect(await dump(db)).toBe(all);
    expect((await cli(['client', 'add', 'dave'])).code).toBe(0); // still a working server
    expect((await cli(['client', 'delete', 'dave'])).code).toBe(0);
    const done = await cli(['delete', '--yes']);
    expect(done.code, done.stderr).toBe(0);
    expect(await objects(db)).toEqual(before);
  }, 60_000);

  it('an account added or a node started while the administrator confirms keeps the server', async () => {
    const { db, url, cli } = await cluster();
    const dir = path.join(await tempDir(), 'other');
    const args = ['delete', '--yes', '--database', url, '--dir', dir];

    const held = await holdAt('delete-database:confirmed', args);
    expect((await cli(['client', 'add', 'erin'])).code).toBe(0);
    const withAccount = await dump(db);
    held.child.kill('SIGCONT');
    expect(await held.exited).toBe(2);
    expect(held.stderr()).toMatch(/cannot delete SSL server "office gw": 1 SSL client account exists \(erin\); delete it first/);
    expect(await dump(db)).toBe(withAccount);
    expect((await cli(['client', 'delete', 'erin'])).code).toBe(0);

    const held2 = await holdAt('delete-database:confirmed', args);
    await pg.sql(db, `UPDATE ferry_nodes SET run_id = 'r2', pid = 5151, started_at = now(), last_seen = now() WHERE name = 'a'`);
    const withNode = await dump(db);
    held2.child.kill('SIGCONT');
    expect(await held2.exited).toBe(1);
    expect(held2.stderr()).toMatch(/1 node is running \("a" pid 5151 on 198\.18\.1\.1:1194/);
    expect(await dump(db)).toBe(withNode);
  }, 60_000);

  it('a node starting while the delete holds its locks cannot slip in: its claim fails once the tables are gone', async () => {
    const { db, url, before } = await cluster();
    const held = await holdAt('delete-database:locked', ['delete', '--yes', '--database', url, '--dir', path.join(await tempDir(), 'other')]);
    // The claim "ferry-server run --node a" makes (server/cluster.ts), on its own connection.
    const claim = pg
      .sql(db, `UPDATE ferry_nodes SET run_id = 'r3', pid = 6161, started_at = now(), last_seen = now() WHERE name = 'a' AND (run_id IS NULL OR last_seen IS NULL OR last_seen < now() - interval '6 seconds')`)
      .then(() => 'claimed', (err: Error) => `failed: ${err.message}`);
    await until(
      async () => (await pg.sql(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE ferry_nodes%'`)).rows[0].n === 1,
      'the claim to wait for the delete\'s lock',
      10_000,
    );
    held.child.kill('SIGCONT');
    expect(await held.exited).toBe(0);
    expect(await claim).toMatch(/^failed: .*ferry_nodes/);
    expect(await objects(db)).toEqual(before);
  }, 60_000);

  it('another application\'s view on a Ferry table refuses the delete (never CASCADE) and changes nothing', async () => {
    const { db, cli } = await cluster();
    await pg.sql(db, `CREATE VIEW app_nodes AS SELECT name FROM ferry_nodes`);
    const all = await dump(db);
    const result = await cli(['delete', '--yes']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^ferry-server: cannot delete: objects that are not Ferry's depend on its tables \(view app_nodes depends on table ferry_nodes\); drop or change them first\. Nothing was deleted$/);
    expect(await dump(db)).toBe(all);
    expect((await pg.sql(db, 'SELECT name FROM app_nodes')).rows).toEqual([{ name: 'a' }]);
  }, 60_000);
});
