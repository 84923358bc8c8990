/**
 * bench:throughput — iperf3 (TCP, one stream) from the lab's client namespace, through a
 * Ferry tunnel (`ferry connect`), through a raw openvpn tunnel with the equivalent config,
 * and over the plain veth (DESIGN.md "Benchmarks"). One table per gateway protocol: TCP
 * (the default; TCP-in-TCP) and UDP.
 *
 * The tunnels reach the iperf3 server on the vpc host through the gateway. The client has no
 * route to the vpc subnet outside the tunnel, so "plain veth" is client → gateway underlay
 * address (iperf3 server in the gateway namespace): one veth hop, no forwarding.
 *
 * Prints medians and ratios, asserts nothing; exits non-zero only when a measurement broke.
 * FERRY_BENCH_RUNS / FERRY_BENCH_SECONDS override 3 runs / 5 s per iperf3 run.
 */
import { execFileSync } from 'node:child_process';
import type { Lab, LabNs } from '../test/lab/lab.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONNECTED_LINE, INIT_LINE, machine, median, printTable, runBench, spread, type BenchLab, type Gateway, type Proc } from './lab-setup.js';

const RUNS = Number(process.env.FERRY_BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.FERRY_BENCH_SECONDS ?? 5);
const PORT = 5201;

type Path = 'ferry' | 'raw' | 'veth';

/** One iperf3 run from the client namespace; Mbit/s received by the server. */
async function iperf(lab: Lab, host: string): Promise<{ mbps: number; retransmits: number }> {
  // -O 1: leave out the first second (slow start).
  const res = await lab.exec('client', ['iperf3', '-c', host, '-p', String(PORT), '-t', String(SECONDS), '-O', '1', '-J'], { timeoutMs: (SECONDS + 20) * 1000 });
  const out = JSON.parse(res.stdout || '{}') as { error?: string; end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } } };
  if (res.code !== 0 || !out.end?.sum_received) throw new Error(`iperf3 to ${host} failed: ${out.error ?? res.stderr.trim()}`);
  return { mbps: out.end.sum_received.bits_per_second / 1e6, retransmits: out.end.sum_sent?.retransmits ?? 0 };
}

async function startIperfServer(bench: BenchLab, ns: LabNs, host: string): Promise<void> {
  bench.spawn(ns, ['iperf3', '-s', '-B', host, '-p', String(PORT)], `iperf3 -s (${ns})`);
  for (let i = 0; i < 100; i++) {
    if ((await bench.lab.exec(ns, ['ss', '-Hltn', `sport = :${PORT}`])).stdout.trim()) return;
    await sleep(50);
  }
  throw new Error(`iperf3 server in the ${ns} namespace is not listening`);
}

/** Brings the path up, runs iperf3 over it, brings it down again. */
async function measure(bench: BenchLab, gw: Gateway, path: Path): Promise<{ mbps: number; retransmits: number }> {
  const { lab } = bench;
  if (path === 'veth') return iperf(lab, lab.addr.gatewayUnderlay);
  let tunnel: Proc;
  if (path === 'ferry') {
    tunnel = bench.ferryConnect(gw);
    await tunnel.waitFor(CONNECTED_LINE);
  } else {
    tunnel = bench.rawOpenvpn(gw);
    await tunnel.waitFor(INIT_LINE);
  }
  try {
    return await iperf(lab, lab.addr.vpcHost);
  } finally {
    await tunnel.stop(path === 'ferry' ? 'SIGINT' : 'SIGTERM');
    await bench.tunnelDown();
  }
}

const mbit = (x: number) => `${x.toFixed(0)} Mbit/s`;

async function table(bench: BenchLab, proto: 'tcp' | 'udp'): Promise<boolean> {
  const gw = await bench.gateway(proto);
  const got: Record<Path, number[]> = { ferry: [], raw: [], veth: [] };
  console.log(`\n${proto.toUpperCase()} gateway: ${RUNS} rounds, order alternating ...`);
  for (let round = 0; round < RUNS; round++) {
    const order: Path[] = round % 2 ? ['raw', 'ferry', 'veth'] : ['ferry', 'raw', 'veth'];
    const line: string[] = [];
    for (const path of order) {
      const r = await measure(bench, gw, path);
      got[path].push(r.mbps);
      line.push(`${path} ${mbit(r.mbps)} (${r.retransmits} retr)`);
    }
    console.log(`    round ${round + 1}: ${line.join(', ')}`);
  }
  await gw.proc.stop('SIGTERM');
  const [ferry, raw, veth] = [median(got.ferry), median(got.raw), median(got.veth)];
  const cell = (xs: number[]) => `${mbit(median(xs))} [${spread(xs, (x) => x.toFixed(0))}]`;
  printTable(`summary, OpenVPN over ${proto.toUpperCase()} (iperf3 TCP, 1 stream, ${SECONDS} s, median [min – max] of ${RUNS})`, [
    ['path', 'throughput', 'ferry / this', 'target'],
    ['ferry tunnel (client → vpc host)', cell(got.ferry), '1.00', ''],
    ['raw openvpn tunnel (client → vpc host)', cell(got.raw), (ferry / raw).toFixed(2), '≥ 0.95'],
    ['plain veth (client → gateway underlay)', cell(got.veth), (ferry / veth).toFixed(3), '(the limit)'],
  ]);
  const ok = ferry / raw >= 0.95;
  console.log(`${ok ? 'PASS' : 'MISS'}  ferry / raw ≥ 0.95 over ${proto.toUpperCase()}: ${(ferry / raw).toFixed(2)} (${mbit(ferry)} vs ${mbit(raw)}); raw / veth ${(raw / veth).toFixed(3)}`);
  return ok;
}

await runBench('bench:throughput', async (bench) => {
  console.log(machine('bench:throughput'));
  console.log(bench.describe());
  const iperfVersion = execFileSync('iperf3', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  const openvpn = execFileSync('openvpn', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.split(' ').slice(0, 2).join(' ');
  console.log(`${iperfVersion}; ${openvpn} in userspace on both ends (no ovpn-dco kernel module), ferry-server gateway, two-factor on, AES-256-GCM`);
  console.log('plain veth = client → gateway underlay (the client has no route to the vpc subnet outside the tunnel)');
  await startIperfServer(bench, 'vpc', bench.lab.addr.vpcHost);
  await startIperfServer(bench, 'gateway', bench.lab.addr.gatewayUnderlay);
  await table(bench, 'tcp');
  await table(bench, 'udp');
});
