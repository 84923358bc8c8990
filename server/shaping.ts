/**
 * Rate limits on the gateway (the seed's 隧道限速 per account and SSL 带宽 for the whole
 * gateway), enforced with Linux traffic control on the gateway's tun device:
 *
 *   to clients   (their download): HTB on the tun device's egress
 *   from clients (their upload):   tun ingress redirected (mirred) to an ifb device, HTB there
 *
 * Both HTB trees look alike:
 *
 *   1:    htb qdisc, default class 1:ffff
 *   1:1   root class, rate = ceil = the gateway cap (or LINE_RATE when there is none)
 *   1:M   one leaf per limited tunnel address; M = the address's offset in the client pool
 *   1:ffff  everything else, only while there is a cap (without one, unclassified packets
 *           take HTB's direct queue: unlimited tunnels are never shaped)
 *
 * Every id is derived from the tunnel address, so no allocation table exists to get out of
 * step: offset 0 (network) and 1 (the gateway itself) are never clients, and neither is
 * 0xffff (the broadcast address of the largest pool OpenVPN accepts, a /16). Leaves are
 * found in O(1) by a u32 hash table keyed on the address's last byte (LARTC's u32 hashing):
 * filter handle 10:BUCKET:NODE, BUCKET = last byte, NODE = offset / 256 + 1.
 *
 * Only the state machine below changes the kernel's state: it knows what it applied, plans
 * the difference to the wanted state (a pure function, unit-tested), and after any failure
 * starts again from nothing.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { findExecutable } from '../core/util/executable.js';
import type { ShapingState } from './control.js';
import type { Ipv4Network } from './net.js';

/** The smallest and largest limit a person may set, in Mbit/s. */
export const MIN_MBPS = 0.1;
export const MAX_MBPS = 10_000;
/** The root class's rate when the gateway has no cap: above any limit, never reached by HTB's accounting. */
const LINE_RATE_KBIT = 100_000_000;
/**
 * Leaves under a cap get this tiny guaranteed rate and borrow the rest from the root class,
 * so the cap holds however many leaves there are (a leaf below its own rate would send
 * without asking its parent).
 */
const BORROWING_RATE_KBIT = 8;
/** One full-size packet per round: ≥ the tun MTU, and quiet (HTB warns about derived quanta). */
const QUANTUM = 1514;
const DEFAULT_MINOR = 0xffff;
const HASH_TABLE = '10';
const FILTER_PRIO = '10';

export interface ShapingDevices {
  /** The gateway's tun device (openvpn `dev`). */
  tun: string;
  /** The ifb device that carries the tun device's ingress. */
  ifb: string;
  /** The client address pool. */
  pool: Ipv4Network;
}

/** What should be enforced. Rates in kbit/s (tc's "kbit" = 1000 bit/s). */
export interface ShapingTarget {
  capKbit?: number;
  /** Every tunnel that is up: its address → its account's limit (undefined: none). */
  tunnels: ReadonlyMap<string, number | undefined>;
}

export interface Step {
  cmd: 'tc' | 'ip';
  args: string[];
}

/** The gateway's device names, derived from its state directory (IFNAMSIZ: 15 characters). */
export function shapingDeviceNames(stateDir: string): { tun: string; ifb: string } {
  const tag = createHash('sha256').update(stateDir).digest('hex').slice(0, 6);
  return { tun: `ferry-${tag}`, ifb: `ferry-${tag}-in` };
}

/** Mbit/s as typed (`10`, `2.5`) → kbit/s; throws an InputError naming the option. */
export function parseMbps(text: string, option: string): number {
  const example = `a number of Mbit/s such as 10 or 2.5, or off`;
  if (!/^\d{1,6}(\.\d{1,3})?$/.test(text)) throw new InputError(`${option} "${text}" must be ${example}`);
  const mbps = Number(text);
  if (mbps < MIN_MBPS) throw new InputError(`${option} ${text} is too low: the smallest limit is ${MIN_MBPS} Mbit/s (use off for no limit)`);
  if (mbps > MAX_MBPS) throw new InputError(`${option} ${text} is above ${MAX_MBPS} Mbit/s (10 Gbit/s), more than any tunnel carries; use off for no limit`);
  return mbps;
}

/** Limits are enforced with Linux traffic control; elsewhere they are refused up front. */
export function requireTrafficControl(option: string, platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'linux') {
    throw new InputError(`${option} needs Linux traffic control (tc) on the gateway; this host runs ${platform}. Run ferry-server on Linux to limit rates`);
  }
}

