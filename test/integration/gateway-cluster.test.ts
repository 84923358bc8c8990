/**
 * Two gateways sharing state in a real PostgreSQL (a private instance, unix socket only),
 * in the lab: failover without re-authentication, the cluster-wide connection limit, a
 * revocation on one node cutting the session on the other, and a database outage.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { toPem } from '../../server/pki.js';
import { SecretBox } from '../../server/secret-box.js';
import { expectFailoverByToken, TestCluster } from '../support/cluster.js';
import { clientHome, ferry, keychainSkipReason, startConnect, STATE, statesOf, type ClientHome } from '../support/ferry.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';
import { AUTH_FAILED, CONNECTED, handWrittenConfig, startOpenvpnClient, type Watched } from '../support/processes.js';
import { until } from '../support/until.js';
import { z } from 'zod';

const skip = labSkipReason() ?? postgresSkipReason() ?? (await keychainSkipReason());

/** The bound this test states for failover: node death (or a cut link) to CONNECTED on the other node. */
const FAILOVER_BOUND_MS = 15_000;

/** A password in the database URL (trust authentication ignores it): a leak of the URL is then findable by this string. */
const DB_PASSWORD = 'pg-pw-must-not-leak-7f3c';

describe.skipIf(skip)('two gateways sharing PostgreSQL', () => {
  let pg: PostgresInstance;
  let lab: Lab;
  let cluster: TestCluster;
  let passwords: Map<string, string>;
  const running: Watched[] = [];
  const bundles = new Map<string, string>();

  beforeAll(async () => {
    [pg, lab] = await Promise.all([PostgresInstance.create(), createLab({ gateways: 2 })]);
    const url = new URL(await pg.createDatabase());
    url.password = DB_PASSWORD;
    cluster = await TestCluster.create(lab, url.href, { nodes: 2 });
    passwords = await cluster.addAccounts(['alice', 'bob', 'carol', 'dave', 'erin']);
    // Node a also has the URL in its environment, as an operator's unit file would set it.
    await Promise.all([cluster.ready('a', { ...process.env, FERRY_SERVER_DATABASE: url.href, FERRY_SERVER_KEY_FILE: path.join(cluster.node('a').dir, 'cluster.key') }), cluster.ready('b')]);
  }, 120_000);

  afterAll(async () => {
    for (const w of running) await w.stop('SIGINT');
    await cluster?.stopAll();
    await lab?.teardown();
    await pg?.destroy();
  });

  /** A stock openvpn client that knows only node `on` (its address), with the account's password; `routes`: it takes the pushed route to the vpc. */
  async function stockClient(account: string, on: 'a' | 'b', opts: { routes?: boolean } = {}): Promise<Watched> {
    const dir = bundles.get(account) ?? (await cluster.bundle(account)).dir; // fetched once: later the account is revoked, or the database away
    bundles.set(account, dir);
    const node = cluster.node(on);
    const config = await handWrittenConfig(dir, { host: node.host, port: node.port, proto: 'tcp', credentials: [account, passwords.get(account)!] });
    // Several tunnels share the client namespace: only one may take the pushed route.
    const w = startOpenvpnClient(lab, config, opts.routes ? [] : ['--pull-filter', 'ignore', 'route']);
    running.push(w);
    return w;
  }

  it('bundles list every node; the key file is 0600 and the secrets in the database are sealed', async () => {
    const { dir } = await cluster.bundle('alice');
    const { readFile, stat } = await import('node:fs/promises');
    const ovpn = await readFile(path.join(dir, 'alice.ovpn'), 'utf8');
    expect(ovpn.match(/^remote .*$/gm)).toEqual([`remote ${cluster.node('a').host} 1194`, `remote ${cluster.node('b').host} 1194`]);
    expect((await stat(path.join(cluster.node('a').dir, 'cluster.key'))).mode & 0o777).toBe(0o600);
    const db = new URL(cluster.url).pathname.slice(1);
    const row = (await pg.sql(db, 'SELECT ca_key, server_key, token_secret FROM ferry_server')).rows[0] as Record<string, string>;
    for (const value of Object.values(row)) {
      expect(value).toMatch(/^sealed:v1:/);
      expect(value).not.toMatch(/PRIVATE KEY|OpenVPN auth-token/);
    }
    const dump = JSON.stringify((await pg.sql(db, 'SELECT key_sealed FROM ferry_client_pairs')).rows);
    expect(dump).not.toMatch(/PRIVATE KEY/);
  });

  it("openvpn's environment holds nothing of ferry-server's: no database URL or password, no FERRY_ variable", async () => {
    for (const name of ['a', 'b']) {
      const ns = lab.ns[cluster.node(name).ns]!;
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
      const openvpn = pids.filter((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'openvpn');
      expect(openvpn, `node ${name}`).toHaveLength(1);
      const environ = readFileSync(`/proc/${openvpn[0]}/environ`, 'utf8').split('\0').filter(Boolean);
      expect(environ.join('\n')).not.toContain(DB_PASSWORD);
      expect(environ.join('\n')).not.toMatch(/postgres(ql)?:\/\//);
      expect(environ.filter((v) => v.startsWith('FERRY_'))).toEqual([]);
      expect(environ.some((v) => v.startsWith('PATH='))).toBe(true); // the environ was read, and holds what openvpn needs
    }
  });

  it('failover: node A dies (SIGKILL), the ferry client is CONNECTED through node B by its token, no password sent', async () => {
    const client: ClientHome = await clientHome();
    const { zip } = await cluster.bundle('alice');
    const imported = await ferry(client, ['import', zip, '--name', 'alice']);
    expect(imported.code, imported.stderr).toBe(0);
    const session = startConnect(lab, client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    running.push(session);
    const failoverMs = await expectFailoverByToken(cluster, session, 'alice', FAILOVER_BOUND_MS);
    console.log(`failover after SIGKILL: ${Math.round(failoverMs)} ms`);

    // The dead node is shown down and its client released; alice shows on b.
    await until(async () => {
      const s = await cluster.status('b');
      return s.nodes.find((n) => n.name === 'a')?.state === 'down' && s.clients.filter((c) => c.account === 'alice').every((c) => c.node === 'b');
    }, 'node a down and alice only on node b', 15_000);

    // Node A comes back (its heartbeat stopped, so it may be claimed again).
    await cluster.ready('a');

    // A cut link: B's cable pulled; the pushed ping-restart moves the client to node A.
    const cutAt = performance.now();
    await lab.setGatewayUnderlay('gateway2', false);
    try {
      await session.waitForCount(STATE('CONNECTED'), 3, FAILOVER_BOUND_MS);
      const cutMs = performance.now() - cutAt;
      console.log(`failover after a cut link: ${Math.round(cutMs)} ms`);
      expect(cutMs).toBeLessThan(FAILOVER_BOUND_MS);
      expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
      await cluster.gateways.get('a')!.waitFor(/admitted alice \(CONNECT\) by session token \(session_state=Authenticated, no password sent\)/);
    } finally {
      await lab.setGatewayUnderlay('gateway2', true);
      await session.stop('SIGINT');
    }
  }, 120_000);

  it('the connection limit counts every node: limit 2, four clients at once over both nodes, exactly two admitted', async () => {
    await cluster.must(['set', '--max-clients', '2']);
    const clients = await Promise.all([stockClient('bob', 'a'), stockClient('carol', 'a'), stockClient('dave', 'b'), stockClient('erin', 'b')]);
    try {
      const outcomes = await Promise.all(clients.map((c) => c.waitForAny({ refused: AUTH_FAILED, connected: CONNECTED }, 30_000)));
      expect(outcomes.filter((o) => o === 'connected')).toHaveLength(2);
      expect(outcomes.filter((o) => o === 'refused')).toHaveLength(2);
      for (const [i, c] of clients.entries()) if (outcomes[i] === 'refused') expect(c.lines.join('\n')).toMatch(/connection limit reached \(2 clients\)/);
      const log = [...cluster.gateways.values()].flatMap((g) => g.lines).join('\n');
      expect(log).toMatch(/refused \w+: connection limit of 2 reached across the cluster/);
      await until(async () => (await cluster.status()).clients.length === 2, 'status to list the two admitted clients', 5_000);
    } finally {
      for (const c of clients) await c.stop();
      await cluster.must(['set', '--max-clients', '100']);
    }
  }, 60_000);

  it('node A frozen (SIGSTOP) past the heartbeat timeout: B fills the limit; A back (SIGCONT) cuts its client that no longer fits', async () => {
    await cluster.must(['set', '--max-clients', '1']);
    const a = cluster.gateways.get('a')!;
    const NodesSchema = z.object({ nodes: z.array(z.object({ name: z.string(), state: z.string(), pid: z.number().nullable() })) });
    const pid = NodesSchema.parse(await cluster.status()).nodes.find((n) => n.name === 'a')?.pid;
    expect(pid).toBeGreaterThan(0);
    const bob = await stockClient('bob', 'a');
    let carol: Watched | undefined;
    try {
      await bob.waitFor(CONNECTED);
      await until(async () => (await cluster.status('b')).clients.some((c) => c.account === 'bob'), 'bob in status', 5_000);
      process.kill(pid!, 'SIGSTOP');
      await until(async () => (await cluster.status('b')).nodes.find((n) => n.name === 'a')?.state === 'down', 'node a down', 20_000);
      carol = await stockClient('carol', 'b');
      await carol.waitFor(CONNECTED); // bob no longer counts: a is down
      const from = a.lines.length;
      process.kill(pid!, 'SIGCONT');
      await until(() => a.lines.slice(from).some((l) => /bob: cut, the connection limit of 1 filled up while this node was seen as down/.test(l)), 'node a to cut bob', 20_000);
      await bob.waitFor(/Halt command was pushed by server|process exiting/);
      await until(async () => (await cluster.status('b')).clients.map((c) => c.account).join() === 'carol', 'only carol counted', 10_000);
    } finally {
      process.kill(pid!, 'SIGCONT');
      await bob.stop();
      await carol?.stop();
      await cluster.must(['set', '--max-clients', '100']);
    }
  }, 90_000);

  it('revoke on node B cuts the session on node A within a second; it cannot come back on any node', async () => {
    const bob = await stockClient('bob', 'a');
    await bob.waitFor(CONNECTED);
    await until(async () => (await cluster.status('b')).clients.some((c) => c.account === 'bob' && c.node === 'a'), 'bob on node a in status', 5_000);
    const revoke = await cluster.must(['client', 'revoke', 'bob'], 'b');
    const cut = /live session cut on node a \((\d+) ms\)/.exec(revoke.stdout);
    expect(cut, revoke.stdout).not.toBeNull();
    expect(Number(cut![1])).toBeLessThan(1_000);
    await bob.waitFor(/Halt command was pushed by server|process exiting/);
    await bob.exited;
    for (const on of ['a', 'b'] as const) {
      const gateway = cluster.gateways.get(on)!;
      const from = gateway.lines.length;
      const again = await stockClient('bob', on);
      await until(() => gateway.lines.slice(from).some((l) => /CN=bob.*(REVOKED|revoked)|revoked.*CN=bob|refused bob: account revoked/i.test(l)), `node ${on} to refuse bob`, 15_000);
      expect(again.lines.join('\n')).not.toMatch(CONNECTED);
      await again.stop();
    }
  }, 60_000);

  it('an account revoked and added again at once: node A cuts the session of the revoked certificate, though the name is active again', async () => {
    for (const [name, password] of await cluster.addAccounts(['frank'])) passwords.set(name, password);
    const frank = await stockClient('frank', 'a');
    await frank.waitFor(CONNECTED);
    const db = new URL(cluster.url).pathname.slice(1);
    const old = z.string().regex(/^[0-9a-f]+$/).parse((await pg.sql(db, `SELECT serial FROM ferry_accounts WHERE name = 'frank'`)).rows[0]?.serial);
    // What "client revoke frank" then "client add frank" leave (the name active, on a new
    // certificate), committed in one step with the revoke's cut event: when node A looks,
    // only the certificate tells the session's right to run.
    await pg.sql(
      db,
      `BEGIN;
       INSERT INTO ferry_revocations (serial, account, revoked_at) VALUES ('${old}', 'frank', now()::text);
       UPDATE ferry_accounts SET serial = '${'f'.repeat(40)}' WHERE name = 'frank';
       SELECT pg_notify('ferry_events', '{"type":"kill","account":"frank"}');
       COMMIT;`,
    );
    await frank.waitFor(/Halt command was pushed by server|process exiting/, 15_000);
    await frank.exited;
    expect(cluster.gateways.get('a')!.lines.some((l) => /cut a session of frank .*revoked/.test(l))).toBe(true);
  }, 60_000);

  it('PostgreSQL stopped for 10 s: tunnels carry traffic, new clients are refused with the reason, then admitted again', async () => {
    const carol = await stockClient('carol', 'a', { routes: true });
    await carol.waitFor(CONNECTED);
    const a = cluster.gateways.get('a')!;
    const b = cluster.gateways.get('b')!;
    // 11 s of pings through the tunnel, one every 0.2 s, spanning the whole outage.
    const pings = lab.exec('client', ['ping', '-n', '-q', '-c', '55', '-i', '0.2', '-W', '1', lab.addr.vpcHost], { timeoutMs: 30_000 });
    await sleep(300);
    const stoppedAt = performance.now();
    await pg.stop();
    try {
      await a.waitFor(/cannot reach the database.*new connections are refused until the database is back/, 10_000);
      await b.waitFor(/cannot reach the database.*new connections are refused until the database is back/, 10_000);
      const dave = await stockClient('dave', 'b');
      expect(await dave.waitForAny({ refused: AUTH_FAILED, connected: CONNECTED })).toBe('refused');
      expect(dave.lines.join('\n')).toMatch(/database unreachable/);
      expect(b.lines.join('\n')).toMatch(/refused dave: the state database is unreachable, new connections are refused/);
      const status = await cluster.cli(['status'], 'a');
      expect(status.stdout).toMatch(/database UNREACHABLE: cannot reach the database/);
      expect(status.stdout).toMatch(/node +a \(this host\): running, 1 clients/);
      await sleep(Math.max(0, 10_000 - (performance.now() - stoppedAt))); // the outage lasts 10 s
    } finally {
      await pg.start();
    }
    const ping = await pings;
    expect(`${ping.stdout}${ping.stderr}`).toMatch(/55 packets transmitted, 55 received, 0% packet loss/);
    await a.waitFor(/database is reachable again/, 15_000);
    await b.waitFor(/database is reachable again/, 15_000);
    const erin = await stockClient('erin', 'b');
    await erin.waitFor(CONNECTED);
    await until(async () => (await cluster.status()).clients.some((c) => c.account === 'carol' && c.node === 'a'), 'carol back in status', 10_000);
    await erin.stop();
    await carol.stop();
  }, 90_000);
  it('a node with another token secret refuses the session token: the ferry client logs in again once with the piped password, never FAILED', async () => {
    // Node b gets a token secret of its own: sealed into the database and b restarted (it
    // writes the secret for its openvpn at start); node a keeps the one it started with.
    const box = await SecretBox.load(path.join(cluster.node('a').dir, 'cluster.key'));
    const db = new URL(cluster.url).pathname.slice(1);
    await cluster.gateways.get('b')!.stop();
    await pg.sql(db, 'UPDATE ferry_server SET token_secret = $1', [box.seal(toPem(randomBytes(128), 'OpenVPN auth-token server key'), 'token_secret')]);
    const b = await cluster.ready('b');
    const a = cluster.gateways.get('a')!;
    const client: ClientHome = await clientHome();
    const imported = await ferry(client, ['import', (await cluster.bundle('dave')).zip, '--name', 'dave']);
    expect(imported.code, imported.stderr).toBe(0);
    const session = startConnect(lab, client, 'dave', { stdin: `${passwords.get('dave')}\n`, args: ['--password-stdin'] });
    running.push(session);
    try {
      await session.waitFor(STATE('CONNECTED'));
      await a.waitFor(/admitted dave \(CONNECT\) by certificate and password/);
      const fromB = b.lines.length;
      await cluster.killNode('a');
      await session.waitForCount(STATE('CONNECTED'), 2, 60_000);
      const logB = b.lines.slice(fromB).join('\n');
      expect(logB).toMatch(/refused dave: session token invalid/);
      expect(logB).toMatch(/admitted dave \(CONNECT\) by certificate and password/);
      // Nobody asked, nothing failed: one drop, back up through node b.
      expect(statesOf(session)).toEqual(['CONNECTING', 'AUTH', 'CONNECTED', 'RECONNECTING', 'CONNECTED']);
      expect(session.lines.join('\n')).not.toMatch(/rejected the password|session expired/);
      expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    } finally {
      await session.stop('SIGINT');
      await until(async () => (await cluster.status('b')).nodes.find((n) => n.name === 'a')?.state === 'down', 'node a down', 15_000);
      await cluster.ready('a');
    }
  }, 120_000);
  it('node remove: refused while node b runs; a node removed while it was frozen stops itself when it wakes (its addresses may go to another node)', async () => {
    const refused = await cluster.cli(['node', 'remove', 'b']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/node "b" is running \(pid \d+, last heartbeat .*\): stop "ferry-server run --node b" on its host first/);
    const b = cluster.gateways.get('b')!;
    const pid = b.child.pid!;
    process.kill(pid, 'SIGSTOP'); // frozen, as a host cut off: its heartbeat goes stale
    try {
      await until(async () => (await cluster.status()).nodes.find((n) => n.name === 'b')?.state === 'down', 'node b down', 15_000);
      const removed = await cluster.must(['node', 'remove', 'b']);
      expect(removed.stdout).toMatch(/node "b" removed: client addresses \S+ released/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(await b.exited).not.toBe(0);
    expect(b.lines.join('\n')).toMatch(/node "b" was removed from the database \("ferry-server node remove"\); stopping/);
    expect((await cluster.status()).nodes.map((n) => n.name)).toEqual(['a']);
  }, 60_000);

  it('delete --database: refused while accounts exist, then while node a runs (its real pid and host named); once it stopped, only Ferry\'s tables go', async () => {
    await pg.sql(cluster.db(), `CREATE TABLE app_notes (note text); INSERT INTO app_notes VALUES ('keep me')`);
    // Every account the earlier tests added, as the server lists them.
    const accounts = z.array(z.object({ account: z.string() })).parse(JSON.parse((await cluster.must(['client', 'list', '--json'])).stdout)).map((c) => c.account);
    expect(accounts.length).toBeGreaterThan(0);
    const withAccounts = await cluster.cli(['delete', '--yes']);
    expect(withAccounts.code).toBe(2);
    expect(withAccounts.stderr).toContain(`: ${accounts.length} SSL client accounts exist (${accounts.join(', ')}); delete them first`);
    for (const w of running.splice(0)) await w.stop('SIGINT');
    await cluster.must(['client', 'delete', ...accounts]);

    const NodesSchema = z.object({ nodes: z.array(z.object({ name: z.string(), pid: z.number().nullable() })) });
    const pid = NodesSchema.parse(await cluster.status()).nodes.find((n) => n.name === 'a')?.pid;
    expect(pid).toBeGreaterThan(0);
    const whileRunning = await cluster.cli(['delete', '--yes']);
    expect(whileRunning.code).toBe(1);
    expect(whileRunning.stderr).toContain(`1 node is running ("a" pid ${pid} on ${cluster.node('a').host}:${cluster.node('a').port}, last heartbeat `);
    expect(whileRunning.stderr).toContain('stop "ferry-server run --node NAME" on its host first');
    expect((await cluster.status()).nodes.map((n) => n.name)).toEqual(['a']);

    const a = cluster.gateways.get('a')!;
    await a.stop(); // a clean stop releases the node at once
    cluster.gateways.delete('a');
    const deleted = await cluster.must(['delete', '--yes']);
    expect(deleted.stdout).toMatch(/^deleted SSL server "\S+": dropped Ferry's tables/);
    expect(deleted.stdout).toContain(`on this one ${path.join(cluster.node('a').dir, 'cluster.key')}`);
    const left = (await pg.sql(cluster.db(), `SELECT relname FROM pg_class WHERE relname LIKE 'ferry%'`)).rows;
    expect(left).toEqual([]);
    expect((await pg.sql(cluster.db(), 'SELECT note FROM app_notes')).rows).toEqual([{ note: 'keep me' }]);
  }, 60_000);
});
