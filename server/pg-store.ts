/**
 * The state store for several gateways: everything they share in PostgreSQL (settings,
 * CA and server certificates, accounts and password hashes, revocations and the CRL, rate
 * limits, the token secret, the nodes and who is connected where). Secrets are sealed with
 * the cluster key file (server/secret-box.ts) and never stored in the clear.
 *
 * withLock() is a transaction holding an advisory lock: the read-modify-write of every
 * command (written for the state directory's index.json) becomes one transaction, its
 * COMMIT the commit point. Migrations run when a store opens.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { z } from 'zod';
import { FerryError, InputError } from '../core/util/errors.js';
import { isDialableHost, parseIpv4Cidr, type Ipv4Network } from './net.js';
import type { CertificateAuthority } from './pki.js';
import type { SecretBox } from './secret-box.js';
import { SettingsSchema, type Settings } from './settings.js';
import { AccountSchema, deriveCrl, ORPHAN_AGE_MS, type CrlMeta, type Index, type PkiMaterial, type StateDir, type StateStore } from './store.js';

/** Advisory lock keys (any constants of our own). */
export const STATE_LOCK = 0x6665_7272; // 'ferr'
export const ADMISSION_LOCK = 0x6164_6d74; // 'admt'
export const MIGRATION_LOCK = 0x6d69_6772; // 'migr'
export const EVENTS_CHANNEL = 'ferry_events';

/** A node whose heartbeat is older than this is down; its clients no longer count. */
export const NODE_DEAD_AFTER_S = 6;
/** The client pool is split into this many slices, one per node (pool prefix + 2). */
export const NODE_SLICES = 4;
/** Connections of the store's shared pool (commands, admissions, the gateway's reads). */
export const STORE_POOL_SIZE = 4;

const MIGRATIONS: string[] = [
  `CREATE TABLE ferry_server (
     id integer PRIMARY KEY CHECK (id = 1),
     settings jsonb NOT NULL,
     crl_number integer NOT NULL CHECK (crl_number >= 0),
     ca_cert text NOT NULL,
     ca_key text NOT NULL,
     server_cert text NOT NULL,
     server_key text NOT NULL,
     token_secret text NOT NULL,
     crl_pem text,
     crl_built_number integer,
     crl_next_update text,
     crl_entries integer
   );
   CREATE TABLE ferry_accounts (
     name text PRIMARY KEY,
     state text NOT NULL CHECK (state IN ('active', 'revoked')),
     serial text NOT NULL UNIQUE,
     key_type text NOT NULL,
     created_at text NOT NULL,
     not_after text NOT NULL,
     revoked_at text,
     password_hash text,
     rate_limit_mbps double precision,
     bundle_revision integer NOT NULL
   );
   CREATE UNIQUE INDEX ferry_accounts_lower_name ON ferry_accounts (lower(name));
   CREATE TABLE ferry_revocations (serial text PRIMARY KEY, account text NOT NULL, revoked_at text NOT NULL, seq bigserial);
   CREATE TABLE ferry_client_pairs (serial text PRIMARY KEY, cert_pem text NOT NULL, key_sealed text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
   CREATE TABLE ferry_nodes (
     name text PRIMARY KEY,
     host text NOT NULL,
     port integer NOT NULL,
     slice integer NOT NULL UNIQUE,
     added_at timestamptz NOT NULL DEFAULT now(),
     run_id text,
     pid integer,
     started_at timestamptz,
     last_seen timestamptz
   );
   CREATE TABLE ferry_connections (
     node text NOT NULL REFERENCES ferry_nodes (name) ON DELETE CASCADE,
     cid text NOT NULL,
     account text NOT NULL,
     admitted_at timestamptz NOT NULL DEFAULT now(),
     established boolean NOT NULL DEFAULT false,
     real_address text,
     virtual_address text,
     bytes_in bigint NOT NULL DEFAULT 0,
     bytes_out bigint NOT NULL DEFAULT 0,
     connected_since timestamptz,
     PRIMARY KEY (node, cid)
   );`,
];