export const mbpsToKbit = (mbps: number): number => Math.round(mbps * 1000);

/** HTB class id minor of a tunnel address: its offset in the pool, or undefined outside it. */
export function classMinor(pool: Ipv4Network, address: string): number | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) return undefined;
  const offset = toInt(address) - toInt(pool.address);
  const size = 2 ** (32 - pool.prefix);
  if (offset < 2 || offset >= Math.min(size - 1, DEFAULT_MINOR)) return undefined;
  return offset;
}

function toInt(address: string): number {
  return ipaddr.IPv4.parse(address).octets.reduce((n, o) => n * 256 + o, 0);
}

/** What is in the kernel now: the cap, and each leaf's tc parameters by tunnel address. */
export type Applied = { kind: 'off' } | { kind: 'on'; capKbit?: number; leaves: Map<string, Leaf> };

/** One tunnel's HTB class, kbit/s. */
export interface Leaf {
  rateKbit: number;
  ceilKbit: number;
}

const hex = (n: number) => n.toString(16);

/**
 * Leaves by tunnel address: a limited tunnel always has one; under a cap every tunnel has
 * one, so tunnels share the cap fairly (HTB round-robins its leaves) instead of one bulk
 * download filling a common queue and starving the rest.
 */
export function leavesOf(devices: ShapingDevices, target: ShapingTarget): Map<string, Leaf> {
  const leaves = new Map<string, Leaf>();
  for (const [address, limit] of target.tunnels) {
    if (classMinor(devices.pool, address) === undefined) continue;
    const ceil = limit === undefined ? target.capKbit : Math.min(limit, target.capKbit ?? limit);
    if (ceil === undefined) continue;
    // Under a cap a leaf borrows everything above a token rate from the root, so the cap
    // holds however many leaves there are; without one, its rate is its limit.
    leaves.set(address, { rateKbit: target.capKbit === undefined ? ceil : Math.min(BORROWING_RATE_KBIT, ceil), ceilKbit: ceil });
  }
  return leaves;
}

