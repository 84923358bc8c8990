/**
 * Shared setup for bench:connect and bench:throughput: the network lab (test/lab/lab.ts), a
 * ferry-server gateway with one two-factor account, that account's bundle imported with
 * `ferry import`, and the anchor — a raw openvpn config equivalent to the one Ferry runs
 * (buildClientConfig for the same profile files, management lines dropped, password from a
 * 0600 file). Also: processes whose output lines carry arrival times, and table printing.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { FERRY_VERSION, FerryClient } from '../core/client.js';
import { buildClientConfig, type EngineSpec } from '../core/engine/config.js';
import { MemorySecretStore } from '../core/secrets/secret-store.js';
import { createLab, labPrerequisites, type Lab, type LabNs, type LabOptions } from '../test/lab/lab.js';
import { StateDir } from '../server/store.js';
import { addAccounts, FERRY, FERRY_SERVER, ferryServer } from '../test/support/cli.js';
import { clientHome, ferry, type ClientHome } from '../test/support/ferry.js';
import { startStockServer, type StockServer } from '../test/support/stock-server.js';

const execFileAsync = promisify(execFile);

export const CONNECTED_LINE = /"state":"CONNECTED"/;
export const INIT_LINE = /Initialization Sequence Completed/;
export const READY_LINE = /ferry-server: gateway .* ready/;
/** openvpn's first TLS packet from the gateway; the management state AUTH is set at the same point. */
export const TLS_START_LINE = /TLS: Initial packet from/;
export const AUTH_STATE_LINE = /"state":"AUTH"/;

export interface TimedLine {
  at: number;
  line: string;
}

/** A lab process whose stdout/stderr lines are kept with their arrival time (performance.now()). */
export class Proc {
  readonly startedAt = performance.now();
  readonly lines: TimedLine[] = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<{ re: RegExp; from: number; resolve: (l: TimedLine) => void }> = [];

