/**
 * The network lab: three network namespaces joined by veth pairs, for tests that need real
 * traffic and a real openvpn (see DESIGN.md, "The network lab").
 *
 *   client ns (c0 198.18.1.2) --veth-- (g0 198.18.1.1) gateway ns (g1 198.18.2.1) --veth-- (v0 198.18.2.10) vpc ns
 *   client2 ns (c0 198.18.3.2) --veth-- (g2 198.18.3.1) gateway ns
 *
 * The second client namespace lets two tunnels run at once, each with its own routes.
 *
 * Only 198.18.0.0/15 is used. The client has no route to the vpc subnet (only the VPN should
 * give it one); the gateway forwards; the vpc host routes the tunnel pool back via the gateway.
 *
 * Usage in a test file:
 *
 *   describe.skipIf(labSkipReason())('...', () => {
 *     let lab: Lab | undefined;
 *     beforeAll(async () => { lab = await createLab(); });
 *     afterAll(async () => { await lab?.teardown(); });
 *   });
 *
 * labSkipReason() returns why the lab cannot run here (the suite is then skipped), or
 * undefined; under CI=true a missing prerequisite throws instead, failing the file.
 *
 * Namespaces are named fy<ownerPid>x<4 hex>-c|-g|-v. A lab is torn down by teardown(), or
 * synchronously on process exit/SIGINT/SIGTERM; whatever a SIGKILLed owner leaves behind is
 * removed by sweepStaleLabs() (globalSetup, and every createLab), which only touches labs
 * whose owner pid is dead.
 */
import { execFile, execFileSync, spawn as spawnChild } from 'node:child_process';
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export type LabNs = 'client' | 'client2' | 'gateway' | 'vpc' | 'gateway2' | 'gateway3';

/**
 * createLab({ gateways: 2 | 3 }) adds gateway namespaces for several-gateway tests, each
 * with its own links (nothing of the default lab changes):
 *
 *   client ns (c1 198.18.4.2) --veth-- (g0 198.18.4.1) gateway2 ns (g1 198.18.5.1) --veth-- (v1 198.18.5.10) vpc ns
 *   client ns (c2 198.18.6.2) --veth-- (g0 198.18.6.1) gateway3 ns (g1 198.18.7.1) --veth-- (v2 198.18.7.10) vpc ns
 *
 * Each extra gateway routes the vpc subnet through its own link; which tunnel addresses the
 * vpc host sends back through which gateway is the test's (routeFromVpc).
 */
export interface LabOptions {
  gateways?: 1 | 2 | 3;
}

export interface ExtraGateway {
  ns: 'gateway2' | 'gateway3';
  /** The gateway's address facing the client, and the client's own on that link. */
  underlay: string;
  client: string;
  /** The gateway's address facing the vpc host. */
  vpcSide: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; 128 + signal number when killed by a signal (as a shell reports it). */
  code: number;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s) so a stuck command cannot hang a test. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Default ['ignore', 'pipe', 'pipe']: read stdout/stderr, or pass 'ignore', else the child blocks once a pipe fills. */
  stdio?: StdioOptions;
}

