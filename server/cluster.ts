/**
 * One gateway's membership of the cluster (`ferry-server run --node NAME --database URL`):
 * claims its node row, writes the shared files openvpn reads into the local directory,
 * heartbeats, mirrors its sessions into ferry_connections, releases the clients of nodes
 * that stopped heartbeating, and listens for the events other nodes and commands send
 * (session cuts, a new CRL, changed limits). While the database is unreachable it says so
 * once, keeps every running tunnel, and lets the gateway refuse new clients; it resumes by
 * itself.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writeFileAtomic } from '../core/util/atomic-file.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { ClusterEventSchema, EVENTS_CHANNEL, NODE_DEAD_AFTER_S, poolSlice, type NodeRow, type PgStore } from './pg-store.js';
import { canonicalSerial } from './admission.js';
import type { Settings } from './settings.js';

export const HEARTBEAT_MS = 1_000;
/** PostgreSQL caps a NOTIFY payload below 8000 bytes; ours are far smaller. */
const MAX_EVENT_BYTES = 1_024;

/** What the node knows of one of its sessions, for ferry_connections. */
export interface LocalSession {
  cid: string;
  account: string;
  /** The serial of the certificate it authenticated with (openvpn's tls_serial_hex_0), if known. */
  serial?: string;
  established: boolean;
  address?: string;
  realAddress?: string;
  bytesIn?: number;
  bytesOut?: number;
  connectedSince?: number;
}

export interface ClusterHooks {
  log: (line: string) => void;
  /** Another run claimed our node while we were seen as down: this run must stop (the reason). */
  lost: (why: string) => void;
  sessions: () => LocalSession[];
  kill: (account: string) => Promise<void>;
  /** Cuts one session (openvpn's client id). */
  killSession: (cid: string) => Promise<void>;
  /** Resolves once the limits are applied (or failed and said so): one runs at a time. */
  reloadLimits: () => Promise<void>;
}

export class ClusterNode {
  readonly runId = randomUUID();
  private heartbeat?: NodeJS.Timeout;
  private listener?: pg.Client;
  private listenerRetry?: NodeJS.Timeout;
  private stopped = false;
  /** Why the database cannot be used right now, or undefined. */
  problem?: { since: string; error: string };
  private healthySince = Date.now();
  private beats = 0;
  private beating = false;
  /**
   * Work asked for by events and catch-ups, as flags: however many events arrive, at most
   * one pass of each kind runs at a time and one more is queued (drain()).
   */
  private readonly due = { cuts: false, crl: false, limits: false };
  private draining = false;
  /** Our heartbeat lapsed (frozen, or cut off from the database): our clients must be admitted again. */
  private readmitDue = false;
  /** False once another run claimed our node: nothing of the node is ours to clean up. */
  private owned = true;
  private ignoredEvents = 0;

  constructor(
    readonly store: PgStore,
    readonly node: NodeRow,
    private readonly hooks: ClusterHooks,
  ) {}

  /** Looks the node up and claims it (refused while another run of it heartbeats). */
  static async claim(store: PgStore, name: string, hooks: ClusterHooks): Promise<ClusterNode> {
    const node = (await store.listNodes()).find((n) => n.name === name);
    if (!node) {
      const names = (await store.listNodes()).map((n) => n.name);
      throw new InputError(`no node "${name}" in ${store.where} (nodes: ${names.join(', ') || 'none'}); add it with "ferry-server node add ${name} --host HOST[:PORT]"`);
    }
    const self = new ClusterNode(store, node, hooks);
    if (!(await self.claimIfFree({ starting: true }))) throw new FerryError(`node "${name}" is already running (its heartbeat is fresh); stop it first, or wait ${NODE_DEAD_AFTER_S} s after it died`);
    // A previous run of this node (killed) may have left rows: they are not our sessions.
    await store.query('DELETE FROM ferry_connections WHERE node = $1', [name]);
    return self;
  }

  /**
   * Makes this run the node's, unless another run of it heartbeats (no run, or a stale
   * heartbeat: the node is free). False when another run holds it.
   */
  private async claimIfFree({ starting }: { starting: boolean }): Promise<boolean> {
    const claimed = await this.store.query(
      // added_at: the node this run was started as; one removed and added again under its
      // name (while this run was frozen) has another slice and host, and its own runs.
      `UPDATE ferry_nodes SET run_id = $1, pid = $2, last_seen = now()${starting ? ', started_at = now()' : ''}
       WHERE name = $3 AND added_at::text = $5 AND (run_id IS NULL OR last_seen IS NULL OR last_seen < now() - make_interval(secs => $4))`,
      [this.runId, process.pid, this.node.name, NODE_DEAD_AFTER_S, this.node.addedAt],
    );
    return claimed.rowCount === 1;
  }

