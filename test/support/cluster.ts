/** Several gateways in the lab sharing one real PostgreSQL (test/support/postgres.ts). */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lab } from '../lab/lab.js';
import { FERRY_SERVER, ferryServer, tempDir, type CliResult } from './cli.js';
import { STATE } from './ferry.js';
import { Watched } from './processes.js';

export type GatewayNs = 'gateway' | 'gateway2' | 'gateway3';

export interface ClusterNodeSpec {
  name: string;
  ns: GatewayNs;
  host: string;
  port: number;
  /** This host's local directory (cluster key, run/). */
  dir: string;
}

export class TestCluster {
  readonly gateways = new Map<string, Watched>();

  constructor(
    readonly lab: Lab,
    readonly url: string,
    readonly nodes: ClusterNodeSpec[],
  ) {}

  /** init --database on the first node, node add for the others, the key file copied to each host, the vpc routes per slice. */
  static async create(lab: Lab, url: string, opts: { nodes: number; proto?: 'tcp' | 'udp'; extra?: string[] }): Promise<TestCluster> {
    const base = await tempDir('ferry-cluster-');
    const nodes: ClusterNodeSpec[] = [
      { name: 'a', ns: 'gateway', host: lab.addr.gatewayUnderlay, port: 1194, dir: path.join(base, 'a') },
      ...lab.extraGateways.slice(0, opts.nodes - 1).map((g, i) => ({ name: String.fromCharCode(98 + i), ns: g.ns, host: g.underlay, port: 1194, dir: path.join(base, String.fromCharCode(98 + i)) })),
    ];
    const cluster = new TestCluster(lab, url, nodes);
    const first = nodes[0]!;
    await cluster.must(['init', '--node', first.name, '--host', `${first.host}`, '--port', String(first.port), '--subnet', lab.addr.vpcSubnet, '--pool', lab.addr.pool, '--proto', opts.proto ?? 'tcp', ...(opts.extra ?? [])]);
    for (const node of nodes.slice(1)) {
      await cluster.must(['node', 'add', node.name, '--host', `${node.host}:${node.port}`]);
      await mkdir(node.dir, { recursive: true, mode: 0o700 });
      await copyFile(path.join(first.dir, 'cluster.key'), path.join(node.dir, 'cluster.key'));
    }
    const listed = JSON.parse((await cluster.must(['node', 'list', '--json'])).stdout) as Array<{ name: string; pool: string }>;
    for (const node of nodes) await lab.routeFromVpc(listed.find((n) => n.name === node.name)!.pool, node.ns);
    return cluster;
  }

  node(name: string): ClusterNodeSpec {
    return this.nodes.find((n) => n.name === name)!;
  }

  /** ferry-server with this cluster's database, as node `on` (default the first). */
  cli(args: string[], on = 'a'): Promise<CliResult> {
    return ferryServer([...args, '--database', this.url, '--dir', this.node(on).dir]);
  }

  async must(args: string[], on = 'a'): Promise<CliResult> {
    const result = await this.cli(args, on);
    if (result.code !== 0) throw new Error(`ferry-server ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result;
  }

  async addAccounts(names: string[]): Promise<Map<string, string>> {
    const parsed = JSON.parse((await this.must(['client', 'add', '--json', ...names])).stdout) as Array<{ account: string; password?: string }>;
    return new Map(parsed.map((a) => [a.account, a.password ?? '']));
  }

  /** The bundle, unzipped: ca.crt client.crt client.key ACCOUNT.ovpn (listing every node). */
  async bundle(account: string): Promise<{ dir: string; zip: string }> {
    const { unzipSync } = await import('fflate');
    const dir = await tempDir(`ferry-${account}-`);
    const zip = path.join(dir, `${account}.zip`);
    await this.must(['client', 'bundle', account, '--out', zip]);
    for (const [name, data] of Object.entries(unzipSync(await readFile(zip)))) await writeFile(path.join(dir, name), data, { mode: 0o600 });
    return { dir, zip };
  }

  /** `ferry-server run` for node `name`; `env` replaces the environment (default this process's). */
  start(name: string, env?: NodeJS.ProcessEnv): Watched {
    const node = this.node(name);
    const w = new Watched(this.lab.spawn(node.ns, [process.execPath, FERRY_SERVER, 'run', '--node', name, '--database', this.url, '--dir', node.dir], env ? { env } : {}), `gateway ${name}`);
    this.gateways.set(name, w);
    return w;
  }

  async ready(name: string, env?: NodeJS.ProcessEnv): Promise<Watched> {
    const w = this.start(name, env);
    await w.waitFor(/ferry-server: gateway .* ready/);
    return w;
  }

  /** SIGKILL for every process in the node's namespace: ferry-server and its openvpn, as a host dying. Resolves with performance.now() just before the first kill. */
  async killNode(name: string): Promise<number> {
    const ns = this.lab.ns[this.node(name).ns]!;
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    const at = performance.now();
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await this.gateways.get(name)?.exited;
    return at;
  }

  async status(on = 'a'): Promise<{ nodes: Array<{ name: string; state: string }>; clients: Array<{ account: string; node: string; virtualAddress: string }> }> {
    return JSON.parse((await this.must(['status', '--json'], on)).stdout);
  }

  /** The database's name (for PostgresInstance.sql). */
  db(): string {
    return decodeURIComponent(new URL(this.url).pathname.slice(1));
  }

  async stopAll(): Promise<void> {
    for (const w of this.gateways.values()) await w.stop();
  }
}

/**
 * The failover every cluster test checks: a `ferry connect` session CONNECTED through node
 * a; node a SIGKILLed; the session CONNECTED again within `boundMs`, reaching the vpc host,
 * and node b's log shows it admitted `account` by its session token, with no password sent,
 * and the user never asked (no AUTH state, no failure). Resolves with kill → CONNECTED in ms.
 */
export async function expectFailoverByToken(cluster: TestCluster, session: Watched, account: string, boundMs: number): Promise<number> {
  const a = cluster.gateways.get('a')!;
  const b = cluster.gateways.get('b')!;
  await session.waitFor(STATE('CONNECTED'));
  await a.waitFor(new RegExp(`admitted ${account} \\(CONNECT\\) by certificate and password`));
  if (!(await cluster.lab.ping('client', cluster.lab.addr.vpcHost, 2))) throw new Error('no ping to the vpc host through node a');
  const fromB = b.lines.length;
  const killedAt = await cluster.killNode('a');
  await session.waitForCount(STATE('CONNECTED'), 2, boundMs);
  const failoverMs = performance.now() - killedAt;
  await b.waitFor(new RegExp(`admitted ${account} \\(CONNECT\\) by session token \\(session_state=Authenticated, no password sent\\)`));
  const logB = b.lines.slice(fromB).join('\n');
  if (new RegExp(`${account}.*by certificate and password`).test(logB)) throw new Error(`node b asked ${account} for the password:\n${logB}`);
  const afterLogin = session.lines.slice(session.lines.findIndex((l) => STATE('CONNECTED').test(l)) + 1).join('\n');
  if (!/"state":"RECONNECTING"/.test(afterLogin) || /"state":"AUTH"|password required|AUTH_FAILED/.test(afterLogin)) {
    throw new Error(`the session did not reconnect without asking:\n${afterLogin}`);
  }
  if (!(await cluster.lab.ping('client', cluster.lab.addr.vpcHost, 2))) throw new Error('no ping to the vpc host through node b');
  return failoverMs;
}