/** The steps that take the devices from `from` to `to` (pure). */
export function planShaping(devices: ShapingDevices, from: Applied, to: ShapingTarget): Step[] {
  const wanted = leavesOf(devices, to);
  if (to.capKbit === undefined && wanted.size === 0) return from.kind === 'off' ? [] : teardownSteps(devices);
  const steps: Step[] = [];
  const sides = [
    { dev: devices.tun, match: 'dst', at: 16 },
    { dev: devices.ifb, match: 'src', at: 12 },
  ] as const;
  const before = from.kind === 'on' ? from : undefined;
  const rootRate = to.capKbit ?? LINE_RATE_KBIT;
  if (!before) {
    steps.push({ cmd: 'ip', args: ['link', 'add', devices.ifb, 'type', 'ifb'] }, { cmd: 'ip', args: ['link', 'set', devices.ifb, 'up'] });
    for (const { dev, match, at } of sides) {
      steps.push(
        tc('qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', hex(DEFAULT_MINOR)),
        tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', ...htbRates(rootRate, rootRate)),
        tc('filter', 'add', 'dev', dev, 'parent', '1:', 'prio', FILTER_PRIO, 'handle', `${HASH_TABLE}:`, 'protocol', 'ip', 'u32', 'divisor', '256'),
        tc('filter', 'add', 'dev', dev, 'parent', '1:', 'prio', FILTER_PRIO, 'protocol', 'ip', 'u32', 'ht', '800::',
          'match', 'ip', match, devices.pool.cidr, 'hashkey', 'mask', '0x000000ff', 'at', String(at), 'link', `${HASH_TABLE}:`),
      );
    }
    steps.push(
      tc('qdisc', 'add', 'dev', devices.tun, 'handle', 'ffff:', 'ingress'),
      tc('filter', 'add', 'dev', devices.tun, 'parent', 'ffff:', 'prio', FILTER_PRIO, 'protocol', 'all', 'u32', 'match', 'u32', '0', '0',
        'action', 'mirred', 'egress', 'redirect', 'dev', devices.ifb),
    );
  }
  const oldCap = before?.capKbit;
  for (const { dev, match } of sides) {
    if (before && oldCap !== to.capKbit) steps.push(tc('class', 'change', 'dev', dev, 'classid', '1:1', 'htb', ...htbRates(rootRate, rootRate)));
    // The default class (traffic of no tunnel of ours) exists exactly while there is a cap.
    const defaultClass = `1:${hex(DEFAULT_MINOR)}`;
    if (to.capKbit === undefined && oldCap !== undefined) steps.push(tc('class', 'del', 'dev', dev, 'classid', defaultClass));
    if (to.capKbit !== undefined && oldCap !== to.capKbit) {
      steps.push(
        tc('class', oldCap === undefined ? 'add' : 'change', 'dev', dev, 'parent', '1:1', 'classid', defaultClass, 'htb', ...htbRates(BORROWING_RATE_KBIT, to.capKbit)),
        tc('qdisc', 'replace', 'dev', dev, 'parent', defaultClass, 'pfifo', 'limit', String(queueLimit(to.capKbit))),
      );
    }
    for (const address of before?.leaves.keys() ?? []) {
      if (wanted.has(address)) continue;
      const minor = classMinor(devices.pool, address)!;
      steps.push(
        tc('filter', 'del', 'dev', dev, 'parent', '1:', 'prio', FILTER_PRIO, 'handle', filterHandle(address, minor), 'protocol', 'ip', 'u32'),
        tc('class', 'del', 'dev', dev, 'classid', `1:${hex(minor)}`), // its queue goes with it
      );
    }
    for (const [address, leaf] of wanted) {
      const minor = classMinor(devices.pool, address)!;
      const had = before?.leaves.get(address);
      if (had && had.rateKbit === leaf.rateKbit && had.ceilKbit === leaf.ceilKbit) continue;
      const classid = `1:${hex(minor)}`;
      steps.push(
        tc('class', had ? 'change' : 'add', 'dev', dev, 'parent', '1:1', 'classid', classid, 'htb', ...htbRates(leaf.rateKbit, leaf.ceilKbit)),
        // No handle: the kernel picks a free one (every 16-bit major may be a tunnel's minor).
        tc('qdisc', 'replace', 'dev', dev, 'parent', classid, 'pfifo', 'limit', String(queueLimit(leaf.ceilKbit))),
      );
      if (!had) {
        steps.push(
          tc('filter', 'add', 'dev', dev, 'parent', '1:', 'prio', FILTER_PRIO, 'handle', filterHandle(address, minor), 'protocol', 'ip', 'u32',
            'ht', `${HASH_TABLE}:${hex(lastByte(address))}:`, 'match', 'ip', match, `${address}/32`, 'flowid', classid),
        );
      }
    }
  }
  return steps;
}

/** Removes everything planShaping ever adds; each step may fail harmlessly (already gone). */
export function teardownSteps(devices: Pick<ShapingDevices, 'tun' | 'ifb'>): Step[] {
  return [
    tc('qdisc', 'del', 'dev', devices.tun, 'root'),
    tc('qdisc', 'del', 'dev', devices.tun, 'ingress'),
    { cmd: 'ip', args: ['link', 'del', devices.ifb] },
  ];
}

/**
 * HTB parameters. Buckets hold 10 ms at the rate (at least two full packets): the kernel's
 * own default (one timer tick) is too small to keep a tunnel at its limit, and much more
 * lets bursts through.
 */
function htbRates(rateKbit: number, ceilKbit: number): string[] {
  const bucket = (kbit: number) => String(Math.max(2 * QUANTUM, Math.round(kbit * 1.25)));
  return ['rate', `${rateKbit}kbit`, 'ceil', `${ceilKbit}kbit`, 'burst', bucket(rateKbit), 'cburst', bucket(ceilKbit), 'quantum', String(QUANTUM)];
}

/**
 * A leaf's queue: about 100 ms of packets at its ceiling. The device's own length (500 on a
 * tun, 32 on an ifb) would be seconds of delay at a few Mbit/s, or too short to fill a fast one.
 */
function queueLimit(ceilKbit: number): number {
  return Math.min(1000, Math.max(16, Math.round(ceilKbit / 120)));
}

function filterHandle(address: string, minor: number): string {
  return `${HASH_TABLE}:${hex(lastByte(address))}:${hex((minor >> 8) + 1)}`;
}

function lastByte(address: string): number {
  return ipaddr.IPv4.parse(address).octets[3]!;
}

function tc(...args: string[]): Step {
  return { cmd: 'tc', args };
}

export type StepRunner = (steps: Step[], opts: { ignoreErrors: boolean }) => Promise<void>;

