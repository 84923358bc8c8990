/** The rate-limit planner (server/shaping.ts): inputs, ids, and what it asks of tc. */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../core/util/errors.js';
import { parseIpv4Cidr } from '../../server/net.js';
import { classMinor, leavesOf, parseMbps, planShaping, requireTrafficControl, Shaper, shapingDeviceNames, teardownSteps, type ShapingTarget, type Step } from '../../server/shaping.js';

const devices = { tun: 'ferry-abcdef', ifb: 'ferry-abcdef-in', pool: parseIpv4Cidr('198.18.100.0/24', 'pool') };
const lines = (steps: Step[]) => steps.map((s) => `${s.cmd} ${s.args.join(' ')}`);

describe('limits as typed', () => {
  it.each(['10', '2.5', '0.1', '10000', '100.125'])('accepts %s Mbit/s', (text) => {
    expect(parseMbps(text, '--rate-limit')).toBe(Number(text));
  });

  it.each([
    ['abc', /must be a number of Mbit\/s/],
    ['', /must be a number/],
    ['-5', /must be a number/],
    ['1e3', /must be a number/],
    [' 10', /must be a number/],
    ['1.2345', /must be a number/],
    ['0', /too low: the smallest limit is 0.1 Mbit\/s/],
    ['0.05', /too low/],
    ['10001', /above 10000 Mbit\/s/],
    ['99999999', /must be a number|above/],
  ])('refuses %j', (text, message) => {
    expect(() => parseMbps(text, '--rate-limit')).toThrow(InputError);
    expect(() => parseMbps(text, '--rate-limit')).toThrow(message);
  });

  it('refuses limits where there is no Linux traffic control, naming the platform', () => {
    expect(() => requireTrafficControl('--rate-limit', 'darwin')).toThrow(/--rate-limit needs Linux traffic control \(tc\) on the gateway; this host runs darwin/);
    expect(() => requireTrafficControl('--bandwidth', 'win32')).toThrow(InputError);
    expect(() => requireTrafficControl('--rate-limit', 'linux')).not.toThrow();
  });
});

describe('ids derived from the tunnel address', () => {
  it('class minor = offset in the pool; network, gateway and broadcast are never clients', () => {
    const pool = devices.pool;
    expect(classMinor(pool, '198.18.100.2')).toBe(2);
    expect(classMinor(pool, '198.18.100.254')).toBe(254);
    for (const a of ['198.18.100.0', '198.18.100.1', '198.18.100.255', '198.18.101.2', '198.18.99.255', 'garbage', '198.18.100.2/32']) {
      expect(classMinor(pool, a), a).toBeUndefined();
    }
    const big = parseIpv4Cidr('198.18.0.0/16', 'pool');
    expect(classMinor(big, '198.18.255.254')).toBe(0xfffe);
    expect(classMinor(big, '198.18.255.255')).toBeUndefined(); // 1:ffff is the default class
  });

  it('device names fit IFNAMSIZ and differ per state directory', () => {
    const a = shapingDeviceNames('/var/lib/ferry-server');
    const b = shapingDeviceNames('/srv/other');
    expect(a.tun).toMatch(/^ferry-[0-9a-f]{6}$/);
    expect(a.ifb).toBe(`${a.tun}-in`);
    expect(a.ifb.length).toBeLessThanOrEqual(15);
    expect(a.tun).not.toBe(b.tun);
  });
});

