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
 * Rate limits (issue 12): on a TCP gateway, a tunnel limited with `client add --rate-limit`
 * against its limit, each way; and an unlimited tunnel (from the second client namespace)
 * with a limited neighbour running at its limit beside it, against the same tunnel alone
 * (no neighbour, so no traffic control at all).
 *
 * Prints medians and ratios, asserts nothing; exits non-zero only when a measurement broke.
 * FERRY_BENCH_RUNS / FERRY_BENCH_SECONDS override 3 runs / 5 s per iperf3 run.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ferryServer, unpackBundle } from '../test/support/cli.js';
import { iperf, IperfServer } from '../test/support/iperf.js';
import { handWrittenConfig } from '../test/support/processes.js';
import { CONNECTED_LINE, INIT_LINE, machine, median, printTable, runBench, spread, type BenchLab, type Gateway, type Proc } from './lab-setup.js';

const RUNS = Number(process.env.FERRY_BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.FERRY_BENCH_SECONDS ?? 5);
/** The limited tunnel's limit, Mbit/s: small beside the lab's tunnel rate, so the neighbour costs little CPU. */
const LIMIT = 10;

type Path = 'ferry' | 'raw' | 'veth';

/** iperf3 servers: on the vpc host (through the tunnels; one per client namespace) and on the gateway (plain veth). */
interface Servers {
  vpc: IperfServer;
  vpc2: IperfServer;
  gateway: IperfServer;
}
/** Brings the path up, runs iperf3 over it, brings it down again. */
async function measure(bench: BenchLab, gw: Gateway, servers: Servers, path: Path): Promise<{ mbps: number; retransmits: number }> {
  const { lab } = bench;
  const run = (server: IperfServer) => iperf(lab, 'client', server, { seconds: SECONDS });
  if (path === 'veth') return run(servers.gateway);
  let tunnel: Proc;
  if (path === 'ferry') {
    tunnel = bench.ferryConnect(gw);
    await tunnel.waitFor(CONNECTED_LINE);
  } else {
    tunnel = bench.rawOpenvpn(gw);
    await tunnel.waitFor(INIT_LINE);
  }
  try {
    return await run(servers.vpc);
  } finally {
    await tunnel.stop(path === 'ferry' ? 'SIGINT' : 'SIGTERM');
    await bench.tunnelDown();
  }
}

const mbit = (x: number) => `${x.toFixed(x < 100 ? 1 : 0)} Mbit/s`;