/** How many migrations this ferry-server knows: a database at a higher version was written by a newer one. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Every table Ferry creates (runMigrations' ferry_schema, then MIGRATIONS), in the order
 * they may be dropped. Their indexes, the bigserial's sequence and the tables' row types go
 * with them. `ferry-server delete --database` drops exactly these and nothing else: a
 * migration that creates an object must add it here (test/cli/server-database-delete.test.ts
 * checks that a delete leaves the schema as it was before init).
 */
export const FERRY_TABLES = ['ferry_connections', 'ferry_nodes', 'ferry_client_pairs', 'ferry_revocations', 'ferry_accounts', 'ferry_server', 'ferry_schema'] as const;

export interface NodeRow {
  name: string;
  host: string;
  port: number;
  slice: number;
  /** When `node add` made it, exact (the database's text): a node removed and added again under its name is another node. */
  addedAt: string;
  runId: string | null;
  pid: number | null;
  startedAt: string | null;
  lastSeen: string | null;
  /** Heartbeat fresh (per the database's clock). */
  up: boolean;
}

export interface ConnectionRow {
  node: string;
  cid: string;
  account: string;
  established: boolean;
  realAddress: string;
  virtualAddress: string;
  bytesReceived: number;
  bytesSent: number;
  connectedSince: string;
}

/**
 * What travels on EVENTS_CHANNEL. Any role that can connect to the database may NOTIFY it,
 * so a node validates every payload and treats a valid one only as a hint to re-check the
 * database (server/cluster.ts), never as an order.
 */
export const ClusterEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('kill'), account: z.string().min(1).max(64) }),
  z.object({ type: z.literal('crl') }),
  z.object({ type: z.literal('limits') }),
]);
export type ClusterEvent = z.infer<typeof ClusterEventSchema>;

const NODE_NAME_RE = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function validateNodeName(name: string): void {
  if (NODE_NAME_RE.test(name)) return;
  // Shown escaped (JSON) and cut short: whatever was typed or pasted, no control sequence
  // reaches the terminal and no megabyte is echoed back.
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
  throw new InputError(`node name ${shown} must be 1-32 lower-case letters, digits or dashes, starting with a letter or digit`);
}

/** HOST[:PORT] (an IPv6 literal in brackets); the port defaults to the server's. */
export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  if (!m || !host || !isDialableHost(host)) throw new InputError(`--host "${text}" is not HOST or HOST:PORT that clients can dial`);
  const port = m[3] === undefined ? defaultPort : Number(m[3]);
  if (port < 1024 || port > 49151) throw new InputError(`--host "${text}": port ${port} is out of range: choose a port from 1024 to 49151`);
  return { host, port };
}

/** The slice of the client pool node `slice` hands out (pool prefix + 2). */
export function poolSlice(pool: string, slice: number): Ipv4Network {
  const net = parseIpv4Cidr(pool, 'client address pool');
  const prefix = net.prefix + 2;
  const base = net.address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const start = base + slice * 2 ** (32 - prefix);
  const address = [24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256).join('.');
  return parseIpv4Cidr(`${address}/${prefix}`, 'pool slice');
}

/** postgres://… or postgresql://…; anything else is refused before any connection. */
export function checkDatabaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError('--database must be a postgres:// or postgresql:// URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') throw new InputError('--database must be a postgres:// or postgresql:// URL');
}

