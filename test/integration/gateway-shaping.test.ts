/**
 * Rate limits on the gateway (seed 3.4.3.1 隧道限速, 2.2.2 SSL 带宽), measured with iperf3
 * through real tunnels: a limited account and an unlimited one at the same time, from two
 * client namespaces, in both directions; a limit changed live; the gateway's bandwidth cap;
 * nothing left behind by `run`, even after a SIGKILL.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab, type LabNs } from '../lab/lab.js';
import { ferryServer, initServer, unpackBundle } from '../support/cli.js';
import { iperf, IperfServer, LiveIperf } from '../support/iperf.js';
import { CONNECTED, handWrittenConfig, readyGateway, startGateway, startOpenvpnClient, type Watched } from '../support/processes.js';

const LIMIT = 8;
const NEW_LIMIT = 4;
const CAP = 12;
const TOLERANCE = 0.15;

const within = (measured: number, target: number) => Math.abs(measured - target) <= target * TOLERANCE;

describe.skipIf(labSkipReason())('gateway rate limits (tc on the tun device, ifb for ingress)', () => {
  let lab: Lab;
  let dir: string;
  let gateway: Watched;
  const tunnels: Watched[] = [];
  let servers: { alice: IperfServer; bob: IperfServer };

  async function connect(account: 'alice' | 'bob', ns: LabNs, password: string): Promise<Watched> {
    const files = await unpackBundle(dir, account);
    const host = ns === 'client' ? lab.addr.gatewayUnderlay : lab.addr.gatewayUnderlay2;
    const config = await handWrittenConfig(files, { host, port: 1194, proto: 'tcp', credentials: [account, password] });
    const client = startOpenvpnClient(lab, config, [], ns);
    tunnels.push(client);
    await client.waitFor(CONNECTED);
    return client;
  }

  /** Both accounts at once, the same direction: Mbit/s each. */
  async function together(reverse: boolean, seconds = 5): Promise<{ alice: number; bob: number }> {
    const [alice, bob] = await Promise.all([
      iperf(lab, 'client', servers.alice, { seconds, reverse, omit: 1 }),
      iperf(lab, 'client2', servers.bob, { seconds, reverse, omit: 1 }),
    ]);
    return { alice: alice.mbps, bob: bob.mbps };
  }

  async function gatewayTc(): Promise<{ qdiscs: string; links: string }> {
    const qdiscs = (await lab.run('gateway', ['tc', 'qdisc', 'show'])).stdout;
    const links = (await lab.run('gateway', ['ip', '-o', 'link', 'show'])).stdout;
    return { qdiscs, links };
  }

  beforeAll(async () => {
    lab = await createLab();
    dir = await initServer(['--proto', 'tcp', '--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet]);
    const added = await ferryServer(['client', 'add', '--dir', dir, '--json', 'alice', '--rate-limit', String(LIMIT)]);
    const bob = await ferryServer(['client', 'add', '--dir', dir, '--json', 'bob']);
    expect(added.code, added.stderr).toBe(0);
    expect(bob.code, bob.stderr).toBe(0);
    const passwords = new Map([...JSON.parse(added.stdout), ...JSON.parse(bob.stdout)].map((a: { account: string; password: string }) => [a.account, a.password]));
    servers = { alice: await IperfServer.start(lab, 'vpc', lab.addr.vpcHost, 5201), bob: await IperfServer.start(lab, 'vpc', lab.addr.vpcHost, 5202) };
    gateway = await readyGateway(lab, dir);
    await connect('alice', 'client', passwords.get('alice')!);
    await connect('bob', 'client2', passwords.get('bob')!);
  });

  afterAll(async () => {
    for (const t of tunnels) await t.stop();
    await gateway?.stop();
    await lab?.teardown();
  });

  it('a limited account runs at its limit in each direction while an unlimited one runs free beside it', async () => {
    const up = await together(false);
    const down = await together(true);
    expect(within(up.alice, LIMIT), `alice upload ${up.alice.toFixed(2)} Mbit/s, limit ${LIMIT}`).toBe(true);
    expect(within(down.alice, LIMIT), `alice download ${down.alice.toFixed(2)} Mbit/s, limit ${LIMIT}`).toBe(true);
    // The unlimited neighbour is not held to anyone's limit.
    expect(up.bob, `bob upload ${up.bob.toFixed(1)} Mbit/s`).toBeGreaterThan(LIMIT * 3);
    expect(down.bob, `bob download ${down.bob.toFixed(1)} Mbit/s`).toBeGreaterThan(LIMIT * 3);

    const status = JSON.parse((await ferryServer(['status', '--dir', dir, '--json'])).stdout) as {
      server: { shaping?: { state: string } };
      clients: Array<{ account: string; rateLimitMbps?: number; rateInBps?: number }>;
    };
    expect(status.server.shaping).toEqual({ state: 'on' });
    expect(status.clients.find((c) => c.account === 'alice')?.rateLimitMbps).toBe(LIMIT);
    expect(status.clients.find((c) => c.account === 'bob')?.rateLimitMbps).toBeUndefined();
    expect(typeof status.clients.find((c) => c.account === 'alice')?.rateInBps).toBe('number');
    const list = (await ferryServer(['client', 'list', '--dir', dir])).stdout;
    expect(list).toMatch(new RegExp(`^alice\\tactive\\t.*limit ${LIMIT} Mbit/s, connected \\(in .*, out .*\\)`, 'm'));
  });

  it('a limit changed live holds from a second after the command returns', async () => {
    const live = await LiveIperf.start(lab, 'client', servers.alice, { seconds: 7, reverse: true, interval: 0.5 });
    await live.waitForIntervals(4); // two seconds at the old limit
    const set = await ferryServer(['client', 'set', 'alice', '--rate-limit', String(NEW_LIMIT), '--dir', dir]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/applied to the running gateway/);
    const changedAt = live.intervals().at(-1)!.end; // the command returned during the next interval at the latest
    expect(await live.proc.exited).toBe(0);
    const before = live.intervals().filter((i) => i.end <= changedAt && i.start >= 1);
    const after = live.intervals().filter((i) => i.start >= changedAt + 1);
    const mean = (xs: Array<{ mbps: number }>) => xs.reduce((sum, x) => sum + x.mbps, 0) / xs.length;
    expect(after.length).toBeGreaterThanOrEqual(4);
    expect(within(mean(before), LIMIT), `before the change ${mean(before).toFixed(2)} Mbit/s`).toBe(true);
    expect(within(mean(after), NEW_LIMIT), `from a second after the change ${mean(after).toFixed(2)} Mbit/s: ${JSON.stringify(after)}`).toBe(true);
  });

  it('the gateway bandwidth caps two accounts together, both directions, and comes off again', async () => {
    expect((await ferryServer(['client', 'set', 'alice', '--rate-limit', 'off', '--dir', dir])).code).toBe(0);
    const set = await ferryServer(['set', '--bandwidth', String(CAP), '--dir', dir]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/updated bandwidthMbps; applied to the running gateway/);
    for (const reverse of [false, true]) {
      const r = await together(reverse);
      const sum = r.alice + r.bob;
      expect(within(sum, CAP), `${reverse ? 'download' : 'upload'}: alice ${r.alice.toFixed(2)} + bob ${r.bob.toFixed(2)} = ${sum.toFixed(2)} Mbit/s, cap ${CAP}`).toBe(true);
      // Neither tunnel is starved by the other.
      expect(Math.min(r.alice, r.bob)).toBeGreaterThan(CAP * 0.2);
    }
    expect((await ferryServer(['set', '--bandwidth', 'off', '--dir', dir])).code).toBe(0);
    // No limit left: traffic control is gone from the tun device, and the ifb device with it.
    const { qdiscs, links } = await gatewayTc();
    expect(qdiscs).not.toMatch(/htb|ingress/);
    expect(links).not.toMatch(/ferry-[0-9a-f]{6}-in/);
    const free = await together(true, 3);
    expect(free.alice + free.bob).toBeGreaterThan(CAP * 2);
  });

  it('nothing outlives run: a clean stop removes everything, a SIGKILLed run is cleaned by the next', async () => {
    expect((await ferryServer(['client', 'set', 'alice', '--rate-limit', String(LIMIT), '--dir', dir])).code).toBe(0);
    expect((await gatewayTc()).links).toMatch(/ferry-[0-9a-f]{6}-in/);
    // SIGKILL: run has no chance to clean up; its openvpn and the ifb device stay behind.
    gateway.child.kill('SIGKILL');
    await gateway.exited;
    expect((await gatewayTc()).links).toMatch(/ferry-[0-9a-f]{6}-in/);
    for (const t of tunnels.splice(0)) await t.stop();
    gateway = startGateway(lab, dir);
    await gateway.waitFor(/ferry-server: gateway .* ready/);
    await gateway.waitFor(/stopped an openvpn left behind/);
    let left = await gatewayTc();
    expect(left.links).not.toMatch(/ferry-[0-9a-f]{6}-in/);
    // A clean stop with a cap on: no qdisc, class, filter or device of ours remains.
    expect((await ferryServer(['set', '--bandwidth', String(CAP), '--dir', dir])).code).toBe(0);
    left = await gatewayTc();
    expect(left.qdiscs).toMatch(/htb/);
    expect(await gateway.stop('SIGTERM')).toBe(0);
    left = await gatewayTc();
    expect(left.qdiscs).not.toMatch(/htb|ingress/);
    expect(left.links).not.toMatch(/ferry-/);
    expect(execFileSync('ip', ['netns', 'pids', lab.ns.gateway], { encoding: 'utf8' }).trim()).toBe('');
  });
});

describe.skipIf(labSkipReason())('run stopped twice (Ctrl-C pressed again while openvpn stops)', () => {
  let lab: Lab;
  afterAll(async () => {
    await lab?.teardown();
  });

  it('the second signal does not cut the clean-up short: exit 0, no tun, no ifb, no qdisc', async () => {
    lab = await createLab();
    // UDP: openvpn takes a few seconds to stop (explicit-exit-notify), the wait that makes people press Ctrl-C again.
    const dir = await initServer(['--proto', 'udp', '--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet, '--bandwidth', '10']);
    const gateway = await readyGateway(lab, dir);
    expect((await lab.run('gateway', ['ip', '-o', 'link', 'show'])).stdout).toMatch(/ferry-[0-9a-f]{6}-in/);
    gateway.child.kill('SIGINT');
    await gateway.waitFor(/ferry-server: stopping/);
    gateway.child.kill('SIGINT');
    await gateway.waitFor(/already stopping/);
    expect(await gateway.exited).toBe(0);
    expect((await lab.run('gateway', ['ip', '-o', 'link', 'show'])).stdout).not.toMatch(/ferry-/);
    expect((await lab.run('gateway', ['tc', 'qdisc', 'show'])).stdout).not.toMatch(/htb|ingress/);
  });
});