async function table(bench: BenchLab, servers: Servers, proto: 'tcp' | 'udp'): Promise<boolean> {
  const gw = await bench.gateway(proto);
  const got: Record<Path, number[]> = { ferry: [], raw: [], veth: [] };
  console.log(`\n${proto.toUpperCase()} gateway: ${RUNS} rounds, order alternating ...`);
  for (let round = 0; round < RUNS; round++) {
    const order: Path[] = round % 2 ? ['raw', 'ferry', 'veth'] : ['ferry', 'raw', 'veth'];
    const line: string[] = [];
    for (const path of order) {
      const r = await measure(bench, gw, servers, path);
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
  const { lab } = bench;
  const servers: Servers = {
    vpc: await IperfServer.start(lab, 'vpc', lab.addr.vpcHost, 5201),
    vpc2: await IperfServer.start(lab, 'vpc', lab.addr.vpcHost, 5202),
    gateway: await IperfServer.start(lab, 'gateway', lab.addr.gatewayUnderlay, 5201),
  };
  await table(bench, servers, 'tcp');
  await table(bench, servers, 'udp');
  await limitsTable(bench, servers);
});

/** Rate limits: a limited tunnel against its limit; an unlimited one beside it against itself alone. */
async function limitsTable(bench: BenchLab, servers: Servers): Promise<void> {
  const { lab } = bench;
  const dir = path.join(bench.work, 'limits', 'server');
  const init = await ferryServer(['init', '--dir', dir, '--name', 'bench-limits', '--host', lab.addr.gatewayUnderlay, '--proto', 'tcp', '--subnet', lab.addr.vpcSubnet, '--pool', lab.addr.pool]);
  if (init.code !== 0) throw new Error(`ferry-server init failed: ${init.stderr.trim()}`);
  const passwords = new Map<string, string>();
  for (const [account, extra] of [['limited', ['--rate-limit', String(LIMIT)]], ['free', []]] as const) {
    const added = await ferryServer(['client', 'add', account, ...extra, '--dir', dir, '--json']);
    if (added.code !== 0) throw new Error(`client add failed: ${added.stderr.trim()}`);
    passwords.set(account, (JSON.parse(added.stdout) as Array<{ password: string }>)[0]!.password);
  }
  const config = async (account: 'limited' | 'free', host: string) =>
    handWrittenConfig(await unpackBundle(dir, account), { host, port: 1194, proto: 'tcp', credentials: [account, passwords.get(account)!] });
  const limitedConfig = await config('limited', lab.addr.gatewayUnderlay);
  const freeConfig = await config('free', lab.addr.gatewayUnderlay2);
  const gateway = await bench.startGatewayProc(dir);
  const tunnel = async (ns: 'client' | 'client2', file: string, label: string) => {
    const proc = bench.spawn(ns, ['openvpn', '--config', file, '--verb', '3'], label);
    await proc.waitFor(INIT_LINE);
    return proc;
  };
  const free = await tunnel('client2', freeConfig, 'unlimited tunnel');
  const got = { up: [] as number[], down: [] as number[], alone: [] as number[], beside: [] as number[] };
  console.log(`\nrate limits: TCP gateway, a tunnel limited to ${LIMIT} Mbit/s (client namespace) and an unlimited one (client2); ${RUNS} rounds ...`);
  for (let round = 0; round < RUNS; round++) {
    const freeRun = () => iperf(lab, 'client2', servers.vpc2, { seconds: SECONDS });
    const limitedRun = (reverse: boolean) => iperf(lab, 'client', servers.vpc, { seconds: SECONDS, reverse });
    const alone = async () => got.alone.push((await freeRun()).mbps);
    const beside = async () => {
      const limited = await tunnel('client', limitedConfig, 'limited tunnel');
      try {
        const [neighbour, mine] = await Promise.all([limitedRun(false), freeRun()]);
        got.up.push(neighbour.mbps);
        got.beside.push(mine.mbps);
        got.down.push((await limitedRun(true)).mbps);
      } finally {
        await limited.stop('SIGTERM');
        await bench.tunnelDown();
      }
    };
    if (round % 2) {
      await beside();
      await alone();
    } else {
      await alone();
      await beside();
    }
    console.log(`    round ${round + 1}: limited up ${mbit(got.up.at(-1)!)}, down ${mbit(got.down.at(-1)!)}; unlimited alone ${mbit(got.alone.at(-1)!)}, beside it ${mbit(got.beside.at(-1)!)}`);
  }
  await free.stop('SIGTERM');
  await gateway.stop('SIGTERM');
  const cell = (xs: number[]) => `${median(xs).toFixed(2)} Mbit/s [${spread(xs, (x) => x.toFixed(2))}]`;
  const ratio = median(got.beside) / median(got.alone);
  printTable(`summary, rate limits (iperf3 TCP payload, 1 stream, ${SECONDS} s, median [min – max] of ${RUNS})`, [
    ['measurement', 'throughput', 'ratio', 'target'],
    [`limited tunnel, client → vpc, / its limit ${LIMIT} Mbit/s`, cell(got.up), (median(got.up) / LIMIT).toFixed(3), '0.85 – 1.15'],
    [`limited tunnel, vpc → client, / its limit ${LIMIT} Mbit/s`, cell(got.down), (median(got.down) / LIMIT).toFixed(3), '0.85 – 1.15'],
    ['unlimited tunnel beside the limited one / alone', cell(got.beside), ratio.toFixed(3), '≥ 0.95'],
    ['unlimited tunnel alone (no traffic control)', cell(got.alone), '1.000', ''],
  ]);
}
