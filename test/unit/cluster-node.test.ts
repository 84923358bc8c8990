/**
 * A cluster node (server/cluster.ts) against a real PostgreSQL, attacked: any database user
 * can NOTIFY the events channel, the LISTEN connection can be killed under it, and a node
 * can come back after the others declared it down. The gateway is replaced by hooks that
 * record what the node asked of it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClusterNode, type LocalSession } from '../../server/cluster.js';
import { deleteDatabaseServer } from '../../server/delete-database.js';
import { ADMISSION_LOCK, PgStore, STORE_POOL_SIZE } from '../../server/pg-store.js';
import { StateDir } from '../../server/store.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';
import { until } from '../support/until.js';

const skip = postgresSkipReason();

describe.skipIf(skip)('cluster node under attack (real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let url: string;
  let db: string;
  let dir: string;
  let store: PgStore;
  let node: ClusterNode | undefined;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);

  /** What the node asked of its gateway. */
  let sessions: LocalSession[];
  let kills: string[];
  /** Sessions cut one by one (by client id). */
  let killedCids: string[];
  let reloads: number;
  let inFlightReloads: number;
  let maxInFlightReloads: number;
  let logs: string[];
  let lost: string[];

  const sql = (text: string, params: unknown[] = []) => pgi.sql(db, text, params);
  const account = (name: string, state: 'active' | 'revoked') =>
    sql(
      `INSERT INTO ferry_accounts (name, state, serial, key_type, created_at, not_after, bundle_revision) VALUES ($1, $2, $3, 'ec', '', '', 1)
       ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state`,
      [name, state, `serial-${name}`],
    );

  async function startNode(name = 'a'): Promise<ClusterNode> {
    node = await ClusterNode.claim(store, name, {
      log: (line) => logs.push(line),
      lost: (why) => lost.push(why),
      sessions: () => sessions,
      kill: async (acct) => {
        kills.push(acct);
        sessions = sessions.filter((s) => s.account !== acct);
      },
      killSession: async (cid) => {
        killedCids.push(cid);
        const gone = sessions.find((s) => s.cid === cid);
        if (gone) kills.push(gone.account);
        sessions = sessions.filter((s) => s.cid !== cid);
      },
      reloadLimits: async () => {
        reloads++;
        inFlightReloads++;
        maxInFlightReloads = Math.max(maxInFlightReloads, inFlightReloads);
        await new Promise((resolve) => setImmediate(resolve));
        inFlightReloads--;
      },
    });
    await node.start();
    return node;
  }

  beforeAll(async () => {
    pgi = await PostgresInstance.create();
    process.on('unhandledRejection', onRejection);
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    await pgi?.destroy();
  });

  beforeEach(async () => {
    url = await pgi.createDatabase();
    db = new URL(url).pathname.slice(1);
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-cluster-node-'));
    store = new PgStore(url, new StateDir(dir), () => Promise.reject(new Error('no secrets needed')));
    await store.migrate();
    // Only what a node reads: its row, the CRL, the accounts.
    await sql(
      `INSERT INTO ferry_server (id, settings, crl_number, ca_cert, ca_key, server_cert, server_key, token_secret, crl_pem)
       VALUES (1, $1, 0, '', '', '', '', '', 'CRL')`,
      [
        JSON.stringify({
          version: 1, name: 'gw', host: '198.18.0.1', port: 1194, proto: 'tcp', pool: '198.18.100.0/24', subnets: [], dns: [],
          cipher: 'AES-256-GCM', compress: false, twoFactor: false, maxClients: 2, keyType: 'ec', serverCommonName: 'gw', profileRevision: 1,
        }),
      ],
    );
    await sql(`INSERT INTO ferry_nodes (name, host, port, slice) VALUES ('a', '198.18.0.1', 1194, 0), ('b', '198.18.0.2', 1194, 1)`);
    sessions = [];
    kills = [];
    killedCids = [];
    reloads = 0;
    inFlightReloads = 0;
    maxInFlightReloads = 0;
    logs = [];
    lost = [];
    rejections.length = 0;
  });

  afterEach(async () => {
    await node?.stop();
    node = undefined;
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('garbage on the events channel crashes nothing and is not acted on', async () => {
    await account('alice', 'active');
    await account('gone', 'revoked');
    sessions = [{ cid: '1', account: 'alice', established: true }, { cid: '2', account: 'gone', established: true }];
    await startNode();
    const garbage = ['null', '[]', '"kill"', '42', '{"type":"kill"}', '{"type":"kill","account":{"toString":1}}', '{"type":"nope"}', '{', `{"type":"kill","account":"${'x'.repeat(7000)}"}`];
    for (const payload of garbage) await sql('SELECT pg_notify($1, $2)', ['ferry_events', payload]);
    // Delivered in order on the one LISTEN connection: once this is handled, the garbage was too.
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"kill","account":"gone"}']);
    await until(() => kills.includes('gone'), 'the cut of the revoked account');
    expect(rejections).toEqual([]);
    expect(kills).toEqual(['gone']);
  });

  it('a spoofed cut of an active account cuts nothing; a real one (revoked or deleted) cuts', async () => {
    await account('alice', 'active');
    await account('bob', 'revoked');
    sessions = [
      { cid: '1', account: 'alice', established: true },
      { cid: '2', account: 'bob', established: true },
      { cid: '3', account: 'carol', established: true }, // deleted: no row at all
    ];
    await startNode();
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"kill","account":"alice"}']);
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"kill","account":"bob"}']);
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"kill","account":"carol"}']);
    await until(() => kills.includes('bob') && kills.includes('carol'), 'the cuts of bob and carol');
    expect(kills).not.toContain('alice');
  });

  it('a flood of events runs one reload at a time, never one per event', async () => {
    await account('gone', 'revoked');
    sessions = [{ cid: '9', account: 'gone', established: true }];
    await startNode();
    await sql(`SELECT pg_notify('ferry_events', json_build_object('type', 'limits', 'n', g)::text) FROM generate_series(1, 2000) g`);
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"kill","account":"gone"}']);
    await until(() => kills.includes('gone') && inFlightReloads === 0 && reloads > 0, 'the flood handled');
    expect(rejections).toEqual([]);
    expect(maxInFlightReloads).toBe(1);
    expect(reloads).toBeLessThan(2000);
  });

  it('a killed LISTEN connection is re-established and the revocations made meanwhile are caught up', async () => {
    await account('alice', 'active');
    sessions = [{ cid: '1', account: 'alice', established: true }];
    await startNode();
    await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rowCount === 1, 'the node listening');
    // Kill the listener, and revoke alice in the same breath: that notification reaches nobody.
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`);
    await sql(`UPDATE ferry_accounts SET state = 'revoked' WHERE name = 'alice'`);
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"kill","account":"alice"}']);
    await until(() => kills.includes('alice'), 'alice cut after the reconnection', 10_000);
    // And it listens again: a limits event (only ever delivered by NOTIFY) arrives.
    await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rowCount === 1, 'the node listening again');
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"limits"}']);
    await until(() => reloads > 0, 'the limits event after the reconnection');
    expect(rejections).toEqual([]);
  });

  /**
   * Revokes `name` (its serial in ferry_revocations) and adds an account of the same name with
   * a new serial, in one transaction (as one pass of the node sees it); `notify`: with the cut
   * event the revoke sends, delivered at COMMIT.
   */
  async function revokeAndReAdd(name: string, oldSerial: string, newSerial: string, notify: boolean): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`UPDATE ferry_accounts SET state = 'revoked' WHERE name = $1`, [name]);
      await client.query(`INSERT INTO ferry_revocations (serial, account, revoked_at) VALUES ($1, $2, '')`, [oldSerial, name]);
      await client.query(`DELETE FROM ferry_accounts WHERE name = $1`, [name]);
      await client.query(
        `INSERT INTO ferry_accounts (name, state, serial, key_type, created_at, not_after, bundle_revision) VALUES ($1, 'active', $2, 'ec', '', '', 1)`,
        [name, newSerial],
      );
      if (notify) await client.query('SELECT pg_notify($1, $2)', ['ferry_events', JSON.stringify({ type: 'kill', account: name })]);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  }

  it('catch-up after missed events cuts a session of a revoked certificate even when its name was added again', async () => {
    await sql(`INSERT INTO ferry_accounts (name, state, serial, key_type, created_at, not_after, bundle_revision) VALUES ('alice', 'active', '1a2b', 'ec', '', '', 1)`);
    // The session openvpn reports with the serial as tls_serial_hex_0 spells it (colons, leading zero, upper case).
    sessions = [{ cid: '1', account: 'alice', serial: '00:1A:2B', established: true }];
    await startNode();
    await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rowCount === 1, 'the node listening');
    // The listener gone (a partition), then alice revoked and added again: no event reaches the node.
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`);
    await revokeAndReAdd('alice', '1a2b', '3c4d', false);
    // Meanwhile alice connects with her new certificate: that session is hers to keep. Listed
    // first, so a wrong cut of it would come before the right one.
    sessions = [{ cid: '2', account: 'alice', serial: '3c:4d', established: true }, ...sessions];
    await until(() => killedCids.includes('1'), 'the session of the revoked certificate cut after the catch-up', 15_000);
    expect(killedCids).toEqual(['1']);
    expect(rejections).toEqual([]);
  });

  it('a cut event re-checks by certificate: revoked and re-added in one transaction, the old session goes, the new stays', async () => {
    await sql(`INSERT INTO ferry_accounts (name, state, serial, key_type, created_at, not_after, bundle_revision) VALUES ('alice', 'active', '1a2b', 'ec', '', '', 1)`);
    sessions = [
      { cid: '2', account: 'alice', serial: '3c4d', established: false },
      { cid: '1', account: 'alice', serial: '1a2b', established: true },
      { cid: '3', account: 'alice', serial: '99', established: true }, // neither serial: no certificate of hers
    ];
    await startNode();
    await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rowCount === 1, 'the node listening');
    await revokeAndReAdd('alice', '1a2b', '3c4d', true);
    await until(() => killedCids.includes('1') && killedCids.includes('3'), 'the sessions of other certificates cut');
    expect(killedCids).not.toContain('2');
  });

  /**
   * As if node a had been frozen (SIGSTOP) past the heartbeat timeout: its heartbeat is
   * stale, node b runs and released a's clients, and b holds `admitted` ([cid, account]).
   */
  async function lapseWhileBAdmits(admitted: Array<[string, string]>): Promise<void> {
    await sql(`UPDATE ferry_nodes SET last_seen = now() - interval '1 minute' WHERE name = 'a'`);
    await sql(`UPDATE ferry_nodes SET run_id = 'b-run', last_seen = now() + interval '1 hour' WHERE name = 'b'`);
    await sql(`DELETE FROM ferry_connections WHERE node = 'a'`);
    for (const [cid, account] of admitted) await sql(`INSERT INTO ferry_connections (node, cid, account, established) VALUES ('b', $1, $2, true)`, [cid, account]);
  }

  it('a node back after the others released its clients re-admits them under the limit, cutting what no longer fits', async () => {
    await account('alice', 'active');
    await account('carol', 'active');
    await account('dave', 'active');
    sessions = [{ cid: '1', account: 'alice', established: true }];
    await startNode();
    await until(async () => (await sql(`SELECT 1 FROM ferry_connections WHERE node = 'a' AND account = 'alice'`)).rowCount === 1, 'alice recorded');
    // b admitted two others up to the limit of 2.
    await lapseWhileBAdmits([['7', 'carol'], ['8', 'dave']]);
    await until(() => kills.includes('alice'), 'alice cut: the limit is full without her', 10_000);
    const counted = await sql(`SELECT DISTINCT account FROM ferry_connections`);
    expect(counted.rows.map((r) => r.account).sort()).toEqual(['carol', 'dave']);
  });

  it('a node back after a lapse keeps its clients when the limit has room, and records them again', async () => {
    await account('alice', 'active');
    await account('carol', 'active');
    sessions = [{ cid: '1', account: 'alice', established: true }];
    await startNode();
    await until(async () => (await sql(`SELECT 1 FROM ferry_connections WHERE node = 'a' AND account = 'alice'`)).rowCount === 1, 'alice recorded');
    await lapseWhileBAdmits([['7', 'carol']]);
    await until(async () => (await sql(`SELECT 1 FROM ferry_connections WHERE node = 'a' AND account = 'alice' AND established`)).rowCount === 1, 'alice recorded again');
    expect(kills).toEqual([]);
  });

  it('a node back after another run claimed it steps down rather than take the node back', async () => {
    const first = await startNode();
    // Frozen past the timeout; meanwhile the node is started again (elsewhere) and claims it.
    await sql(`UPDATE ferry_nodes SET last_seen = now() - interval '1 minute' WHERE name = 'a'`);
    const second = await ClusterNode.claim(store, 'a', { log: () => {}, lost: () => {}, sessions: () => [], kill: async () => {}, killSession: async () => {}, reloadLimits: async () => {} });
    await sql(`INSERT INTO ferry_connections (node, cid, account, established) VALUES ('a', '5', 'newcomer', true)`);
    await until(() => lost.length > 0, 'the first run stepping down', 10_000);
    expect(lost[0]).toMatch(/claimed by another run/);
    await first.stop();
    const row = await sql(`SELECT run_id FROM ferry_nodes WHERE name = 'a'`);
    expect(row.rows[0].run_id).toBe(second.runId);
    // Its stop leaves the new run's clients alone.
    expect((await sql(`SELECT 1 FROM ferry_connections WHERE node = 'a' AND cid = '5'`)).rowCount).toBe(1);
  });

  it('the database gone and back: the problem is said, nothing rejects unhandled, and the node listens again', async () => {
    await account('alice', 'active');
    sessions = [{ cid: '1', account: 'alice', established: true }];
    const n = await startNode();
    await pgi.stop('immediate');
    try {
      await until(() => n.problem !== undefined, 'the database problem noticed', 15_000);
    } finally {
      await pgi.start();
    }
    await until(() => n.problem === undefined, 'the database back', 15_000);
    await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rowCount === 1, 'the node listening again', 10_000);
    await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"limits"}']);
    await until(() => reloads > 0, 'an event after the outage');
    expect(rejections).toEqual([]);
    expect(logs.some((l) => /running tunnels keep going/.test(l))).toBe(true);
  });

  it('after a database problem the node listens on a fresh connection: the old one may be deaf (half-open) for ever', async () => {
    const n = await startNode();
    await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rowCount === 1, 'the node listening');
    const deaf = Number((await sql(`SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'`)).rows[0].pid);
    // The listener's server side stops answering without closing: what a partition leaves.
    process.kill(deaf, 'SIGSTOP');
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      // Heartbeats block on the node row until the pool's query timeout: a database problem.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE ferry_nodes IN ACCESS EXCLUSIVE MODE');
      await until(() => n.problem !== undefined, 'the database problem noticed', 15_000);
      await blocker.query('ROLLBACK');
      await until(() => n.problem === undefined, 'the database back', 15_000);
      await until(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND pid <> $1`, [deaf])).rowCount === 1, 'a fresh listener', 10_000);
      await sql('SELECT pg_notify($1, $2)', ['ferry_events', '{"type":"limits"}']);
      await until(() => reloads > 0, 'an event after the problem');
    } finally {
      process.kill(deaf, 'SIGCONT');
      await blocker.end().catch(() => {});
    }
  }, 60_000);

  it('a node back after another run claimed it and stopped again takes the node back, its clients admitted again', async () => {
    await account('alice', 'active');
    sessions = [{ cid: '1', account: 'alice', established: true }];
    await startNode();
    await sql(`UPDATE ferry_nodes SET last_seen = now() - interval '1 minute' WHERE name = 'a'`);
    const second = await ClusterNode.claim(store, 'a', { log: () => {}, lost: () => {}, sessions: () => [], kill: async () => {}, killSession: async () => {}, reloadLimits: async () => {} });
    await second.stop(); // it failed to start, say: the node is released
    await until(async () => (await sql(`SELECT 1 FROM ferry_nodes WHERE name = 'a' AND run_id = $1`, [node!.runId])).rowCount === 1, 'the node taken back', 10_000);
    await until(async () => (await sql(`SELECT 1 FROM ferry_connections WHERE node = 'a' AND account = 'alice'`)).rowCount === 1, 'alice recorded again');
    expect(lost).toEqual([]);
    expect(kills).toEqual([]);
  });

  it('a burst of admissions waiting for the admission lock starves neither the heartbeat nor the catch-up', async () => {
    await account('alice', 'active');
    const n = await startNode();
    const beatsSeen = async () => String((await sql(`SELECT last_seen FROM ferry_nodes WHERE name = 'a'`)).rows[0].last_seen?.toISOString());
    await until(async () => (await beatsSeen()) !== 'undefined', 'the first heartbeat');
    // Someone holds the cluster's admission lock (another node's admission, slow).
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const flood: Array<Promise<unknown>> = [];
    try {
      const holderPid = Number((await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1)', [ADMISSION_LOCK]);
      // Many clients connecting at once: each admission takes a pooled connection and waits for the lock.
      for (let i = 0; i < 12; i++) flood.push(store.admit('a', `flood-${i}`, 'alice', 100).catch((err: Error) => err));
      await until(
        async () => Number((await sql(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'advisory' AND pid <> $1`, [holderPid])).rows[0].n) === STORE_POOL_SIZE,
        'every pooled connection waiting for the admission lock',
      );
      // Longer than the pool's connection timeout (3 s) and past a catch-up (every 5th beat):
      // each beat must land while the pool stays full.
      let last = await beatsSeen();
      for (let beat = 0; beat < 6; beat++) {
        const before = last;
        await until(async () => (last = await beatsSeen()) !== before, `heartbeat ${beat + 1} under the flood`);
        expect(n.problem).toBeUndefined();
      }
      expect(Number((await sql(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'advisory' AND pid <> $1`, [holderPid])).rows[0].n)).toBe(STORE_POOL_SIZE);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await holder.end();
      await Promise.all(flood);
    }
    expect(logs.filter((l) => /running tunnels keep going/.test(l))).toEqual([]);
    expect(rejections).toEqual([]);
  }, 30_000);

  it('a connection dropped inside a transaction is a clear error, not an uncaught exception', async () => {
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onError);
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let pid = 0;
      const tx = store.transaction(async () => {
        pid = Number((await store.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
        await held; // between two queries, as any transaction is most of the time
        await store.query('SELECT 1');
      });
      const outcome = tx.then(
        () => 'committed',
        (err: Error) => err.message,
      );
      await until(() => pid !== 0, 'the transaction running');
      await sql('SELECT pg_terminate_backend($1)', [pid]);
      // The client learns of it on its own (the socket closes); then the transaction goes on.
      await until(async () => (await sql('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0, 'the backend gone');
      await new Promise((resolve) => setImmediate(resolve));
      release();
      expect(await outcome).toMatch(/cannot reach the database/);
      expect(errors).toEqual([]);
      // The pool is usable afterwards.
      expect((await store.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    } finally {
      process.off('uncaughtException', onError);
    }
  });

  /** Stops the node's heartbeat timer as a SIGSTOP would; `wake` runs the beat it missed. */
  function freeze(n: ClusterNode): { wake: () => Promise<void> } {
    clearInterval(Reflect.get(n, 'heartbeat') as NodeJS.Timeout);
    const beat = Reflect.get(n, 'beat') as () => Promise<void>;
    return { wake: () => beat.call(n) };
  }

  it('a node frozen while it was removed and added again under its name stops: it never takes the new node', async () => {
    const n = await startNode();
    const frozen = freeze(n);
    // `node remove a` then `node add a --host elsewhere` while a was frozen: a new node, a new slice.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`DELETE FROM ferry_nodes WHERE name = 'a'`);
      await client.query(`INSERT INTO ferry_nodes (name, host, port, slice) VALUES ('a', '198.18.0.3', 1194, 2)`);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    await frozen.wake();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/removed/);
    const row = await sql(`SELECT run_id FROM ferry_nodes WHERE name = 'a'`);
    expect(row.rows[0].run_id).toBeNull(); // free for the new node's own run
  });

  it('a node frozen while the server was deleted (delete --yes) stops with the reason when it wakes', async () => {
    const n = await startNode();
    const frozen = freeze(n);
    await sql(`UPDATE ferry_nodes SET last_seen = now() - interval '1 minute'`);
    await deleteDatabaseServer(store, async () => {});
    expect((await sql(`SELECT to_regclass('ferry_nodes') AS t`)).rows[0].t).toBeNull();
    await frozen.wake();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/deleted/);
    expect(rejections).toEqual([]);
  });
});
