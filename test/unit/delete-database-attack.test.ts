/**
 * `ferry-server delete --database` (server/delete-database.ts) attacked against a real
 * PostgreSQL: writers already inside their transaction when the delete arrives, Ferry in a
 * schema with a quote in its name next to another application's look-alike tables, and the
 * delete's backend terminated after its DROP and before its COMMIT.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deleteDatabaseServer } from '../../server/delete-database.js';
import { FERRY_TABLES, PgStore, STATE_LOCK, validateNodeName } from '../../server/pg-store.js';
import { StateDir } from '../../server/store.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';
import { until } from '../support/until.js';

const skip = postgresSkipReason();

describe.skipIf(skip)('delete --database under attack (real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let url: string;
  let db: string;
  let dir: string;
  const stores: PgStore[] = [];
  const clients: pg.Client[] = [];

  const sql = (text: string, params: unknown[] = []) => pgi.sql(db, text, params);
  const open = () => {
    const s = new PgStore(url, new StateDir(dir), () => Promise.reject(new Error('no secrets needed')));
    stores.push(s);
    return s;
  };
  const connect = async () => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };
  /** Ferry's tables, schema-qualified, as they are now. */
  const ferryTables = async () =>
    (await sql(`SELECT n.nspname || '.' || c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relname LIKE 'ferry%' ORDER BY 1`)).rows.map((r) => r.t as string);
  /** The delete waiting for a lock (its LOCK TABLE or an advisory lock). */
  const deleteWaiting = async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).rowCount! > 0;

  async function seed(store: PgStore): Promise<void> {
    await store.migrate();
    await sql(
      `INSERT INTO ferry_server (id, settings, crl_number, ca_cert, ca_key, server_cert, server_key, token_secret, crl_pem) VALUES (1, $1, 0, '', '', '', '', '', 'CRL')`,
      [JSON.stringify({ name: 'gw' })],
    );
    await sql(`INSERT INTO ferry_nodes (name, host, port, slice, last_seen) VALUES ('a', '198.18.0.1', 1194, 0, now() - interval '1 minute')`);
  }

  beforeAll(async () => {
    pgi = await PostgresInstance.create();
  }, 60_000);
  afterAll(async () => {
    await pgi?.destroy();
  });
  beforeEach(async () => {
    url = await pgi.createDatabase();
    db = new URL(url).pathname.slice(1);
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-delete-attack-'));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => {});
    for (const s of stores.splice(0)) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a heartbeat written before the delete locked, committed after its first look, keeps the server', async () => {
    const store = open();
    await seed(store);
    const node = await connect();
    await node.query('BEGIN');
    await node.query(`UPDATE ferry_nodes SET last_seen = now(), pid = 4242 WHERE name = 'a'`);
    const deleting = deleteDatabaseServer(store, async () => {}).then(() => undefined, (err: Error) => err);
    await until(deleteWaiting, 'the delete waiting behind the heartbeat');
    await node.query('COMMIT');
    const err = await deleting;
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/1 node is running \("a" pid 4242/);
    expect(await ferryTables()).toHaveLength(FERRY_TABLES.length);
  });

  it('a client add inside its transaction when the delete arrives keeps the server', async () => {
    const store = open();
    await seed(store);
    const admin = await connect();
    await admin.query('BEGIN');
    await admin.query('SELECT pg_advisory_xact_lock($1)', [STATE_LOCK]);
    await admin.query(`INSERT INTO ferry_accounts (name, state, serial, key_type, created_at, not_after, bundle_revision) VALUES ('alice', 'active', 's1', 'ec', '', '', 1)`);
    const deleting = deleteDatabaseServer(store, async () => {}).then(() => undefined, (err: Error) => err);
    await until(deleteWaiting, 'the delete waiting behind client add');
    await admin.query('COMMIT');
    const err = await deleting;
    expect((err as Error).message).toMatch(/1 SSL client account exists \(alice\)/);
    expect(await ferryTables()).toHaveLength(FERRY_TABLES.length);
  });

  it('Ferry in a schema with a quote in its name: only its tables go, never look-alikes elsewhere or in it; init works again', async () => {
    await sql(`CREATE SCHEMA "fe""rry"`);
    await sql(`ALTER DATABASE "${db}" SET search_path = "fe""rry", public`);
    // Another application's: same names in public, and a ferry_-named table in Ferry's schema.
    await sql(`CREATE TABLE public.ferry_accounts (x int)`);
    await sql(`CREATE TABLE public.ferry_schema (version int)`);
    await sql(`CREATE TABLE "fe""rry".ferry_x (x int)`);
    const store = open();
    await seed(store);
    expect(await ferryTables()).toContain('fe"rry.ferry_server');
    const result = await deleteDatabaseServer(store, async () => {});
    expect(result.schema).toBe('fe"rry');
    expect(await ferryTables()).toEqual(['fe"rry.ferry_x', 'public.ferry_accounts', 'public.ferry_schema']);
    await store.close();
    // init --database again: the migrations create Ferry's tables where they were.
    await open().migrate();
    expect((await ferryTables()).filter((t) => t.startsWith('fe"rry.'))).toHaveLength(FERRY_TABLES.length + 1);
  });

  it('the delete\'s backend terminated after its DROP, before COMMIT: nothing is dropped, the error is clear, the next delete finishes', async () => {
    const store = open();
    await seed(store);
    // An event trigger holds the delete right after its DROP, inside its transaction.
    await sql(`CREATE FUNCTION hold_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_lock(777); PERFORM pg_advisory_unlock(777); END $$`);
    await sql(`CREATE EVENT TRIGGER hold_drop ON sql_drop EXECUTE FUNCTION hold_drop()`);
    const holder = await connect();
    await holder.query('SELECT pg_advisory_lock(777)');
    const deleting = deleteDatabaseServer(store, async () => {}).then(() => undefined, (err: Error) => err);
    await until(async () => (await sql(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 777 AND NOT granted`)).rowCount === 1, 'the delete held after its DROP');
    await sql(`SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objid = 777 AND NOT l.granted`);
    const err = await deleting;
    expect((err as Error).message).toMatch(/cannot reach the database/);
    expect(await ferryTables()).toHaveLength(FERRY_TABLES.length);
    await holder.query('SELECT pg_advisory_unlock(777)');
    await deleteDatabaseServer(store, async () => {});
    expect(await ferryTables()).toEqual([]);
  });

  it('node remove: a run of the node claiming it inside its transaction when the remove arrives is never removed from under it', async () => {
    const store = open();
    await store.migrate();
    await sql(
      `INSERT INTO ferry_server (id, settings, crl_number, ca_cert, ca_key, server_cert, server_key, token_secret, crl_pem) VALUES (1, $1, 0, '', '', '', '', '', 'CRL')`,
      [
        JSON.stringify({
          version: 1, name: 'gw', host: '198.18.0.1', port: 1194, proto: 'tcp', pool: '198.18.100.0/24', subnets: [], dns: [],
          cipher: 'AES-256-GCM', compress: false, twoFactor: false, maxClients: 2, keyType: 'ec', serverCommonName: 'gw', profileRevision: 1,
        }),
      ],
    );
    await sql(`INSERT INTO ferry_nodes (name, host, port, slice) VALUES ('a', '198.18.0.1', 1194, 0), ('b', '198.18.0.2', 1194, 1)`);
    const starting = await connect();
    await starting.query('BEGIN');
    await starting.query(`UPDATE ferry_nodes SET run_id = 'r', pid = 4242, last_seen = now() WHERE name = 'b'`);
    const removing = store.removeNode('b').then(() => undefined, (err: Error) => err);
    await until(deleteWaiting, 'the remove waiting behind the claim');
    await starting.query('COMMIT');
    const err = await removing;
    expect((err as Error).message).toMatch(/node "b" is running/);
    expect((await sql(`SELECT run_id FROM ferry_nodes WHERE name = 'b'`)).rows[0].run_id).toBe('r');
  });
});

describe('node names the administrator typed wrong', () => {
  it('are shown escaped and cut short: no terminal control sequence, no megabyte echoed back', () => {
    const shown = (name: string) => {
      try {
        validateNodeName(name);
      } catch (err) {
        return (err as Error).message;
      }
      throw new Error(`accepted ${name}`);
    };
    expect(shown('\u001b[2J\u001b]0;owned\u0007x')).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect(shown(`a"; DROP TABLE ferry_nodes; --`)).toMatch(/^node name "a\\"; DROP TABLE ferry_nodes; --" must be/);
    expect(shown('x'.repeat(1_000_000)).length).toBeLessThan(300);
    expect(shown('Office')).toMatch(/^node name "Office" must be 1-32 lower-case/);
  });
});
