/**
 * bench:connect — time to CONNECTED and reconnect after a gateway restart, against a raw
 * openvpn client with the equivalent config, same gateway, same run (DESIGN.md "Benchmarks").
 * ferry-server gateway in the network lab, two-factor on, TCP.
 *
 *   (a) the core API in a long-running process (bench/connect-worker.ts), as the desktop app
 *   (d) the same through ferry-helper (a second worker whose launcher is the helper) against
 *       (a) measured in the same rounds: what the privileged helper adds to a connect
 *   (b) `ferry connect NAME --json --password-stdin`, Node start-up included
 *   (c) reconnect: gateway stopped and started again, from its "ready" line to the client's
 *       next CONNECTED / "Initialization Sequence Completed"; (c') the same with the gateway
 *       down a few seconds, where the clients' retry schedules differ
 *   (e) the gateway side: the same raw openvpn client against `ferry-server run` and against a
 *       stock openvpn server (test/support/stock-server.ts: password checked by an
 *       auth-user-pass-verify script via-file) with ferry-server's own PKI, account and
 *       password, both running side by side; alternating rounds
 *   (f) CLI start-up: `ferry profiles` and `ferry status` (the profile above imported) against
 *       `node -e 0`, spawn to exit, in turns (bench/cli-startup.ts)
 *
 * Prints medians and ratios, asserts nothing; exits non-zero only when a measurement broke.
 * FERRY_BENCH_RUNS / FERRY_BENCH_RESTARTS / FERRY_BENCH_GAP_MS override 10 runs / 10 restarts / 3000 ms.
 */
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { measureCliStartup } from './cli-startup.js';
import { AUTH_STATE_LINE, CONNECTED_LINE, INIT_LINE, TLS_START_LINE, machine, median, ms, printTable, READY_LINE, runBench, spread, type BenchLab, type Gateway, type Proc } from './lab-setup.js';