export interface Lab {
  id: string;
  /** Namespace names, for `ip netns exec` / `ip -n`. */
  ns: { client: string; client2: string; gateway: string; vpc: string; gateway2?: string; gateway3?: string };
  /** The gateways createLab({ gateways }) added beyond the first (empty by default). */
  extraGateways: ExtraGateway[];
  /** Sends the vpc host's traffic for `cidr` back through `gateway` (e.g. a node's pool slice). */
  routeFromVpc(cidr: string, gateway: 'gateway' | 'gateway2' | 'gateway3'): Promise<void>;
  /** setUnderlay for any gateway: pulls that gateway's client-facing cable. */
  setGatewayUnderlay(gateway: 'gateway' | 'gateway2' | 'gateway3', up: boolean): Promise<void>;
  /** Interface names (the same in every lab: each lives in its own namespace). */
  dev: { client: string; gatewayUnderlay: string; gatewayUnderlay2: string; gatewayVpc: string; vpcHost: string };
  /** Bare addresses (all /24) and subnets. */
  addr: {
    client: string;
    gatewayUnderlay: string;
    /** The second client namespace and the gateway's address facing it. */
    client2: string;
    gatewayUnderlay2: string;
    gatewayVpc: string;
    vpcHost: string;
    underlaySubnet: string;
    vpcSubnet: string;
    /** Tunnel pool for the VPN server; the lab only routes it (vpc host -> gateway). */
    pool: string;
  };
  /** Runs argv inside the namespace; resolves with the exit code, never rejects on non-zero. */
  exec(ns: LabNs, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but rejects (with stderr in the message) on a non-zero exit. */
  run(ns: LabNs, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running process inside the namespace; teardown kills it. */
  spawn(ns: LabNs, argv: string[], opts?: SpawnOptions): ChildProcess;
  /** Takes the client<->gateway link down (or back up) at the gateway end, like pulling the
   *  cable: the client keeps its address and route, packets just vanish. */
  setUnderlay(up: boolean): Promise<void>;
  /** True if at least one echo reply came back. */
  ping(fromNs: LabNs, ip: string, count?: number): Promise<boolean>;
  /** Kills everything in the namespaces and deletes them (and so the veths). Idempotent. */
  teardown(): Promise<void>;
}

const NAME_RE = /^fy(\d+)x[0-9a-f]{4}-[cdghiv]$/;
const ADDR = {
  client: '198.18.1.2',
  gatewayUnderlay: '198.18.1.1',
  client2: '198.18.3.2',
  gatewayUnderlay2: '198.18.3.1',
  gatewayVpc: '198.18.2.1',
  vpcHost: '198.18.2.10',
  underlaySubnet: '198.18.1.0/24',
  vpcSubnet: '198.18.2.0/24',
  pool: '198.18.100.0/24',
} as const;
const DEV = { client: 'c0', gatewayUnderlay: 'g0', gatewayUnderlay2: 'g2', gatewayVpc: 'g1', vpcHost: 'v0' } as const;

/** Why the lab cannot run on this machine, or undefined if it can. */
export function labPrerequisites(): string | undefined {
  if (process.platform !== 'linux') return `the network lab needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'the network lab needs root (ip netns, veth, tun)';
  // Root in a container may still lack CAP_NET_ADMIN (12) / CAP_SYS_ADMIN (21, for netns mounts).
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  if (capEff !== undefined) {
    const caps = BigInt(`0x${capEff}`);
    if (!(caps & (1n << 12n)) || !(caps & (1n << 21n))) return 'the network lab needs CAP_NET_ADMIN and CAP_SYS_ADMIN';
  }
  const missing = ['ip', 'openvpn', 'ping', 'sysctl'].filter((cmd) => !onPath(cmd));
  if (missing.length > 0) return `the network lab needs ${missing.join(', ')} on PATH (iproute2, openvpn, iputils-ping, procps)`;
  if (!existsSync('/dev/net/tun')) return 'the network lab needs /dev/net/tun';
  return undefined;
}

/** For describe.skipIf(): the reason to skip, or undefined. Under CI=true a missing
 *  prerequisite is a failure, not a skip, so this throws. */
export function labSkipReason(): string | undefined {
  const reason = labPrerequisites();
  if (reason !== undefined && process.env.CI === 'true') throw new Error(`network lab unavailable under CI: ${reason}`);
  return reason;
}

function onPath(cmd: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, cmd), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

// ---- synchronous helpers (exit handlers and the sweeper cannot await) ----

function listNamespacesSync(): string[] {
  try {
    // Lines look like "name" or "name (id: 3)".
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name !== '');
  } catch {
    return [];
  }
}

function nsPidsSync(ns: string): number[] {
  try {
    return parsePids(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return [];
  }
}

function parsePids(out: string): number[] {
  return out.split(/\s+/).filter((s) => s !== '').map(Number);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Kills every process in the namespace and deletes it. A namespace outlives its mount while
 *  processes remain in it, so kill first; deleting a missing namespace is not an error. */
function destroyNamespaceSync(ns: string): void {
  for (const pid of nsPidsSync(ns)) killQuietly(pid, 'SIGKILL');
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Not there (already deleted, or never created).
  }
}

/** Whether a process exists (EPERM: it does, just not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, just not ours
  }
}

/** Removes lab namespaces whose owner process is dead (a SIGKILLed or crashed test run).
 *  Never touches a lab whose owner is alive, so it is safe while other workers run. */
export function sweepStaleLabs(): void {
  if (labPrerequisites() !== undefined) return;
  for (const ns of listNamespacesSync()) {
    const owner = NAME_RE.exec(ns)?.[1];
    if (owner !== undefined && !isAlive(Number(owner))) destroyNamespaceSync(ns);
  }
}

// ---- teardown on exit: labs of this process still alive ----

const liveLabs = new Set<LabImpl>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const teardownAllSync = (): void => {
    for (const lab of liveLabs) lab.teardownSync();
  };
  process.on('exit', teardownAllSync);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      teardownAllSync();
      // Our listener replaced the default "die"; if nobody else handles the signal, restore it and re-raise.
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

// ---- async command helpers ----

const signalNumbers = osConstants.signals as Record<string, number | undefined>;

function execArgv(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty argv'));
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr, code: 0 });
        const e = err as NodeJS.ErrnoException & { code?: number | string; signal?: NodeJS.Signals | null };
        if (typeof e.code === 'number') return resolve({ stdout, stderr, code: e.code });
        if (e.signal) return resolve({ stdout, stderr, code: 128 + (signalNumbers[e.signal] ?? 0) });
        reject(err); // could not start at all (e.g. ENOENT)
      },
    );
  });
}

async function runArgv(argv: string[], opts?: ExecOptions): Promise<ExecResult> {
  const res = await execArgv(argv, opts);
  if (res.code !== 0) throw new Error(`\`${argv.join(' ')}\` exited ${res.code}: ${res.stderr.trim()}`);
  return res;
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

// ---- the lab ----

class LabImpl implements Lab {
  readonly ns: Lab['ns'];
  readonly dev = { ...DEV };
  readonly addr = { ...ADDR };
  private readonly children = new Set<ChildProcess>();
  private torndown: Promise<void> | undefined;
  readonly extraGateways: ExtraGateway[] = [];

  constructor(readonly id: string, gateways = 1) {
    this.ns = { client: `${id}-c`, client2: `${id}-d`, gateway: `${id}-g`, vpc: `${id}-v` };
    for (let k = 2; k <= gateways; k++) {
      const name = `gateway${k}` as 'gateway2' | 'gateway3';
      this.ns[name] = `${id}-${k === 2 ? 'h' : 'i'}`;
      this.extraGateways.push({ ns: name, underlay: `198.18.${2 * k}.1`, client: `198.18.${2 * k}.2`, vpcSide: `198.18.${2 * k + 1}.1` });
    }
  }

  private all(): string[] {
    return [this.ns.client, this.ns.client2, this.ns.gateway, this.ns.vpc, ...this.extraGateways.map((g) => this.ns[g.ns]!)];
  }

  private nsName(ns: LabNs): string {
    const name = this.ns[ns];
    if (name === undefined) throw new Error(`lab ${this.id} has no ${ns} namespace (createLab({ gateways }))`);
    return name;
  }

  async routeFromVpc(cidr: string, gateway: 'gateway' | 'gateway2' | 'gateway3'): Promise<void> {
    const via = gateway === 'gateway' ? ADDR.gatewayVpc : this.extraGateways.find((g) => g.ns === gateway)?.vpcSide;
    if (!via) throw new Error(`lab ${this.id} has no ${gateway}`);
    await runArgv(['ip', '-n', this.ns.vpc, 'route', 'replace', cidr, 'via', via]);
  }

  async setGatewayUnderlay(gateway: 'gateway' | 'gateway2' | 'gateway3', up: boolean): Promise<void> {
    await runArgv(['ip', '-n', this.nsName(gateway), 'link', 'set', DEV.gatewayUnderlay, up ? 'up' : 'down']);
  }

  exec(ns: LabNs, argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    return execArgv(['ip', 'netns', 'exec', this.nsName(ns), ...argv], opts);
  }

  run(ns: LabNs, argv: string[], opts?: ExecOptions): Promise<ExecResult> {
    return runArgv(['ip', 'netns', 'exec', this.nsName(ns), ...argv], opts);
  }

  spawn(ns: LabNs, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.torndown) throw new Error(`lab ${this.id} is torn down`);
    // `ip netns exec` execs the command in place, so child.pid is the command itself.
    const child = spawnChild('ip', ['netns', 'exec', this.nsName(ns), ...argv], {
      stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    child.once('error', () => this.children.delete(child));
    return child;
  }

  async setUnderlay(up: boolean): Promise<void> {
    await runArgv(['ip', '-n', this.ns.gateway, 'link', 'set', DEV.gatewayUnderlay, up ? 'up' : 'down']);
  }

  async ping(fromNs: LabNs, ip: string, count = 2): Promise<boolean> {
    // -W 1: a lost reply costs at most a second; -i 0.2 (allowed for root) keeps retries quick.
    const res = await this.exec(fromNs, ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', ip]);
    return res.code === 0;
  }

  teardown(): Promise<void> {
    this.torndown ??= this.doTeardown();
    return this.torndown;
  }

  private async doTeardown(): Promise<void> {
    // Ask our own processes to stop cleanly first (openvpn tidies its tun device), then kill
    // whatever is left in the namespaces, wait for them to die, and delete the namespaces.
    for (const child of this.children) child.kill('SIGTERM');
    await waitUntil(() => this.children.size === 0, 3_000);
    for (const ns of this.all()) {
      const pids = async (): Promise<number[]> => parsePids((await execArgv(['ip', 'netns', 'pids', ns])).stdout);
      for (const pid of await pids()) killQuietly(pid, 'SIGKILL');
      await waitUntil(async () => (await pids()).length === 0, 3_000);
      await execArgv(['ip', 'netns', 'del', ns]); // non-zero if it never existed: fine
    }
    liveLabs.delete(this);
  }

  /** For exit/signal handlers: no waiting, just kill and delete. */
  teardownSync(): void {
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of this.all()) destroyNamespaceSync(ns);
    liveLabs.delete(this);
  }

  async build(): Promise<void> {
    const { client: c, client2: d, gateway: g, vpc: v } = this.ns;
    for (const ns of this.all()) await runArgv(['ip', 'netns', 'add', ns]);
    // Create each veth end directly inside its namespace: no name ever appears in the root
    // namespace, so labs cannot clash with each other or with the host's interfaces.
    await runArgv(['ip', 'link', 'add', DEV.client, 'netns', c, 'type', 'veth', 'peer', 'name', DEV.gatewayUnderlay, 'netns', g]);
    await runArgv(['ip', 'link', 'add', DEV.gatewayVpc, 'netns', g, 'type', 'veth', 'peer', 'name', DEV.vpcHost, 'netns', v]);
    await runArgv(['ip', 'link', 'add', DEV.client, 'netns', d, 'type', 'veth', 'peer', 'name', DEV.gatewayUnderlay2, 'netns', g]);
    const configure: Array<[string, string, string]> = [
      [c, DEV.client, ADDR.client],
      [d, DEV.client, ADDR.client2],
      [g, DEV.gatewayUnderlay2, ADDR.gatewayUnderlay2],
      [g, DEV.gatewayUnderlay, ADDR.gatewayUnderlay],
      [g, DEV.gatewayVpc, ADDR.gatewayVpc],
      [v, DEV.vpcHost, ADDR.vpcHost],
    ];
    for (const ns of this.all()) await runArgv(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    for (const [ns, dev, ip] of configure) {
      await runArgv(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      await runArgv(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
    await runArgv(['ip', 'netns', 'exec', g, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Replies from the vpc host to VPN clients (tunnel pool) go back through the gateway.
    await runArgv(['ip', '-n', v, 'route', 'add', ADDR.pool, 'via', ADDR.gatewayVpc]);
    for (const [i, extra] of this.extraGateways.entries()) {
      const h = this.ns[extra.ns]!;
      const vpcAddr = extra.vpcSide.replace(/\.1$/, '.10');
      await runArgv(['ip', 'link', 'add', `c${i + 1}`, 'netns', c, 'type', 'veth', 'peer', 'name', DEV.gatewayUnderlay, 'netns', h]);
      await runArgv(['ip', 'link', 'add', DEV.gatewayVpc, 'netns', h, 'type', 'veth', 'peer', 'name', `v${i + 1}`, 'netns', v]);
      for (const [ns, dev, ip] of [[c, `c${i + 1}`, extra.client], [h, DEV.gatewayUnderlay, extra.underlay], [h, DEV.gatewayVpc, extra.vpcSide], [v, `v${i + 1}`, vpcAddr]] as const) {
        await runArgv(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
        await runArgv(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      }
      await runArgv(['ip', 'netns', 'exec', h, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      await runArgv(['ip', '-n', h, 'route', 'add', ADDR.vpcSubnet, 'via', vpcAddr]);
    }
  }
}

/** Builds a fresh lab. Sweeps stale labs first; on failure removes what it had built. */
export async function createLab(opts: LabOptions = {}): Promise<Lab> {
  const reason = labPrerequisites();
  if (reason !== undefined) throw new Error(reason);
  sweepStaleLabs();
  installExitHooks();
  const existing = new Set(listNamespacesSync());
  let id: string;
  do id = `fy${process.pid}x${randomBytes(2).toString('hex')}`;
  while (['c', 'd', 'g', 'h', 'i', 'v'].some((suffix) => existing.has(`${id}-${suffix}`)));
  const lab = new LabImpl(id, opts.gateways ?? 1);
  liveLabs.add(lab); // before building, so an exit mid-build still cleans up
  try {
    await lab.build();
  } catch (err) {
    await lab.teardown();
    throw err;
  }
  return lab;
}