  constructor(readonly child: ChildProcess, readonly label: string) {
    let partial = '';
    const onData = (chunk: Buffer) => {
      const at = performance.now();
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts.filter(Boolean)) {
        const entry = { at, line };
        this.lines.push(entry);
        const index = this.lines.length - 1;
        this.waiters = this.waiters.filter((w) => (index >= w.from && w.re.test(line) ? (w.resolve(entry), false) : true));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  }

  /** The first line at index ≥ `from` matching `re` (already seen or future). */
  waitFor(re: RegExp, timeoutMs = 30_000, from = 0): Promise<TimedLine> {
    const seen = this.lines.slice(from).find((l) => re.test(l.line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label}: no line matching ${re} within ${timeoutMs} ms; last output:\n  ${this.lines.slice(-15).map((l) => l.line).join('\n  ')}`)), timeoutMs);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.label} exited (${code}) before printing ${re}; last output:\n  ${this.lines.slice(-15).map((l) => l.line).join('\n  ')}`));
      });
      this.waiters.push({ re, from, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface Gateway {
  proto: 'tcp' | 'udp';
  serverDir: string;
  password: string;
  /** The profile name in `user`'s FERRY_HOME. */
  profile: string;
  user: ClientHome;
  /** The anchor's config file (equivalent to Ferry's, password in a 0600 file). */
  rawConfig: string;
  /** The running `ferry-server run`; replaced by restart(). */
  proc: Proc;
  /** Stops the gateway, waits `gapMs`, starts a new one; resolves with it once it printed "ready". */
  restart(gapMs?: number): Promise<Proc>;
}

/** A stock openvpn server next to the ferry-server gateway, and the raw client config for it. */
export interface StockAnchor {
  server: StockServer;
  port: number;
  /** gw.rawConfig with its remote pointing at the stock server. */
  rawConfig: string;
}

/** Where the stock anchor listens, and its own tunnel pool (it runs next to the gateway). */
const STOCK_PORT = 1195;
const STOCK_POOL = '198.18.101.0/24';

/** The lab plus everything the benchmark created, removed by cleanup(). */
export class BenchLab {
  private readonly procs = new Set<Proc>();
  private readonly stock = new Set<StockServer>();
  private readonly dirs: string[] = [];

  private constructor(readonly lab: Lab, readonly work: string) {
    this.dirs.push(work);
  }

  static async create(opts: LabOptions = {}): Promise<BenchLab> {
    const missing = labPrerequisites();
    if (missing) throw new Error(missing);
    const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-'));
    try {
      return new BenchLab(await createLab(opts), work);
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
  }

  describe(): string {
    const { lab } = this;
    return `lab: test/lab/lab.ts createLab(), netns ${lab.ns.client} -> ${lab.ns.gateway} -> ${lab.ns.vpc}; underlay ${lab.addr.underlaySubnet}, vpc ${lab.addr.vpcSubnet}, pool ${lab.addr.pool}`;
  }

  spawn(ns: LabNs, argv: string[], label: string, opts: { env?: NodeJS.ProcessEnv; stdin?: boolean } = {}): Proc {
    const child = this.lab.spawn(ns, argv, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
    const proc = new Proc(child, label);
    this.procs.add(proc);
    void proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  async startGatewayProc(serverDir: string): Promise<Proc> {
    const proc = this.spawn('gateway', [process.execPath, FERRY_SERVER, 'run', '--dir', serverDir], 'ferry-server run');
    await proc.waitFor(READY_LINE, 60_000);
    return proc;
  }

  /** ferry-server init (two-factor on) + one account + bundle, gateway running, bundle imported by `ferry import`, raw config written. */
  async gateway(proto: 'tcp' | 'udp'): Promise<Gateway> {
    const { lab } = this;
    const base = path.join(this.work, proto);
    const serverDir = path.join(base, 'server');
    const init = await ferryServer(['init', '--dir', serverDir, '--name', `bench-${proto}`, '--host', lab.addr.gatewayUnderlay, '--proto', proto, '--subnet', lab.addr.vpcSubnet, '--pool', lab.addr.pool]);
    if (init.code !== 0) throw new Error(`ferry-server init failed: ${init.stderr.trim()}`);
    const account = 'bench';
    const password = (await addAccounts(serverDir, [account])).get(account);
    if (!password) throw new Error('two-factor is on but client add printed no password');
    const bundle = path.join(base, `${account}.zip`);
    const bundled = await ferryServer(['client', 'bundle', account, '--dir', serverDir, '--out', bundle]);
    if (bundled.code !== 0) throw new Error(`client bundle failed: ${bundled.stderr.trim()}`);

    const user = await clientHome();
    this.dirs.push(path.dirname(user.home));
    const profile = `bench-${proto}`;
    const imported = await ferry(user, ['import', bundle, '--name', profile]);
    if (imported.code !== 0) throw new Error(`ferry import failed: ${imported.stderr.trim()}`);
    const rawConfig = await writeRawConfig(user, profile, password, base);

    const gw: Gateway = {
      proto,
      serverDir,
      password,
      profile,
      user,
      rawConfig,
      proc: await this.startGatewayProc(serverDir),
      restart: async (gapMs = 0) => {
        await gw.proc.stop('SIGTERM');
        await sleep(gapMs);
        gw.proc = await this.startGatewayProc(serverDir);
        return gw.proc;
      },
    };
    return gw;
  }

  /** `ferry connect NAME --json --password-stdin` in the client namespace (the built CLI). */
  ferryConnect(gw: Pick<Gateway, 'user' | 'profile' | 'password'>): Proc {
    const proc = this.spawn('client', [process.execPath, FERRY, 'connect', gw.profile, '--json', '--password-stdin'], 'ferry connect', { env: gw.user.env, stdin: true });
    proc.child.stdin?.end(`${gw.password}\n`);
    return proc;
  }

  /** The anchor: openvpn with the equivalent config in the client namespace. */
  rawOpenvpn(gw: Gateway, config = gw.rawConfig): Proc {
    return this.spawn('client', ['openvpn', '--config', config], 'raw openvpn');
  }

  /**
   * A stock openvpn server in the gateway namespace (test/support/stock-server.ts: a
   * hand-written config, the password checked by an auth-user-pass-verify script via-file),
   * with ferry-server's own PKI and the gateway's account and password, on its own port and
   * pool so both run side by side; and gw.rawConfig aimed at it.
   */
  async stockAnchor(gw: Gateway): Promise<StockAnchor> {
    const state = new StateDir(gw.serverDir);
    const dir = await mkdtemp(path.join(this.work, 'stock-'));
    const account = (await state.readIndex()).accounts[0]!.name;
    const server = await startStockServer(this.lab, {
      pki: { dir: state.pkiDir, ca: state.caCert, serverCert: state.serverCert, serverKey: state.serverKey, clients: {} },
      proto: gw.proto,
      port: STOCK_PORT,
      pool: STOCK_POOL,
      auth: { kind: 'password', users: { [account]: gw.password } },
      dir,
    });
    this.stock.add(server);
    const raw = await readFile(gw.rawConfig, 'utf8');
    const aimed = raw.replace(/^remote (\S+) \d+ /gm, `remote $1 ${STOCK_PORT} `);
    if (aimed === raw) throw new Error(`no remote line to re-aim in ${gw.rawConfig}`);
    const rawConfig = path.join(path.dirname(gw.rawConfig), 'openvpn-stock.conf');
    await writeFile(rawConfig, aimed, { mode: 0o600 });
    return { server, port: STOCK_PORT, rawConfig };
  }

  /** Waits until the client namespace has no openvpn process and no tun device: the tunnel is fully down. */
  async tunnelDown(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = (await execFileAsync('ip', ['netns', 'pids', this.lab.ns.client])).stdout.split(/\s+/).filter(Boolean);
      const comms = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')));
      const openvpn = comms.filter((c) => c.trim() === 'openvpn').length;
      const tun = (await this.lab.exec('client', ['ip', '-o', 'link', 'show', 'type', 'tun'])).stdout.trim();
      if (openvpn === 0 && tun === '') return;
      if (Date.now() > deadline) throw new Error(`tunnel still up after ${timeoutMs} ms: ${openvpn} openvpn process(es), tun: ${tun || 'none'}`);
      await sleep(50);
    }
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.stop('SIGTERM', 5_000)));
    await Promise.all([...this.stock].map((s) => s.stop()));
    await this.lab.teardown();
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/**
 * Ferry's exact config for this profile (buildClientConfig, as Session.startEngine builds
 * the spec), minus `management*` lines, with `auth-user-pass CREDFILE`: the only
 * difference left between the two runs is Ferry's core.
 */
async function writeRawConfig(user: ClientHome, profileName: string, password: string, dir: string): Promise<string> {
  const client = new FerryClient({ home: user.home, env: user.env, secrets: new MemorySecretStore() });
  const profile = await client.store.get(profileName);
  const spec: EngineSpec = {
    remotes: profile.remotes,
    engine: profile.engine,
    passwordRequired: profile.passwordRequired,
    ...(profile.staticChallenge ? { staticChallenge: profile.staticChallenge } : {}),
    files: client.engineFiles(profile),
    managementSocket: path.join(dir, 'unused-management.sock'),
    guiVersion: `Ferry ${FERRY_VERSION}`,
  };
  const rawDir = await mkdtemp(path.join(dir, 'raw-'));
  const credFile = path.join(rawDir, 'credentials');
  await writeFile(credFile, `${profile.username ?? ''}\n${password}\n`, { mode: 0o600 });
  const lines = buildClientConfig(spec)
    .split('\n')
    .filter((l) => !l.startsWith('management'))
    .map((l) => (l === 'auth-user-pass' ? `auth-user-pass ${credFile}` : l));
  if (!lines.includes(`auth-user-pass ${credFile}`)) throw new Error('the profile asks for no password: two-factor is expected to be on');
  const config = path.join(rawDir, 'openvpn.conf');
  await writeFile(config, lines.join('\n'), { mode: 0o600 });
  return config;
}

// ---- numbers and tables -------------------------------------------------------------


export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const ms = (x: number) => `${x.toFixed(0)} ms`;
export const spread = (xs: number[], fmt: (x: number) => string) => `${fmt(Math.min(...xs))} – ${fmt(Math.max(...xs))}`;

export function printTable(title: string, rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(`\n${title}`);
  for (const [i, row] of rows.entries()) {
    console.log(('  ' + row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')).trimEnd());
    if (i === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('-|-'));
  }
}

export function machine(name: string): string {
  const cpu = os.cpus();
  return `${name}  node ${process.version}, ${cpu.length} CPU(s) ${cpu[0]?.model ?? ''}, load average ${os.loadavg()[0]!.toFixed(2)}`;
}

/** Runs a benchmark body with a lab; always cleans up; exit code 1 only when the benchmark broke. */
export async function runBench(name: string, body: (bench: BenchLab) => Promise<void>, lab: LabOptions = {}): Promise<void> {
  const started = performance.now();
  let bench: BenchLab | undefined;
  try {
    bench = await BenchLab.create(lab);
    await body(bench);
  } catch (err) {
    console.error(`${name} failed: ${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    await bench?.cleanup();
    console.log(`\ntotal runtime ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}