  /** The slice of the client pool this node hands out. */
  slice(settings: Settings) {
    return poolSlice(settings.pool, this.node.slice);
  }

  /** Writes CA, server certificate and key, token secret and CRL where openvpn reads them (0600). */
  async writeGatewayFiles(): Promise<void> {
    const files = await this.store.gatewayFiles();
    const local = this.store.local;
    await local.ensureLayout();
    await writeFileAtomic(local.caCert, files.caCert);
    await writeFileAtomic(local.serverCert, files.serverCert);
    await writeFileAtomic(local.serverKey, files.serverKey);
    await writeFileAtomic(local.authTokenKey, files.authToken);
    await writeFileAtomic(local.crlFile, files.crl);
  }

  async start(): Promise<void> {
    await this.listen();
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.listenerRetry);
    if (this.listener) drop(this.listener);
    if (!this.owned) return;
    // A clean stop releases the node at once: its clients count nowhere any more (if the
    // node is still ours: another run may have claimed it meanwhile).
    await this.store
      .transaction(async () => {
        const mine = await this.store.query('UPDATE ferry_nodes SET run_id = NULL, last_seen = NULL, pid = NULL WHERE name = $1 AND run_id = $2', [this.node.name, this.runId]);
        if (mine.rowCount === 1) await this.store.query('DELETE FROM ferry_connections WHERE node = $1', [this.node.name]);
      })
      .catch(() => {});
  }

  private lose(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.owned = false;
    clearInterval(this.heartbeat);
    this.hooks.lost(why);
  }

  private setProblem(err: Error): void {
    if (!this.problem) {
      this.problem = { since: new Date().toISOString(), error: err.message };
      this.hooks.log(`ferry-server: ${err.message}; running tunnels keep going, new connections are refused until the database is back`);
    }
  }

  private clearProblem(): void {
    if (this.problem) {
      this.hooks.log('ferry-server: the database is reachable again; admitting new connections');
      this.problem = undefined;
      this.healthySince = Date.now();
      // The LISTEN connection may have outlived the trouble without working (a partition
      // leaves it half-open, deaf for ever and never closed): listen on a fresh one, which
      // catches up on what was missed.
      if (this.listener) {
        drop(this.listener);
        this.listener = undefined;
        void this.listen();
      } else {
        void this.catchUp();
      }
    }
  }

  /**
   * After a failed heartbeat: were Ferry's tables dropped (`ferry-server delete` while this
   * run was frozen)? Then no retry will ever succeed. False when that cannot be told (the
   * database unreachable: the problem is said and the heartbeat retries).
   */
  private async serverDeleted(): Promise<boolean> {
    try {
      const row = (await this.store.ownConnections(() => this.store.query<{ t: string | null }>(`SELECT to_regclass('ferry_nodes')::text AS t`))).rows[0];
      return row !== undefined && row.t === null;
    } catch {
      return false;
    }
  }

  /** One heartbeat: our row, our sessions, and the release of dead nodes' clients. */
  private async beat(): Promise<void> {
    if (this.beating || this.stopped) return;
    this.beating = true;
    try {
      // On the node's own connections: admissions waiting for their lock hold the shared pool.
      await this.store.ownConnections(() => this.store.transaction(async () => {
        // Was our last heartbeat so old that the other nodes may have released our clients?
        // (NO KEY: an admission inserting a client row of this node holds KEY SHARE on it
        // until its commit; the heartbeat need not wait for that.)
        const previous = await this.store.query<{ lapsed: boolean }>(
          `SELECT (last_seen IS NULL OR last_seen < now() - make_interval(secs => $3)) AS lapsed FROM ferry_nodes WHERE name = $1 AND run_id = $2 FOR NO KEY UPDATE`,
          [this.node.name, this.runId, NODE_DEAD_AFTER_S],
        );
        if (previous.rows[0]?.lapsed !== false) this.readmitDue = true;
        const me = await this.store.query('UPDATE ferry_nodes SET last_seen = now() WHERE name = $1 AND run_id = $2', [this.node.name, this.runId]);
        if (me.rowCount !== 1) {
          // Another run claimed the node while we were seen as down (only claim() replaces
          // run_id). If it is gone again (released, or its heartbeat stale too) the node is
          // free and we take it back, our clients to be admitted again. If it runs, taking
          // it back would leave two gateways on one node, pool slice and client rows: it
          // owns the node now and this run stops.
          if (!(await this.claimIfFree({ starting: false }))) {
            const other = (await this.store.query<{ pid: number | null; added_at: string }>('SELECT pid, added_at::text AS added_at FROM ferry_nodes WHERE name = $1', [this.node.name])).rows[0];
            // No row, or another node's of the same name: `ferry-server node remove` (and
            // `node add`) while this run was cut off or frozen.
            if (!other || other.added_at !== this.node.addedAt) {
              this.lose(`node "${this.node.name}" was removed from the database ("ferry-server node remove"); stopping: its client addresses may be another node's now`);
              return;
            }
            this.lose(`node "${this.node.name}" was claimed by another run${other?.pid ? ` (pid ${other.pid})` : ''} while this one was seen as down; stopping`);
            return;
          }
          this.readmitDue = true;
        }
        // Until our clients are admitted again, recording them would count them unchecked.
        if (this.readmitDue) return;
        const sessions = this.hooks.sessions();
        const rows = sessions.map((s) => ({
          node: this.node.name,
          cid: s.cid,
          account: s.account,
          established: s.established,
          real_address: s.realAddress ?? null,
          virtual_address: s.address ?? null,
          bytes_in: s.bytesIn ?? 0,
          bytes_out: s.bytesOut ?? 0,
          connected_since: s.connectedSince ? new Date(s.connectedSince).toISOString() : null,
        }));
        await this.store.query(
          `INSERT INTO ferry_connections (node, cid, account, established, real_address, virtual_address, bytes_in, bytes_out, connected_since)
           SELECT node, cid, account, established, real_address, virtual_address, bytes_in, bytes_out, connected_since
           FROM jsonb_to_recordset($1::jsonb) AS r(node text, cid text, account text, established boolean, real_address text, virtual_address text, bytes_in bigint, bytes_out bigint, connected_since timestamptz)
           ON CONFLICT (node, cid) DO UPDATE SET established = EXCLUDED.established, real_address = EXCLUDED.real_address,
             virtual_address = EXCLUDED.virtual_address, bytes_in = EXCLUDED.bytes_in, bytes_out = EXCLUDED.bytes_out, connected_since = EXCLUDED.connected_since`,
          [JSON.stringify(rows)],
        );
        // Rows of ours the gateway no longer holds (gone while the database was away);
        // fresh admissions are left alone, their session is being set up right now.
        await this.store.query(
          `DELETE FROM ferry_connections WHERE node = $1 AND NOT (cid = ANY($2::text[])) AND admitted_at < now() - interval '5 seconds'`,
          [this.node.name, sessions.map((s) => s.cid)],
        );
        // Release the clients of nodes that stopped heartbeating, once we have been healthy
        // long enough for every live node to have beaten since the database came back.
        if (Date.now() - this.healthySince > 3 * HEARTBEAT_MS) {
          await this.store.query(
            `DELETE FROM ferry_connections c USING ferry_nodes n
             WHERE n.name = c.node AND n.name <> $1 AND (n.last_seen IS NULL OR n.last_seen < now() - make_interval(secs => $2))`,
            [this.node.name, NODE_DEAD_AFTER_S],
          );
        }
      }));
      if (this.stopped) return;
      this.clearProblem();
      if (this.readmitDue) await this.readmit();
      if (++this.beats % 5 === 0) await this.catchUp();
    } catch (err) {
      if (await this.serverDeleted()) {
        this.lose(`the SSL server was deleted from the database ("ferry-server delete"); stopping: this node has nothing left to serve`);
        return;
      }
      this.setProblem(err as Error);
    } finally {
      this.beating = false;
    }
  }

  /**
   * After our heartbeat lapsed the other nodes released our clients and may have admitted
   * others in their place: each of our sessions goes through the cluster-wide admission
   * again (oldest first), and the accounts that no longer fit under the limit are cut.
   */
  private async readmit(): Promise<void> {
    const { maxClients } = await this.store.readSettings();
    const sessions = [...this.hooks.sessions()].sort(
      (a, b) => Number(b.established) - Number(a.established) || (a.connectedSince ?? Infinity) - (b.connectedSince ?? Infinity),
    );
    const refused = new Set<string>();
    for (const s of sessions) {
      if (refused.has(s.account)) continue;
      if (!(await this.store.admit(this.node.name, s.cid, s.account, maxClients))) refused.add(s.account);
    }
    this.readmitDue = false;
    for (const account of refused) {
      this.hooks.log(`ferry-server: ${account}: cut, the connection limit of ${maxClients} filled up while this node was seen as down`);
      await this.hooks.kill(account).catch((err: Error) => this.hooks.log(`ferry-server: cutting ${account} failed: ${err.message}`));
    }
  }

  /** Events missed while cut off: cut sessions of accounts revoked or deleted meanwhile; fetch the CRL. */
  private catchUp(): Promise<void> {
    this.due.cuts = true;
    this.due.crl = true;
    return this.drain();
  }

  /** Runs what is due until nothing is; a call while a pass runs only leaves its flags for it. */
  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.stopped && (this.due.cuts || this.due.crl || this.due.limits)) {
        try {
          if (this.due.cuts) {
            this.due.cuts = false;
            await this.store.ownConnections(() => this.cutInactive());
          } else if (this.due.crl) {
            this.due.crl = false;
            await this.store.ownConnections(() => this.refreshCrl());
          } else {
            this.due.limits = false;
            await this.hooks.reloadLimits();
          }
        } catch (err) {
          // The database's trouble refuses new clients; the gateway's own is only said.
          if (err instanceof FerryError) this.setProblem(err);
          else this.hooks.log(`ferry-server: ${(err as Error).message}`);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Cuts this node's sessions that no longer have a right to run: the account revoked or
   * deleted, or the session's certificate revoked or not the account's current one (an
   * account revoked and added again keeps its name, so the name alone would keep a session
   * of the revoked certificate). The database decides, not the event, so a forged "kill"
   * cuts nobody.
   */
  private async cutInactive(): Promise<void> {
    const sessions = this.hooks.sessions();
    if (sessions.length === 0) return;
    const names = [...new Set(sessions.map((s) => s.account))];
    const serials = [...new Set(sessions.flatMap((s) => (s.serial ? [canonicalSerial(s.serial)] : [])))];
    const current = new Map(
      (await this.store.query<{ name: string; serial: string }>(`SELECT name, serial FROM ferry_accounts WHERE state = 'active' AND name = ANY($1::text[])`, [names])).rows.map(
        (r) => [r.name, canonicalSerial(r.serial)],
      ),
    );
    const revoked = new Set(
      serials.length === 0
        ? []
        : (await this.store.query<{ serial: string }>(`SELECT ltrim(lower(serial), '0') AS serial FROM ferry_revocations WHERE ltrim(lower(serial), '0') = ANY($1::text[])`, [serials])).rows.map((r) => r.serial),
    );
    const doomed = sessions.filter((s) => {
      const serial = current.get(s.account);
      if (serial === undefined) return true;
      // A session whose serial openvpn did not report is judged by its account alone.
      if (!s.serial) return false;
      const own = canonicalSerial(s.serial);
      return revoked.has(own) || own !== serial;
    });
    for (const s of doomed) await this.hooks.killSession(s.cid);
  }

  private async refreshCrl(): Promise<void> {
    await writeFileAtomic(this.store.local.crlFile, await this.store.readCrlPem());
  }

  private async listen(): Promise<void> {
    const client = this.store.newClient();
    client.on('error', () => {});
    client.on('end', () => {
      if (this.listener === client && !this.stopped) {
        this.listener = undefined;
        this.scheduleListen();
      }
    });
    client.on('notification', (msg) => {
      if (msg.channel === EVENTS_CHANNEL) this.onEvent(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
      if (this.stopped) {
        await client.end().catch(() => {});
        return;
      }
      this.listener = client;
    } catch (err) {
      await client.end().catch(() => {});
      this.setProblem(this.store.wrap(err));
      this.scheduleListen();
      return;
    }
    if (this.beats > 0) await this.catchUp();
  }

  private scheduleListen(): void {
    if (this.stopped) return;
    clearTimeout(this.listenerRetry);
    this.listenerRetry = setTimeout(() => void this.listen(), HEARTBEAT_MS);
  }

  /** A notification: validated, then only marks work due (see drain()). Never throws. */
  private onEvent(payload: string): void {
    let parsed: ReturnType<typeof ClusterEventSchema.safeParse> | undefined;
    if (payload.length <= MAX_EVENT_BYTES) {
      try {
        parsed = ClusterEventSchema.safeParse(JSON.parse(payload));
      } catch {
        parsed = undefined;
      }
    }
    if (!parsed?.success) {
      // Said once, then at 10, 100, 1000...: a flood of them must not flood the log.
      const n = ++this.ignoredEvents;
      if (/^10*$/.test(String(n))) this.hooks.log(`ferry-server: ignored ${n} malformed event(s) on ${EVENTS_CHANNEL} (some database user sends them)`);
      return;
    }
    const event = parsed.data;
    if (event.type === 'kill') this.due.cuts = true;
    else if (event.type === 'crl') this.due.crl = true;
    else this.due.limits = true;
    void this.drain();
  }
}

/** Closes a client at once, without the goodbye end() waits for (a deaf server never answers it). */
function drop(client: pg.Client): void {
  client.connection.stream.destroy();
}