/** Output kept from a failing tc/ip run: enough for the message, bounded. */
const MAX_OUTPUT = 16 * 1024;
const STEP_TIMEOUT_MS = 10_000;

/**
 * Runs steps with iproute2: consecutive tc steps as one `tc -batch -` (one process, stops
 * at the first failure). With ignoreErrors every step runs on its own and failures pass.
 * `netns` runs them inside a named network namespace (tests).
 */
export function stepRunner(netns?: string): StepRunner {
  const run = (cmd: 'tc' | 'ip', args: string[], input?: string) =>
    netns === undefined ? runTool(cmd, args, input) : runTool('ip', ['netns', 'exec', netns, cmd, ...args], input);
  return async (steps, { ignoreErrors }) => {
    if (ignoreErrors) {
      for (const step of steps) await run(step.cmd, step.args).catch(() => undefined);
      return;
    }
    for (let i = 0; i < steps.length; ) {
      const step = steps[i]!;
      if (step.cmd === 'ip') {
        await run('ip', step.args);
        i++;
        continue;
      }
      let j = i;
      while (j < steps.length && steps[j]!.cmd === 'tc') j++;
      const batch = steps.slice(i, j);
      await run('tc', ['-batch', '-'], `${batch.map((s) => s.args.join(' ')).join('\n')}\n`);
      i = j;
    }
  };
}

export const runSteps: StepRunner = stepRunner();

function runTool(cmd: 'tc' | 'ip', args: string[], input?: string): Promise<void> {
  const binary = findExecutable(cmd);
  if (!binary) return Promise.reject(new FerryError(`${cmd} not found: rate limits need iproute2 (Debian/Ubuntu: apt install iproute2)`));
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: STEP_TIMEOUT_MS });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += chunk.slice(0, MAX_OUTPUT - stderr.length);
    });
    child.stdin!.on('error', () => {}); // a tc that dies early: its exit code says why
    child.stdin!.end(input ?? '');
    child.once('error', (err) => reject(new FerryError(`${cmd} could not run: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const detail = stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ') || (signal ? `killed by ${signal}` : `exit ${code}`);
      reject(new FerryError(`traffic control failed (${cmd} ${args.slice(0, 2).join(' ')}): ${detail}`));
    });
  });
}

/**
 * The one owner of the gateway's traffic-control state. `apply` calls run one at a time;
 * each reads the wanted state when its turn comes, so a burst of changes ends in the latest.
 */
export class Shaper {
  private applied: Applied | { kind: 'unknown' } = { kind: 'unknown' };
  private lastError?: string;
  private turn: Promise<void> = Promise.resolve();
  /** After close() nothing may be created again: the gateway is stopping. */
  private closed = false;

  constructor(
    private readonly devices: ShapingDevices,
    private readonly runner: StepRunner = runSteps,
  ) {}

  apply(target: () => Promise<ShapingTarget>): Promise<void> {
    const run = this.turn.then(async () => {
      if (this.closed) throw new FerryError('the gateway is stopping: rate limits are no longer applied');
      const wanted = await target(); // a failure here changed nothing in the kernel
      try {
        // Unknown: at start-up (a killed run may have left an ifb device) or after a failure.
        if (this.applied.kind === 'unknown') {
          await this.runner(teardownSteps(this.devices), { ignoreErrors: true });
          this.applied = { kind: 'off' };
        }
        await this.runner(planShaping(this.devices, this.applied, wanted), { ignoreErrors: false });
        const leaves = leavesOf(this.devices, wanted);
        this.applied = wanted.capKbit === undefined && leaves.size === 0 ? { kind: 'off' } : { kind: 'on', ...(wanted.capKbit !== undefined ? { capKbit: wanted.capKbit } : {}), leaves };
        this.lastError = undefined;
      } catch (err) {
        this.applied = { kind: 'unknown' };
        this.lastError = (err as Error).message;
        throw err;
      }
    });
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Removes everything, whatever happened before; never throws. */
  async close(): Promise<void> {
    this.closed = true;
    await this.turn;
    await this.runner(teardownSteps(this.devices), { ignoreErrors: true }).catch(() => undefined);
    this.applied = { kind: 'off' };
  }

  status(): ShapingState {
    if (this.lastError !== undefined) return { state: 'failed', error: this.lastError };
    return { state: this.applied.kind === 'on' ? 'on' : 'off' };
  }
}