const RUNS = Number(process.env.FERRY_BENCH_RUNS ?? 10);
const RESTARTS = Number(process.env.FERRY_BENCH_RESTARTS ?? 10);
const GAP_MS = Number(process.env.FERRY_BENCH_GAP_MS ?? 3_000);
const WORKER = fileURLToPath(new URL('./connect-worker.ts', import.meta.url));
const HELPER = fileURLToPath(new URL('../bin/ferry-helper.js', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** The gateway's log line for an incoming client connection (TCP). */
const GATEWAY_SEES_CLIENT = /TCP connection established with/;

type Kind = 'core' | 'helper' | 'cli' | 'raw';
/** One connect: to CONNECTED, and to the gateway's first TLS packet (openvpn state AUTH). */
interface Connect {
  total: number;
  tls: number;
}

/** (a): one connect + disconnect in the worker; the worker's own timing. */
async function coreRun(bench: BenchLab, worker: Proc): Promise<Connect> {
  const reply = await ask(worker, { cmd: 'connect' });
  await bench.tunnelDown();
  return { total: reply.connectMs as number, tls: reply.tlsMs as number };
}

/** (b) and the anchor: spawn → line, then stop and wait until the tunnel is gone. `rawConfig`: another server for the raw client (e). */
async function processRun(bench: BenchLab, gw: Gateway, kind: 'cli' | 'raw', rawConfig = gw.rawConfig): Promise<Connect> {
  const proc = kind === 'cli' ? bench.ferryConnect(gw) : bench.rawOpenvpn(gw, rawConfig);
  const line = await proc.waitFor(kind === 'cli' ? CONNECTED_LINE : INIT_LINE);
  const tls = proc.lines.find((l) => (kind === 'cli' ? AUTH_STATE_LINE : TLS_START_LINE).test(l.line))?.at ?? NaN;
  const code = await proc.stop(kind === 'cli' ? 'SIGINT' : 'SIGTERM');
  if (kind === 'cli' && code !== 0) throw new Error(`ferry connect exited ${code} after SIGINT`);
  await bench.tunnelDown();
  return { total: line.at - proc.startedAt, tls: tls - proc.startedAt };
}

async function ask(worker: Proc, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
  const from = worker.lines.length;
  worker.child.stdin!.write(`${JSON.stringify(msg)}\n`);
  const reply = JSON.parse((await worker.waitFor(/^\{"ok":/, 60_000, from)).line) as Record<string, unknown>;
  if (reply.ok !== true) throw new Error(`connect worker: ${String(reply.error)}`);
  return reply;
}

interface Reconnect {
  /** Gateway "ready" → client connected again. */
  total: number;
  /** Gateway "ready" → the client's first TCP connection reaches the new gateway (its retry wait). */
  wait: number;
  /** Gateway stopped → new gateway ready (the outage). */
  outage: number;
}

/** (c): connect, restart the gateway (after `gapMs` down), time its "ready" line to the client's next connected line. */
async function reconnectRun(bench: BenchLab, gw: Gateway, kind: 'cli' | 'raw', gapMs: number): Promise<Reconnect> {
  const proc = kind === 'cli' ? bench.ferryConnect(gw) : bench.rawOpenvpn(gw);
  const connected = kind === 'cli' ? CONNECTED_LINE : INIT_LINE;
  await proc.waitFor(connected);
  const from = proc.lines.length;
  const stopAt = performance.now();
  const gateway = await gw.restart(gapMs);
  const ready = await gateway.waitFor(READY_LINE);
  const back = await proc.waitFor(connected, 90_000, from);
  const seen = gateway.lines.find((l) => l.at >= ready.at && GATEWAY_SEES_CLIENT.test(l.line));
  await proc.stop(kind === 'cli' ? 'SIGINT' : 'SIGTERM');
  await bench.tunnelDown();
  return { total: back.at - ready.at, wait: seen ? seen.at - ready.at : NaN, outage: ready.at - stopAt };
}

async function reconnects(bench: BenchLab, gw: Gateway, gapMs: number): Promise<Record<'cli' | 'raw', Reconnect[]>> {
  const rec: Record<'cli' | 'raw', Reconnect[]> = { cli: [], raw: [] };
  for (let i = 0; i < RESTARTS; i++) {
    for (const kind of i % 2 ? (['raw', 'cli'] as const) : (['cli', 'raw'] as const)) {
      const r = await reconnectRun(bench, gw, kind, gapMs);
      rec[kind].push(r);
      console.log(`    ${kind === 'cli' ? 'ferry' : 'raw  '} #${i + 1}: ready → connected ${ms(r.total)} (ready → first attempt at the gateway ${ms(r.wait)}; gateway down ${ms(r.outage)})`);
    }
  }
  return rec;
}

function verdict(label: string, ok: boolean, detail: string): string {
  return `${ok ? 'PASS' : 'MISS'}  ${label}: ${detail}`;
}

await runBench('bench:connect', async (bench) => {
  console.log(machine('bench:connect'));
  console.log(bench.describe());
  const gw = await bench.gateway('tcp');
  const openvpn = execFileSync('openvpn', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.split(' ').slice(0, 2).join(' ');
  console.log(`gateway: ferry-server run (dist/), ${gw.proto.toUpperCase()}, two-factor on; client engine ${openvpn}`);
  console.log(`anchor: raw openvpn, Ferry's buildClientConfig minus management lines, auth-user-pass from a 0600 file (${gw.rawConfig})`);

  const nsExec: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await bench.lab.run('client', ['true']);
    nsExec.push(performance.now() - t0);
  }
  console.log(`note: \`ip netns exec\` alone costs ${ms(median(nsExec))} (median of 5); raw openvpn and the CLI pay it, the worker's openvpn does not`);

  // (f) before anything else runs: nothing in the background but the idle gateway.
  console.log(`\n(f) CLI start-up: ${RUNS * 2} rounds of \`node -e 0\`, \`ferry profiles\` and \`ferry status\`, in turns, after 1 warm-up round ...`);
  const startup = measureCliStartup(gw.user.env, RUNS * 2);

  const worker = bench.spawn('client', [process.execPath, '--import', TSX, WORKER], 'connect worker', { env: gw.user.env, stdin: true });
  const init = await ask(worker, { cmd: 'init', profile: gw.profile, password: gw.password });
  console.log(`connect worker started once in the client namespace (profile loaded in ${ms(init.loadMs as number)})`);
  // ferry-helper in the client namespace, its socket in a directory anyone may enter (as /run/ferry).
  const helperDir = path.join(bench.work, 'helper-run');
  await mkdir(helperDir, { mode: 0o755 });
  const helperSocket = path.join(helperDir, 'helper.sock');
  const helper = bench.spawn('client', [process.execPath, HELPER, '--socket', helperSocket], 'ferry-helper');
  await helper.waitFor(/ferry-helper: serving/);
  const helperWorker = bench.spawn('client', [process.execPath, '--import', TSX, WORKER], 'connect worker (helper)', {
    env: { ...gw.user.env, FERRY_BENCH_LAUNCHER: 'helper', FERRY_HELPER_SOCKET: helperSocket },
    stdin: true,
  });
  await ask(helperWorker, { cmd: 'init', profile: gw.profile, password: gw.password });
  console.log('a second worker starts openvpn through ferry-helper (dist/, same namespace)');

  // (a) + (b) + (d) interleaved, one warm-up round not counted; the order changes every round.
  const times: Record<Kind, Connect[]> = { core: [], helper: [], cli: [], raw: [] };
  console.log(`\n(a)+(b)+(d) ${RUNS} rounds of core / helper / raw / CLI connects, alternating order, after 1 warm-up round ...`);
  for (let round = 0; round <= RUNS; round++) {
    const order: Kind[] = round % 2 ? ['raw', 'core', 'helper', 'cli'] : ['helper', 'core', 'raw', 'cli'];
    if (round % 4 >= 2) order.reverse();
    const got: string[] = [];
    for (const kind of order) {
      const t = kind === 'core' ? await coreRun(bench, worker) : kind === 'helper' ? await coreRun(bench, helperWorker) : await processRun(bench, gw, kind);
      if (round > 0) times[kind].push(t);
      got.push(`${kind} ${ms(t.total)} (TLS start ${ms(t.tls)})`);
    }
    console.log(`    ${round === 0 ? 'warm-up ' : `round ${String(round).padStart(2)}`}: ${got.join(', ')}`);
  }
  await ask(worker, { cmd: 'quit' }).catch(() => undefined);
  await ask(helperWorker, { cmd: 'quit' }).catch(() => undefined);

  // (e) the gateway: one raw client, ferry-server run vs a stock server, alternating, 1 warm-up round.
  const stock = await bench.stockAnchor(gw);
  console.log(`\n(e) ${RUNS} rounds of a raw openvpn client against ferry-server run (port ${gw.proto === 'tcp' ? 'TCP' : 'UDP'} 1194) and a stock openvpn server with ferry-server's PKI and an auth-user-pass-verify script (port ${stock.port}), alternating, after 1 warm-up round ...`);
  const gateways: Record<'ferry' | 'stock', Connect[]> = { ferry: [], stock: [] };
  for (let round = 0; round <= RUNS; round++) {
    const got: string[] = [];
    for (const server of round % 2 ? (['stock', 'ferry'] as const) : (['ferry', 'stock'] as const)) {
      const t = await processRun(bench, gw, 'raw', server === 'ferry' ? gw.rawConfig : stock.rawConfig);
      if (round > 0) gateways[server].push(t);
      got.push(`${server} ${ms(t.total)} (TLS start ${ms(t.tls)})`);
    }
    console.log(`    ${round === 0 ? 'warm-up ' : `round ${String(round).padStart(2)}`}: ${got.join(', ')}`);
  }
  await stock.server.stop();

  // (c) reconnect after a gateway restart, alternating; then with the gateway down for GAP_MS.
  console.log(`\n(c) ${RESTARTS} gateway restarts each for ferry (CLI) and raw, alternating ...`);
  const rec = await reconnects(bench, gw, 0);
  console.log(`\n(c') the same with the gateway down ${GAP_MS / 1000} s before it starts again (a reboot, not a quick restart) ...`);
  const recGap = await reconnects(bench, gw, GAP_MS);

  const med = (xs: Connect[], k: keyof Connect) => median(xs.map((x) => x[k]));
  const cell = (xs: number[]) => `${ms(median(xs))} [${spread(xs, ms)}]`;
  const diff = (x: number) => `${x >= 0 ? '+' : ''}${ms(x)}`;
  const row = (label: string, ferry: number[], raw: number[], target: string) => {
    const [f, r] = [median(ferry), median(raw)];
    return [label, cell(ferry), cell(raw), diff(f - r), `${(f / r).toFixed(2)}×`, target];
  };
  const all = (xs: Connect[], k: keyof Connect) => xs.map((x) => x[k]);
  const totals = (rs: Reconnect[]) => rs.map((r) => r.total);
  const waits = (rs: Reconnect[]) => rs.map((r) => r.wait);
  printTable(`summary (${RUNS} runs each for a/b, ${RESTARTS} for c; median [min – max]; ratio = ferry / raw)`, [
    ['measure', 'ferry', 'raw openvpn', 'difference', 'ratio', 'target'],
    row('(a) connect, core API in a running process', all(times.core, 'total'), all(times.raw, 'total'), '≤ +50 ms'),
    row('    to TLS start (first gateway packet)', all(times.core, 'tls'), all(times.raw, 'tls'), ''),
    row('(b) connect, `ferry connect` CLI', all(times.cli, 'total'), all(times.raw, 'total'), '≤ +300 ms'),
    row('    to TLS start (first gateway packet)', all(times.cli, 'tls'), all(times.raw, 'tls'), ''),
    ['(d) connect through ferry-helper vs direct (a)', cell(all(times.helper, 'total')), cell(all(times.core, 'total')), diff(med(times.helper, 'total') - med(times.core, 'total')), `${(med(times.helper, 'total') / med(times.core, 'total')).toFixed(2)}×`, '≤ +50 ms'],
    ['    to TLS start (first gateway packet)', cell(all(times.helper, 'tls')), cell(all(times.core, 'tls')), diff(med(times.helper, 'tls') - med(times.core, 'tls')), '', ''],
    row('(c) reconnect, gateway ready → connected', totals(rec.cli), totals(rec.raw), '≤ raw'),
    row('    ready → first attempt at the gateway', waits(rec.cli), waits(rec.raw), ''),
    row(`(c') same, gateway down ${GAP_MS / 1000} s`, totals(recGap.cli), totals(recGap.raw), '(info)'),
    row('    ready → first attempt at the gateway', waits(recGap.cli), waits(recGap.raw), ''),
  ]);
  printTable(`gateway (${RUNS} runs each; the same raw openvpn client; median [min – max]; ratio = ferry-server / stock)`, [
    ['measure', 'ferry-server run', 'stock openvpn + verify script', 'difference', 'ratio', 'target'],
    row('(e) raw client to connected', all(gateways.ferry, 'total'), all(gateways.stock, 'total'), '≤ 1.5×'),
    row('    to TLS start (first gateway packet)', all(gateways.ferry, 'tls'), all(gateways.stock, 'tls'), ''),
  ]);
  const nodeStart = median(startup.node);
  const startRow = (label: string, xs: number[]) => [label, cell(xs), cell(startup.node), diff(median(xs) - nodeStart), `${(median(xs) / nodeStart).toFixed(2)}×`, '≤ 1.5×'];
  printTable(`CLI start-up (${RUNS * 2} runs each, in turns; spawn → exit; median [min – max]; ratio = ferry / node -e 0)`, [
    ['measure', 'ferry', 'node -e 0', 'difference', 'ratio', 'target'],
    startRow('(f) `ferry profiles` (one profile)', startup.profiles),
    startRow('    `ferry status` (no session)', startup.status),
  ]);
  const [core, cli, raw] = [med(times.core, 'total'), med(times.cli, 'total'), med(times.raw, 'total')];
  const [recFerry, recRaw] = [median(totals(rec.cli)), median(totals(rec.raw))];
  console.log('');
  console.log(verdict('(a) ferry core adds ≤ 50 ms over raw', core - raw <= 50, diff(core - raw)));
  console.log(verdict('(b) ferry CLI adds ≤ 300 ms over raw', cli - raw <= 300, diff(cli - raw)));
  console.log(verdict('(c) ferry reconnect ≤ raw reconnect', recFerry <= recRaw, `${ms(recFerry)} vs ${ms(recRaw)}`));
  const helperAdds = med(times.helper, 'total') - core;
  console.log(verdict('(d) ferry-helper adds ≤ 50 ms over direct', helperAdds <= 50, `${diff(helperAdds)} (to TLS start ${diff(med(times.helper, 'tls') - med(times.core, 'tls'))})`));
  const [gwFerry, gwStock] = [med(gateways.ferry, 'total'), med(gateways.stock, 'total')];
  console.log(verdict('(e) ferry-server gateway ≤ 1.5× a stock server', gwFerry <= 1.5 * gwStock, `${ms(gwFerry)} vs ${ms(gwStock)} (${(gwFerry / gwStock).toFixed(2)}×)`));
  const [profilesRatio, statusRatio] = [median(startup.profiles) / nodeStart, median(startup.status) / nodeStart];
  console.log(verdict('(f) `ferry profiles` and `ferry status` start in ≤ 1.5× `node -e 0`', Math.max(profilesRatio, statusRatio) <= 1.5, `${profilesRatio.toFixed(2)}× and ${statusRatio.toFixed(2)}× (${ms(nodeStart)})`));
  console.log('note: the TLS-start rows show the time each client needs before the handshake, which is where Ferry\'s own work sits; after it, every');
  console.log('      connect to ferry-server waits for its admission (scrypt password check), the same for Ferry and raw: (e) compares that with a stock server.');
});