describe('planShaping', () => {
  const limited = { tunnels: new Map([['198.18.100.2', 8000], ['198.18.100.3', undefined]]) };

  it('nothing to enforce: no steps, and no devices touched', () => {
    expect(planShaping(devices, { kind: 'off' }, { tunnels: new Map([['198.18.100.3', undefined]]) })).toEqual([]);
  });

  it('a limited tunnel: ifb created, HTB on both devices, a leaf and a hashed filter each way; unlimited tunnels get nothing', () => {
    const steps = lines(planShaping(devices, { kind: 'off' }, limited));
    expect(steps.slice(0, 2)).toEqual(['ip link add ferry-abcdef-in type ifb', 'ip link set ferry-abcdef-in up']);
    expect(steps).toContain('tc filter add dev ferry-abcdef parent ffff: prio 10 protocol all u32 match u32 0 0 action mirred egress redirect dev ferry-abcdef-in');
    expect(steps).toContain('tc filter add dev ferry-abcdef parent 1: prio 10 handle 10:2:1 protocol ip u32 ht 10:2: match ip dst 198.18.100.2/32 flowid 1:2');
    expect(steps).toContain('tc filter add dev ferry-abcdef-in parent 1: prio 10 handle 10:2:1 protocol ip u32 ht 10:2: match ip src 198.18.100.2/32 flowid 1:2');
    expect(steps.filter((l) => l.includes('classid 1:2 htb rate 8000kbit ceil 8000kbit'))).toHaveLength(2);
    expect(steps.join('\n')).not.toMatch(/198\.18\.100\.3|1:3\b|1:ffff htb/);
  });

  it('planning what is already applied asks for nothing', () => {
    const targets: ShapingTarget[] = [limited, { capKbit: 12_000, tunnels: limited.tunnels }, { capKbit: 5_000, tunnels: new Map() }];
    for (const target of targets) {
      const applied = { kind: 'on' as const, ...(target.capKbit !== undefined ? { capKbit: target.capKbit } : {}), leaves: leavesOf(devices, target) };
      expect(planShaping(devices, applied, target)).toEqual([]);
    }
  });

  it('under a cap every tunnel gets a leaf that borrows from the capped root; a limit above the cap is held to the cap', () => {
    const leaves = leavesOf(devices, { capKbit: 12_000, tunnels: new Map([['198.18.100.2', 20_000], ['198.18.100.3', undefined], ['198.18.100.4', 4_000]]) });
    expect(Object.fromEntries(leaves)).toEqual({
      '198.18.100.2': { rateKbit: 8, ceilKbit: 12_000 },
      '198.18.100.3': { rateKbit: 8, ceilKbit: 12_000 },
      '198.18.100.4': { rateKbit: 8, ceilKbit: 4_000 },
    });
  });

  it('a tunnel that leaves: its filter goes before its class, on both devices', () => {
    const applied = { kind: 'on' as const, leaves: leavesOf(devices, limited) };
    const other = { tunnels: new Map([['198.18.100.9', 1_000]]) };
    const steps = lines(planShaping(devices, applied, other));
    for (const dev of [devices.tun, devices.ifb]) {
      const filterDel = steps.indexOf(`tc filter del dev ${dev} parent 1: prio 10 handle 10:2:1 protocol ip u32`);
      const classDel = steps.indexOf(`tc class del dev ${dev} classid 1:2`);
      expect(filterDel).toBeGreaterThanOrEqual(0);
      expect(classDel).toBeGreaterThan(filterDel);
    }
    expect(steps.some((l) => l.startsWith('ip link add'))).toBe(false);
  });

  it('the last limit gone and no cap: everything is torn down', () => {
    const applied = { kind: 'on' as const, leaves: leavesOf(devices, limited) };
    expect(planShaping(devices, applied, { tunnels: new Map() })).toEqual(teardownSteps(devices));
  });

  it('addresses outside the pool are ignored, never turned into ids', () => {
    expect(planShaping(devices, { kind: 'off' }, { tunnels: new Map([['10.0.0.2', 1_000], ['198.18.100.1', 1_000]]) })).toEqual([]);
  });
});

describe('Shaper', () => {
  it('runs one change at a time; after a failure it starts again from nothing; close tears down and never throws', async () => {
    const calls: string[][] = [];
    let fail = false;
    const runner = async (steps: Step[], opts: { ignoreErrors: boolean }) => {
      calls.push(lines(steps).map((l) => `${opts.ignoreErrors ? '?' : ''}${l}`));
      await new Promise((resolve) => setImmediate(resolve));
      if (fail && !opts.ignoreErrors) throw new Error('RTNETLINK answers: No such device');
    };
    const shaper = new Shaper(devices, runner);
    let target = limited();
    const first = shaper.apply(async () => target);
    const second = shaper.apply(async () => target); // queued behind the first; nothing left to do
    await Promise.all([first, second]);
    expect(calls[0]!.every((l) => l.startsWith('?'))).toBe(true); // start-up: leftovers of a killed run
    expect(calls[1]!.some((l) => l.includes('ip link add'))).toBe(true);
    expect(calls[2]).toEqual([]);
    expect(shaper.status()).toEqual({ state: 'on' });

    fail = true;
    target = { tunnels: new Map([['198.18.100.2', 4_000]]) };
    await expect(shaper.apply(async () => target)).rejects.toThrow(/No such device/);
    expect(shaper.status()).toEqual({ state: 'failed', error: 'RTNETLINK answers: No such device' });
    fail = false;
    calls.length = 0;
    await shaper.apply(async () => target);
    expect(calls[0]!.every((l) => l.startsWith('?'))).toBe(true); // unknown state: tear down first
    expect(calls[1]!.some((l) => l.includes('ip link add'))).toBe(true); // then build from nothing
    expect(shaper.status()).toEqual({ state: 'on' });

    fail = true;
    await expect(shaper.close()).resolves.toBeUndefined();
    expect(shaper.status()).toEqual({ state: 'off' });
  });

  it('after close nothing is created again (a reload arriving while the gateway stops)', async () => {
    const calls: string[][] = [];
    const shaper = new Shaper(devices, async (steps, opts) => void calls.push(lines(steps).map((l) => `${opts.ignoreErrors ? '?' : ''}${l}`)));
    await shaper.apply(async () => limited());
    const closing = shaper.close();
    const late = shaper.apply(async () => limited());
    await closing;
    await expect(late).rejects.toThrow(/the gateway is stopping/);
    expect(calls.at(-1)!.every((l) => l.startsWith('?'))).toBe(true); // the last thing run was the teardown
    expect(calls.flat().filter((l) => l.includes('ip link add'))).toHaveLength(1);
  });

    it('a failure to read the wanted state changes nothing in the kernel', async () => {
    const calls: Step[][] = [];
    const shaper = new Shaper(devices, async (steps) => void calls.push(steps));
    await shaper.apply(async () => limited());
    const before = calls.length;
    await expect(shaper.apply(async () => { throw new Error('index.json is damaged'); })).rejects.toThrow(/damaged/);
    expect(calls.length).toBe(before);
    expect(shaper.status()).toEqual({ state: 'on' });
  });

  function limited() {
    return { tunnels: new Map<string, number | undefined>([['198.18.100.2', 8_000]]) };
  }
});
