/**
 * `ferry-server delete --database URL` (seed 3.4.2.3, 删除 SSL 服务端, for gateways sharing
 * PostgreSQL): refused while any SSL client account exists or any node heartbeats;
 * otherwise, once confirmed as the directory delete is, drops every table Ferry created
 * (FERRY_TABLES: their indexes, sequence and row types go with them) in ONE transaction, so
 * a crash or a lost connection leaves everything or nothing. Nothing else in the database
 * is touched: the tables are named one by one in the schema that holds ferry_schema, and
 * never with CASCADE (another application's view or foreign key on them refuses the delete).
 *
 * Everything here runs on a connection of its own, never through PgStore.query: that would
 * run the migrations first and create the very tables this drops.
 *
 * The checks are repeated inside the transaction under the advisory locks of the commands
 * (STATE_LOCK: client add, node add/remove; ADMISSION_LOCK: admissions; MIGRATION_LOCK: a
 * store opening) and with every Ferry table locked ACCESS EXCLUSIVE. A node's claim and
 * heartbeat write ferry_nodes, so once the lock is held none of them can commit until the
 * tables are gone (they then fail), and every one that committed before is seen.
 */
import pg from 'pg';
import type { Io } from '../core/util/cli-main.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { confirmByName } from './delete.js';
import { ADMISSION_LOCK, FERRY_TABLES, MIGRATION_LOCK, NODE_DEAD_AFTER_S, SCHEMA_VERSION, STATE_LOCK, type PgStore } from './pg-store.js';
import { testHold } from './test-hold.js';

/** How long the delete waits for a command or node holding the database before giving up (it changes nothing then). */
const LOCK_WAIT = '60s';

interface Found {
  /** The schema holding Ferry's tables. */
  schema: string;
  /** Those of FERRY_TABLES that exist there. */
  tables: string[];
  /** The server's name; the database's when its tables hold no server (a command opened an empty database). */
  name: string;
  server: boolean;
  accounts: string[];
  running: Array<{ name: string; host: string; port: number; pid: number | null; lastSeen: string }>;
}

export interface DatabaseDeleteResult {
  name: string;
  /** False when the tables held no server (only what any command creates on opening a database). */
  server: boolean;
  schema: string;
  tables: string[];
}

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;

/** `confirm` is asked once nothing refuses the deletion; it throws to refuse. */
export async function deleteDatabaseServer(store: PgStore, confirm: (serverName: string) => Promise<void>): Promise<DatabaseDeleteResult> {
  const client = store.newClient();
  client.on('error', () => {}); // a dropped connection fails the pending query, which says why
  try {
    await client.connect();
  } catch (err) {
    throw store.wrap(err);
  }
  const q = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    try {
      return await client.query<R>(sql, params);
    } catch (err) {
      throw explain(store, err);
    }
  };
  try {
    const first = await inspect(store, q);
    refuseIfInUse(first);
    // No transaction is open while the administrator types: nothing is locked meanwhile.
    await confirm(first.name);
    testHold('delete-database:confirmed');
    await q('BEGIN');
    try {
      await q(`SET LOCAL lock_timeout = '${LOCK_WAIT}'`);
      for (const lock of [MIGRATION_LOCK, STATE_LOCK, ADMISSION_LOCK]) await q('SELECT pg_advisory_xact_lock($1)', [lock]);
      const qualified = first.tables.map((t) => `${quote(first.schema)}.${quote(t)}`);
      await q(`LOCK TABLE ${qualified.join(', ')} IN ACCESS EXCLUSIVE MODE`);
      // Again under the locks: an account added or a node started meanwhile keeps the server.
      const now = await inspect(store, q);
      if (now.name !== first.name || now.server !== first.server || now.schema !== first.schema || now.tables.join() !== first.tables.join()) {
        throw new InputError(`the SSL server in ${store.where} changed while you confirmed; nothing was deleted`);
      }
      refuseIfInUse(now);
      testHold('delete-database:locked');
      await q(`DROP TABLE ${qualified.join(', ')}`); // never CASCADE: only Ferry's objects go
      testHold('delete-database:dropped');
      await q('COMMIT'); // the commit point
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
    return { name: first.name, server: first.server, schema: first.schema, tables: first.tables };
  } finally {
    await client.end().catch(() => {});
  }
}

