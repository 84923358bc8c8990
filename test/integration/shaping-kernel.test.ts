/**
 * server/shaping.ts against the real kernel: a random walk of tunnels, limits and caps
 * applied with tc in a lab namespace (a veth stands in for the tun device), and after
 * every step the kernel's classes and filters are exactly what the target asks for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { parseIpv4Cidr } from '../../server/net.js';
import { classMinor, Shaper, stepRunner, type ShapingTarget } from '../../server/shaping.js';

const pool = parseIpv4Cidr('198.18.0.0/16', 'pool');
// Same last byte (one hash bucket, different nodes), both ends of a /16, and the rest.
const ADDRESSES = ['198.18.0.2', '198.18.1.2', '198.18.255.2', '198.18.255.254', '198.18.7.77', '198.18.100.3'];
const LIMITS = [undefined, 1_000, 5_000, 20_000];
const CAPS = [undefined, undefined, 3_000, 12_000];

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let state = seed;
  return () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function toKbit(text: string): number {
  const m = /^([\d.]+)([KMG]?)bit$/.exec(text);
  if (!m) throw new Error(`unreadable rate ${text}`);
  return Math.round(Number(m[1]) * { '': 0.001, K: 1, M: 1_000, G: 1_000_000 }[m[2] as '' | 'K' | 'M' | 'G']);
}

describe.skipIf(labSkipReason())('traffic control against the kernel', () => {
  let lab: Lab;
  const devices = { tun: 'g2', ifb: 'ferry-test-in', pool };

  beforeAll(async () => {
    lab = await createLab();
  });
  afterAll(async () => {
    await lab?.teardown();
  });

  async function kernel(dev: string): Promise<{ classes: Map<string, number>; filters: Map<string, string> }> {
    const classes = new Map<string, number>();
    for (const line of (await lab.run('gateway', ['tc', 'class', 'show', 'dev', dev])).stdout.split('\n')) {
      const m = /^class htb (\S+) .* ceil (\S+)/.exec(line);
      if (m) classes.set(m[1]!, toKbit(m[2]!));
    }
    const filters = new Map<string, string>();
    const json = (await lab.run('gateway', ['tc', '-j', 'filter', 'show', 'dev', dev, 'parent', '1:'])).stdout.trim();
    for (const f of json ? (JSON.parse(json) as Array<{ options?: { fh?: string; flowid?: string } }>) : []) {
      if (f.options?.flowid) filters.set(f.options.fh!, f.options.flowid);
    }
    return { classes, filters };
  }

  function expected(target: ShapingTarget): { classes: Map<string, number>; filters: Map<string, string> } {
    const classes = new Map<string, number>();
    const filters = new Map<string, string>();
    classes.set('1:1', target.capKbit ?? 100_000_000);
    if (target.capKbit !== undefined) classes.set('1:ffff', target.capKbit);
    for (const [address, limit] of target.tunnels) {
      const ceil = limit === undefined ? target.capKbit : Math.min(limit, target.capKbit ?? limit);
      if (ceil === undefined) continue;
      const minor = classMinor(pool, address)!;
      classes.set(`1:${minor.toString(16)}`, ceil);
      filters.set(`10:${Number(address.split('.')[3]).toString(16)}:${((minor >> 8) + 1).toString(16)}`, `1:${minor.toString(16)}`);
    }
    return { classes, filters };
  }

  it('after every change the kernel holds exactly the wanted classes and filters; close leaves nothing', async () => {
    const shaper = new Shaper(devices, stepRunner(lab.ns.gateway));
    const next = random(20261201);
    const pick = <T,>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
    for (let step = 0; step < 40; step++) {
      const tunnels = new Map<string, number | undefined>();
      for (const address of ADDRESSES) if (next() < 0.5) tunnels.set(address, pick(LIMITS));
      const target: ShapingTarget = { ...(pick(CAPS) !== undefined ? { capKbit: pick([3_000, 12_000]) } : {}), tunnels };
      await shaper.apply(async () => target);
      const want = expected(target);
      const active = want.classes.size > 1 || target.capKbit !== undefined;
      for (const dev of [devices.tun, devices.ifb]) {
        if (!active) {
          expect((await lab.run('gateway', ['tc', 'qdisc', 'show', 'dev', devices.tun])).stdout, `step ${step}`).not.toMatch(/htb|ingress/);
          expect((await lab.exec('gateway', ['ip', 'link', 'show', devices.ifb])).code, `step ${step}: ifb gone`).not.toBe(0);
          break;
        }
        const got = await kernel(dev);
        expect(got.classes, `step ${step} ${dev} ${JSON.stringify(target, (_k, v) => (v instanceof Map ? [...v] : v))}`).toEqual(want.classes);
        expect(got.filters, `step ${step} ${dev}`).toEqual(want.filters);
        // One bounded queue per leaf class, replaced in place when a limit changes, never piled up.
        const queues = (await lab.run('gateway', ['tc', 'qdisc', 'show', 'dev', dev])).stdout.split('\n').filter((l) => /^qdisc pfifo .* limit \d+p/.test(l));
        expect(queues.length, `step ${step} ${dev} queues`).toBe(want.classes.size - 1);
      }
    }
    await shaper.close();
    expect((await lab.run('gateway', ['tc', 'qdisc', 'show', 'dev', devices.tun])).stdout).not.toMatch(/htb|ingress/);
    expect((await lab.exec('gateway', ['ip', 'link', 'show', devices.ifb])).code).not.toBe(0);
  });
});