/** The database as messages name it: no password, no query string. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    const host = decodeURIComponent(u.hostname) || u.searchParams.get('host') || 'localhost';
    return `PostgreSQL ${host}${u.port ? `:${u.port}` : ''}${u.pathname || ''}`;
  } catch {
    return 'PostgreSQL';
  }
}

type Queryable = pg.Pool | pg.PoolClient;

export class PgStore implements StateStore {
  readonly kind = 'database' as const;
  readonly where: string;
  private readonly pool: pg.Pool;
  /**
   * The cluster node's own connections (heartbeat, catch-up, CRL): a burst of admissions,
   * each holding a pooled connection while it waits for the admission lock, must never make
   * a heartbeat wait for a connection past its timeout and report the database unreachable.
   */
  private readonly nodePool: pg.Pool;
  /** Which pool the current async context's queries and transactions use (see ownConnections()). */
  private readonly lane = new AsyncLocalStorage<pg.Pool>();
  /** The transaction's client, and its queue: pg wants one query at a time per client. */
  private readonly tx = new AsyncLocalStorage<{ client: pg.PoolClient; queue: Promise<unknown> }>();
  private migrated?: Promise<void>;

  constructor(
    readonly url: string,
    readonly local: StateDir,
    private readonly box: () => Promise<SecretBox>,
  ) {
    checkDatabaseUrl(url);
    this.where = describeDatabase(url);
    const options = { connectionString: url, connectionTimeoutMillis: 3_000, query_timeout: 5_000, idleTimeoutMillis: 10_000, allowExitOnIdle: true };
    this.pool = new pg.Pool({ ...options, max: STORE_POOL_SIZE });
    // Two: the heartbeat's transaction and a catch-up pass may run at once.
    this.nodePool = new pg.Pool({ ...options, max: 2 });
    // An idle client whose server went away must not take the process down.
    this.pool.on('error', () => {});
    this.nodePool.on('error', () => {});
  }

  /** Runs a query in the current transaction, if any; database trouble becomes one clear error. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.migrate();
    const tx = this.tx.getStore();
    if (!tx) return this.raw<R>(this.currentPool(), sql, params);
    const result = tx.queue.then(() => this.raw<R>(tx.client, sql, params));
    tx.queue = result.catch(() => {});
    return result;
  }

  private async raw<R extends pg.QueryResultRow>(client: Queryable, sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await client.query<R>(sql, params);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  /**
   * Runs `fn` with its queries and transactions on the cluster node's own connections,
   * never waiting behind the shared pool (what admissions and commands use).
   */
  ownConnections<T>(fn: () => Promise<T>): Promise<T> {
    return this.lane.run(this.nodePool, fn);
  }

  private currentPool(): pg.Pool {
    return this.lane.getStore() ?? this.pool;
  }

  wrap(err: unknown): Error {
    if (err instanceof FerryError) return err;
    const e = err as Error & { code?: string };
    // SQLSTATE classes 08 (connection), 57 (shutdown), 53 (resources): the database is unreachable.
    if (!e.code || /^(08|57|53)/.test(e.code) || /ECONNREFUSED|ENOENT|ETIMEDOUT|ECONNRESET|timeout|terminat|Connection/i.test(e.message)) {
      return new FerryError(`cannot reach the database (${this.where}): ${e.message.split('\n')[0]}`);
    }
    return new FerryError(`database error (${this.where}): ${e.message.split('\n')[0]}`);
  }

  migrate(): Promise<void> {
    this.migrated ??= this.runMigrations().catch((err) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated;
  }

  private async runMigrations(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.wrap(err);
    }
    let broken = false;
    const dropped = () => (broken = true); // as in transaction()
    client.on('error', dropped);
    try {
      await this.raw(client, 'BEGIN', []);
      await this.raw(client, 'SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await this.raw(client, 'CREATE TABLE IF NOT EXISTS ferry_schema (version integer NOT NULL)', []);
      const rows = (await this.raw<{ version: number }>(client, 'SELECT version FROM ferry_schema', [])).rows;
      const version = rows[0]?.version ?? 0;
      if (version > MIGRATIONS.length) {
        throw new FerryError(`the database (${this.where}) has schema version ${version}, newer than this ferry-server knows (${MIGRATIONS.length}); upgrade ferry-server`);
      }
      for (let v = version; v < MIGRATIONS.length; v++) await this.raw(client, MIGRATIONS[v]!, []);
      if (rows.length === 0) await this.raw(client, 'INSERT INTO ferry_schema (version) VALUES ($1)', [MIGRATIONS.length]);
      else await this.raw(client, 'UPDATE ferry_schema SET version = $1', [MIGRATIONS.length]);
      await this.raw(client, 'COMMIT', []);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.off('error', dropped);
      client.release(broken);
    }
  }

  /** A transaction; with `lock`, holding that advisory lock until it ends. Nested calls join the outer one. */
  async transaction<T>(fn: () => Promise<T>, lock?: number): Promise<T> {
    if (this.tx.getStore()) return fn();
    await this.migrate();
    let client: pg.PoolClient;
    try {
      client = await this.currentPool().connect();
    } catch (err) {
      throw this.wrap(err);
    }
    let broken = false;
    // A checked-out client has no error listener of the pool's: a connection that drops
    // while we hold it (the server restarted, pg_terminate_backend) would be an uncaught
    // exception. Its queries fail with the reason; the client is discarded on release.
    const dropped = () => (broken = true);
    client.on('error', dropped);
    try {
      await this.raw(client, 'BEGIN', []);
      if (lock !== undefined) await this.raw(client, 'SELECT pg_advisory_xact_lock($1)', [lock]);
      const result = await this.tx.run({ client, queue: Promise.resolve() }, fn);
      await this.raw(client, 'COMMIT', []);
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.off('error', dropped);
      client.release(broken);
    }
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.transaction(fn, STATE_LOCK);
  }

  private requireTx(what: string): void {
    if (!this.tx.getStore()) throw new Error(`${what} outside a transaction`);
  }

  async isInitialised(): Promise<boolean> {
    return (await this.query('SELECT 1 FROM ferry_server WHERE id = 1')).rowCount === 1;
  }

  async refuseIfTaken(): Promise<void> {
    if (await this.isInitialised()) throw new InputError(`${this.where} already holds a Ferry server; change it with "ferry-server set"`);
  }

  async prepare(): Promise<void> {
    await this.migrate();
  }

  private notInitialised(): InputError {
    return new InputError(`no Ferry server in ${this.where}: run "ferry-server init --database URL --host PUBLIC_HOST --subnet CIDR" first`);
  }

  async readSettings(): Promise<Settings> {
    const row = (await this.query<{ settings: unknown }>('SELECT settings FROM ferry_server WHERE id = 1')).rows[0];
    if (!row) throw this.notInitialised();
    return this.parse(SettingsSchema, row.settings, 'settings');
  }

  private parse<T>(schema: { safeParse: (v: unknown) => { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } } }, value: unknown, what: string): T {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FerryError(`the database's ${what} are damaged: ${issue?.path.join('.') || 'top level'}: ${issue?.message}; restore the database from a backup`);
    }
    return parsed.data;
  }

  /** settings goes in with init (the row's other columns come from writePki). */
  private pendingPki?: PkiMaterial;

  async writePki(pki: PkiMaterial): Promise<void> {
    this.requireTx('writePki');
    this.pendingPki = pki;
  }

  async writeSettings(settings: Settings): Promise<void> {
    this.requireTx('writeSettings');
    const value = JSON.stringify(SettingsSchema.parse(settings));
    if (this.pendingPki) {
      const box = await this.box();
      const p = this.pendingPki;
      await this.query(
        `INSERT INTO ferry_server (id, settings, crl_number, ca_cert, ca_key, server_cert, server_key, token_secret, crl_pem, crl_built_number, crl_next_update, crl_entries)
         VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [value, this.pendingInit?.crlNumber ?? 1, p.caCert, box.seal(p.caKey, 'ca_key'), p.serverCert, box.seal(p.serverKey, 'server_key'), box.seal(p.authToken, 'token_secret'),
          this.pendingCrl?.pem ?? null, this.pendingCrl?.number ?? null, this.pendingCrl?.nextUpdate ?? null, this.pendingCrl?.entries ?? null],
      );
      this.pendingPki = undefined;
      this.pendingCrl = undefined;
      this.pendingInit = undefined;
      return;
    }
    const result = await this.query('UPDATE ferry_server SET settings = $1 WHERE id = 1', [value]);
    if (result.rowCount !== 1) throw this.notInitialised();
  }

  private pendingInit?: { crlNumber: number };
  private pendingCrl?: { pem: string; number: number; nextUpdate: string; entries: number };

  async readIndex(): Promise<Index> {
    const server = (await this.query<{ crl_number: number }>('SELECT crl_number FROM ferry_server WHERE id = 1')).rows[0];
    if (!server && !this.pendingPki) throw this.notInitialised();
    const accounts = (await this.query('SELECT * FROM ferry_accounts ORDER BY name')).rows.map((r) =>
      this.parse(
        AccountSchema,
        {
          name: r.name,
          state: r.state,
          serial: r.serial,
          keyType: r.key_type,
          createdAt: r.created_at,
          notAfter: r.not_after,
          bundleRevision: r.bundle_revision,
          ...(r.revoked_at !== null ? { revokedAt: r.revoked_at } : {}),
          ...(r.password_hash !== null ? { passwordHash: r.password_hash } : {}),
          ...(r.rate_limit_mbps !== null ? { rateLimitMbps: r.rate_limit_mbps } : {}),
        },
        'accounts',
      ),
    );
    const revoked = (await this.query<{ serial: string; account: string; revoked_at: string }>('SELECT serial, account, revoked_at FROM ferry_revocations ORDER BY seq')).rows.map(
      (r) => ({ serial: r.serial, account: r.account, revokedAt: r.revoked_at }),
    );
    return { version: 1, crlNumber: server?.crl_number ?? this.pendingInit?.crlNumber ?? 1, accounts, revoked };
  }

  /** The accounts, revocations and CRL number as `index` has them: one statement each, inside the command's transaction. */
  async writeIndex(index: Index): Promise<void> {
    this.requireTx('writeIndex');
    if (this.pendingPki) {
      this.pendingInit = { crlNumber: index.crlNumber };
      return;
    }
    await this.query('UPDATE ferry_server SET crl_number = $1 WHERE id = 1', [index.crlNumber]);
    const names = index.accounts.map((a) => a.name);
    await this.query('DELETE FROM ferry_accounts WHERE NOT (name = ANY($1::text[]))', [names]);
    const rows = index.accounts.map((a) => ({
      name: a.name,
      state: a.state,
      serial: a.serial,
      key_type: a.keyType,
      created_at: a.createdAt,
      not_after: a.notAfter,
      revoked_at: a.revokedAt ?? null,
      password_hash: a.passwordHash ?? null,
      rate_limit_mbps: a.rateLimitMbps ?? null,
      bundle_revision: a.bundleRevision,
    }));
    await this.query(
      `INSERT INTO ferry_accounts SELECT * FROM jsonb_populate_recordset(NULL::ferry_accounts, $1::jsonb)
       ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, serial = EXCLUDED.serial, key_type = EXCLUDED.key_type,
         created_at = EXCLUDED.created_at, not_after = EXCLUDED.not_after, revoked_at = EXCLUDED.revoked_at,
         password_hash = EXCLUDED.password_hash, rate_limit_mbps = EXCLUDED.rate_limit_mbps, bundle_revision = EXCLUDED.bundle_revision`,
      [JSON.stringify(rows)],
    );
    await this.query(
      `INSERT INTO ferry_revocations (serial, account, revoked_at)
       SELECT serial, account, "revokedAt" FROM jsonb_to_recordset($1::jsonb) AS r(serial text, account text, "revokedAt" text)
       ON CONFLICT (serial) DO NOTHING`,
      [JSON.stringify(index.revoked)],
    );
  }

  async readCrlMeta(): Promise<CrlMeta | undefined> {
    const row = (await this.query<{ n: number | null; next: string | null; entries: number | null }>(
      'SELECT crl_built_number AS n, crl_next_update AS next, crl_entries AS entries FROM ferry_server WHERE id = 1',
    )).rows[0];
    if (!row || row.n === null || row.next === null || row.entries === null) return undefined;
    return { number: row.n, nextUpdate: row.next, entries: row.entries };
  }

  async readCrlPem(): Promise<string> {
    const row = (await this.query<{ crl_pem: string | null }>('SELECT crl_pem FROM ferry_server WHERE id = 1')).rows[0];
    if (!row?.crl_pem) throw new FerryError(`the database (${this.where}) holds no CRL yet; run a command that takes the lock (e.g. client revoke) or restart a gateway`);
    return row.crl_pem;
  }

  async ensureCrlCurrent(index: Index, ca?: CertificateAuthority, force = false): Promise<CrlMeta> {
    if (!force && !this.pendingPki) {
      const meta = await this.readCrlMeta();
      if (meta && meta.number === index.crlNumber) return meta;
    }
    const { pem, meta: fresh } = await deriveCrl(index, ca ?? (await this.loadCa()));
    if (this.pendingPki) {
      this.pendingCrl = { pem, ...fresh };
      return fresh;
    }
    await this.query('UPDATE ferry_server SET crl_pem = $1, crl_built_number = $2, crl_next_update = $3, crl_entries = $4 WHERE id = 1', [pem, fresh.number, fresh.nextUpdate, fresh.entries]);
    await this.notify({ type: 'crl' }); // delivered at COMMIT, to every gateway
    return fresh;
  }

  async loadCa(): Promise<CertificateAuthority> {
    const row = (await this.query<{ ca_cert: string; ca_key: string }>('SELECT ca_cert, ca_key FROM ferry_server WHERE id = 1')).rows[0];
    if (!row) throw this.notInitialised();
    const key = (await this.box()).open(row.ca_key, 'ca_key');
    const { loadCa } = await import('./pki.js');
    return loadCa(row.ca_cert, key);
  }

  async readCaCert(): Promise<string> {
    const row = (await this.query<{ ca_cert: string }>('SELECT ca_cert FROM ferry_server WHERE id = 1')).rows[0];
    if (!row) throw this.notInitialised();
    return row.ca_cert;
  }

  /** What a gateway writes into its local directory for openvpn: certificates, keys (opened), token secret, CRL. */
  async gatewayFiles(): Promise<PkiMaterial & { crl: string }> {
    const row = (await this.query('SELECT ca_cert, server_cert, server_key, token_secret, crl_pem FROM ferry_server WHERE id = 1')).rows[0];
    if (!row) throw this.notInitialised();
    const box = await this.box();
    return {
      caCert: row.ca_cert,
      caKey: '',
      serverCert: row.server_cert,
      serverKey: box.open(row.server_key, 'server_key'),
      authToken: box.open(row.token_secret, 'token_secret'),
      crl: row.crl_pem ?? (await this.readCrlPem()),
    };
  }

  async writeClientPair(serial: string, certPem: string, keyPem: string): Promise<void> {
    const sealed = (await this.box()).seal(keyPem, `client_key:${serial}`);
    await this.query('INSERT INTO ferry_client_pairs (serial, cert_pem, key_sealed) VALUES ($1, $2, $3)', [serial, certPem, sealed]);
  }

  async removeClientPair(serial: string): Promise<void> {
    await this.query('DELETE FROM ferry_client_pairs WHERE serial = $1', [serial]).catch(() => {});
  }

  async readClientPair(serial: string): Promise<{ certPem: string; keyPem: string }> {
    const row = (await this.query<{ cert_pem: string; key_sealed: string }>('SELECT cert_pem, key_sealed FROM ferry_client_pairs WHERE serial = $1', [serial])).rows[0];
    if (!row) throw new FerryError(`the database lacks the key pair of certificate ${serial}; revoke the account and add it again`);
    return { certPem: row.cert_pem, keyPem: (await this.box()).open(row.key_sealed, `client_key:${serial}`) };
  }

  async collectGarbage(index: Index): Promise<string[]> {
    const live = index.accounts.map((a) => a.serial);
    const retired = index.revoked.map((r) => r.serial).filter((s) => !live.includes(s));
    const removed = await this.query<{ serial: string }>(
      `DELETE FROM ferry_client_pairs WHERE NOT (serial = ANY($1::text[]))
         AND (serial = ANY($2::text[]) OR created_at < now() - make_interval(secs => $3))
       RETURNING serial`,
      [live, retired, ORPHAN_AGE_MS / 1000],
    );
    return removed.rows.map((r) => r.serial);
  }

  async notify(event: ClusterEvent): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify(event)]);
  }

  // ---- nodes ----

  async listNodes(): Promise<NodeRow[]> {
    const rows = (await this.query(
      `SELECT name, host, port, slice, added_at::text AS added_at, run_id, pid, started_at, last_seen,
              (last_seen IS NOT NULL AND last_seen > now() - make_interval(secs => $1)) AS up
       FROM ferry_nodes ORDER BY added_at, name`,
      [NODE_DEAD_AFTER_S],
    )).rows;
    return rows.map((r) => ({
      name: r.name,
      host: r.host,
      port: r.port,
      slice: r.slice,
      addedAt: r.added_at,
      runId: r.run_id,
      pid: r.pid,
      startedAt: r.started_at ? new Date(r.started_at).toISOString() : null,
      lastSeen: r.last_seen ? new Date(r.last_seen).toISOString() : null,
      up: r.up === true,
    }));
  }

  /** Registers a node with the next free pool slice; bundles become stale (they list every node). */
  async addNode(name: string, hostPort: string): Promise<{ node: NodeRow; slice: Ipv4Network; staleAccounts: string[] }> {
    validateNodeName(name);
    return this.withLock(async () => {
      const settings = await this.readSettings();
      const { host, port } = parseHostPort(hostPort, settings.port);
      const nodes = await this.listNodes();
      if (nodes.some((n) => n.name === name)) throw new InputError(`node "${name}" already exists`);
      if (nodes.some((n) => n.host === host && n.port === port)) throw new InputError(`another node already listens on ${host}:${port}`);
      const taken = new Set(nodes.map((n) => n.slice));
      const slice = [...Array(NODE_SLICES).keys()].find((i) => !taken.has(i));
      if (slice === undefined) throw new InputError(`the client pool ${settings.pool} is split into ${NODE_SLICES} slices, one per node, and all are taken`);
      await this.query('INSERT INTO ferry_nodes (name, host, port, slice) VALUES ($1, $2, $3, $4)', [name, host, port, slice]);
      let staleAccounts: string[] = [];
      if (nodes.length > 0) {
        const next = { ...settings, profileRevision: settings.profileRevision + 1 };
        await this.writeSettings(next);
        const index = await this.readIndex();
        staleAccounts = index.accounts.filter((a) => a.state === 'active' && a.bundleRevision < next.profileRevision).map((a) => a.name);
      }
      const node = (await this.listNodes()).find((n) => n.name === name)!;
      return { node, slice: poolSlice(settings.pool, slice), staleAccounts };
    });
  }

  /**
   * Removes a node that is not running: its row goes, with its clients rows (ON DELETE
   * CASCADE), so its pool slice is free for the next node; bundles become stale (they list
   * every node). The delete itself re-checks the heartbeat, so a node that starts meanwhile
   * (its claim updates the same row) is never removed from under it.
   */
  async removeNode(name: string): Promise<{ node: NodeRow; slice: Ipv4Network; clients: number; staleAccounts: string[] }> {
    validateNodeName(name);
    return this.withLock(async () => {
      const settings = await this.readSettings();
      const nodes = await this.listNodes();
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new InputError(`no node "${name}" (nodes: ${nodes.map((n) => n.name).join(', ') || 'none'})`);
      const running = () =>
        new FerryError(`node "${name}" is running (pid ${node.pid ?? '?'}, last heartbeat ${node.lastSeen ?? 'just now'}): stop "ferry-server run --node ${name}" on its host first, then remove it`);
      if (node.up) throw running();
      if (nodes.length === 1) throw new InputError(`node "${name}" is the only node: a cluster needs one; add the node that replaces it first ("ferry-server node add NAME --host HOST[:PORT]")`);
      const clients = Number((await this.query('SELECT count(*) AS n FROM ferry_connections WHERE node = $1', [name])).rows[0]?.n ?? 0);
      const gone = await this.query(
        `DELETE FROM ferry_nodes WHERE name = $1 AND (last_seen IS NULL OR last_seen <= now() - make_interval(secs => $2))`,
        [name, NODE_DEAD_AFTER_S],
      );
      if (gone.rowCount !== 1) throw running();
      const next = { ...settings, profileRevision: settings.profileRevision + 1 };
      await this.writeSettings(next);
      const index = await this.readIndex();
      const staleAccounts = index.accounts.filter((a) => a.state === 'active' && a.bundleRevision < next.profileRevision).map((a) => a.name);
      return { node, slice: poolSlice(settings.pool, node.slice), clients, staleAccounts };
    });
  }

  async listConnections(): Promise<ConnectionRow[]> {
    const rows = (await this.query(
      `SELECT c.* FROM ferry_connections c JOIN ferry_nodes n ON n.name = c.node
       WHERE c.established AND n.last_seen > now() - make_interval(secs => $1) ORDER BY c.node, c.account`,
      [NODE_DEAD_AFTER_S],
    )).rows;
    return rows.map((r) => ({
      node: r.node,
      cid: r.cid,
      account: r.account,
      established: r.established,
      realAddress: r.real_address ?? '',
      virtualAddress: r.virtual_address ?? '',
      bytesReceived: Number(r.bytes_in),
      bytesSent: Number(r.bytes_out),
      connectedSince: r.connected_since ? new Date(r.connected_since).toISOString() : new Date(r.admitted_at).toISOString(),
    }));
  }

  /**
   * The cluster-wide connection limit, in one transaction under the admission lock: counts
   * the accounts connected (or admitted within the last minute) on every live node but
   * this client's own, and records this client's admission if there is room.
   */
  async admit(node: string, cid: string, account: string, maxClients: number): Promise<boolean> {
    return this.transaction(async () => {
      const others = (await this.query<{ n: string }>(
        `SELECT count(DISTINCT lower(c.account)) AS n FROM ferry_connections c JOIN ferry_nodes n ON n.name = c.node
         WHERE lower(c.account) <> lower($1) AND NOT (c.node = $2 AND c.cid = $3)
           AND n.last_seen > now() - make_interval(secs => $4)
           AND (c.established OR c.admitted_at > now() - interval '60 seconds')`,
        [account, node, cid, NODE_DEAD_AFTER_S],
      )).rows[0];
      if (Number(others?.n ?? 0) >= maxClients) return false;
      await this.query(
        `INSERT INTO ferry_connections (node, cid, account) VALUES ($1, $2, $3)
         ON CONFLICT (node, cid) DO UPDATE SET account = EXCLUDED.account, admitted_at = now()`,
        [node, cid, account],
      );
      return true;
    }, ADMISSION_LOCK);
  }

  async listRemotes(settings: Settings): Promise<Array<{ host: string; port: number }>> {
    const nodes = await this.listNodes();
    return nodes.length > 0 ? nodes.map((n) => ({ host: n.host, port: n.port })) : [{ host: settings.host, port: settings.port }];
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end().catch(() => {}), this.nodePool.end().catch(() => {})]);
  }

  /** A connection of its own for LISTEN (a pooled one would be handed back). */
  newClient(): pg.Client {
    // TCP keepalive: a LISTEN connection only ever reads, so a dead peer is noticed no other way.
    return new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 3_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  }
}