/** What the database holds of Ferry's, read without creating anything. */
async function inspect(store: PgStore, q: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>): Promise<Found> {
  // ferry_schema as the store finds it (search_path): its schema is where the rest lives.
  const home = (await q<{ schema: string | null; oid: number | null }>(
    `SELECT n.nspname AS schema, n.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('ferry_schema')`,
  )).rows[0];
  if (!home?.schema) throw new InputError(`no Ferry server in ${store.where}: nothing to delete`);
  const schema = home.schema;
  const present = new Set(
    (await q<{ relname: string }>(`SELECT relname FROM pg_class WHERE relnamespace = $1 AND relkind IN ('r', 'p') AND relname = ANY($2::text[])`, [home.oid, [...FERRY_TABLES]])).rows.map((r) => r.relname),
  );
  const tables = FERRY_TABLES.filter((t) => present.has(t));
  const at = (t: string) => `${quote(schema)}.${quote(t)}`;
  const version = Number((await q<{ v: number }>(`SELECT max(version) AS v FROM ${at('ferry_schema')}`)).rows[0]?.v ?? 0);
  if (version > SCHEMA_VERSION) {
    // A newer ferry-server may have created objects this one does not know.
    throw new InputError(`the database (${store.where}) has schema version ${version}, newer than this ferry-server knows (${SCHEMA_VERSION}); delete it with that newer ferry-server`);
  }
  const row = present.has('ferry_server') ? (await q<{ name: unknown }>(`SELECT settings->>'name' AS name FROM ${at('ferry_server')} WHERE id = 1`)).rows[0] : undefined;
  const name = typeof row?.name === 'string' && row.name ? row.name : (await q<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
  const accounts = present.has('ferry_accounts') ? (await q<{ name: string }>(`SELECT name FROM ${at('ferry_accounts')} ORDER BY name`)).rows.map((r) => r.name) : [];
  const running = present.has('ferry_nodes')
    ? (await q<{ name: string; host: string; port: number; pid: number | null; last_seen: Date }>(
        `SELECT name, host, port, pid, last_seen FROM ${at('ferry_nodes')}
         WHERE last_seen IS NOT NULL AND last_seen > now() - make_interval(secs => $1) ORDER BY name`,
        [NODE_DEAD_AFTER_S],
      )).rows.map((r) => ({ name: r.name, host: r.host, port: r.port, pid: r.pid, lastSeen: new Date(r.last_seen).toISOString() }))
    : [];
  return { schema, tables, name, server: typeof row?.name === 'string' && row.name !== '', accounts, running };
}

/** Accounts (revoked ones too) keep the server, as in the directory delete; so does a running node. */
function refuseIfInUse(found: Found): void {
  const { name, accounts, running } = found;
  if (accounts.length > 0) {
    const shown = accounts.slice(0, 10).join(', ') + (accounts.length > 10 ? `, and ${accounts.length - 10} more` : '');
    const count = accounts.length === 1 ? '1 SSL client account exists' : `${accounts.length} SSL client accounts exist`;
    throw new InputError(`cannot delete SSL server "${name}": ${count} (${shown}); delete ${accounts.length === 1 ? 'it' : 'them'} first with "ferry-server client delete ACCOUNT... --database URL"`);
  }
  if (running.length > 0) {
    const shown = running.map((n) => `"${n.name}" pid ${n.pid ?? '?'} on ${n.host}:${n.port}, last heartbeat ${n.lastSeen}`).join('; ');
    const count = running.length === 1 ? '1 node is running' : `${running.length} nodes are running`;
    throw new FerryError(`cannot delete SSL server "${name}": ${count} (${shown}); stop "ferry-server run --node NAME" on ${running.length === 1 ? 'its host' : 'each of their hosts'} first, then run delete again`);
  }
}

/** Database errors as the administrator can act on them; the transaction is rolled back, so nothing changed. */
function explain(store: PgStore, err: unknown): Error {
  const e = err as Error & { code?: string; detail?: string };
  if (e.code === '2BP01') {
    // Another application's view, foreign key or function depends on a Ferry table.
    const detail = (e.detail ?? e.message).split('\n').join('; ');
    return new InputError(`cannot delete: objects that are not Ferry's depend on its tables (${detail}); drop or change them first. Nothing was deleted`);
  }
  if (e.code === '55P03') {
    return new FerryError(`another ferry-server command or node held ${store.where} for ${LOCK_WAIT}; nothing was deleted: try again once it is done`);
  }
  return store.wrap(err);
}

/** The CLI's part: the confirmation (as the directory delete asks it) and the report. */
export async function deleteDatabaseCommand(store: PgStore, keyFile: string, yes: boolean, io: Io): Promise<void> {
  const result = await deleteDatabaseServer(store, (name) => confirmByName(name, `everything Ferry keeps in ${store.where} (CA, keys, CRL, nodes)`, yes));
  if (!result.server) {
    io.out(`dropped Ferry's empty tables (${result.tables.join(', ')}) from schema ${result.schema} of ${store.where}: they held no SSL server; nothing else in the database was touched`);
    return;
  }
  io.out(`deleted SSL server "${result.name}": dropped Ferry's tables (${result.tables.join(', ')}) from schema ${result.schema} of ${store.where}; nothing else in the database was touched`);
  io.out(
    `the cluster key file is not in the database: it remains on each gateway host (on this one ${keyFile}; on the others where their --key-file or FERRY_SERVER_KEY_FILE points, by default STATE_DIR/cluster.key), ` +
      `as do the gateway files in each host's state directory (on this one ${store.local.dir}); nothing uses them any more: delete them on every host`,
  );
}
