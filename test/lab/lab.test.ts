import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, sweepStaleLabs } from './lab.js';
import type { Lab } from './lab.js';

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Running = exists and is not a zombie (an orphan killed by teardown may wait a moment for
 *  init to reap it, but it no longer runs or holds its namespace). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe.skipIf(labSkipReason())('network lab', () => {
  let lab: Lab | undefined;
  const theLab = (): Lab => {
    if (!lab) throw new Error('lab not created');
    return lab;
  };

  beforeAll(async () => {
    lab = await createLab();
  });
  afterAll(async () => {
    await lab?.teardown();
  });

  it('names its namespaces after the owner pid', () => {
    const { ns, id } = theLab();
    expect(id).toMatch(new RegExp(`^fy${process.pid}x[0-9a-f]{4}$`));
    expect(namespaces()).toEqual(expect.arrayContaining([ns.client, ns.gateway, ns.vpc]));
  });

  it('client reaches the gateway; gateway reaches the vpc host', async () => {
    const l = theLab();
    expect(await l.ping('client', l.addr.gatewayUnderlay)).toBe(true);
    expect(await l.ping('gateway', l.addr.vpcHost)).toBe(true);
  });

  it('client has no route to the vpc host without a tunnel', async () => {
    const l = theLab();
    expect(await l.ping('client', l.addr.vpcHost, 1)).toBe(false);
    const route = await l.exec('client', ['ip', 'route', 'get', l.addr.vpcHost]);
    expect(route.code).not.toBe(0);
  });

  it('setUnderlay takes the client<->gateway link down and back up', async () => {
    const l = theLab();
    await l.setUnderlay(false);
    expect(await l.ping('client', l.addr.gatewayUnderlay, 1)).toBe(false);
    await l.setUnderlay(true);
    expect(await l.ping('client', l.addr.gatewayUnderlay)).toBe(true);
  });

  it('exec reports non-zero exits; run throws with stderr', async () => {
    const l = theLab();
    const res = await l.exec('vpc', ['sh', '-c', 'echo oops >&2; exit 3']);
    expect(res).toMatchObject({ code: 3, stderr: 'oops\n' });
    await expect(l.run('vpc', ['sh', '-c', 'echo oops >&2; exit 3'])).rejects.toThrow(/exited 3: oops/);
  });

  it('teardown kills spawned processes and removes the namespaces, idempotently', async () => {
    const own = await createLab();
    const child = own.spawn('gateway', ['sleep', '600'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Also a process teardown did not start itself: found via `ip netns pids`.
    const stray = await own.run('vpc', ['sh', '-c', 'sleep 600 >/dev/null 2>&1 & echo $!']);
    const strayPid = Number(stray.stdout.trim());
    expect(isRunning(strayPid)).toBe(true);

    await own.teardown();
    await own.teardown();
    await exited;
    expect(isRunning(strayPid)).toBe(false);
    const left = namespaces();
    for (const ns of Object.values(own.ns)) expect(left).not.toContain(ns);
    // The other lab is untouched.
    expect(await theLab().ping('client', theLab().addr.gatewayUnderlay)).toBe(true);
  });

  it('sweepStaleLabs removes labs of dead owners only', () => {
    let deadPid = 999_999;
    while (isAlive(deadPid)) deadPid += 1;
    const stale = `fy${deadPid}x0000-c`;
    execFileSync('ip', ['netns', 'add', stale]);
    try {
      sweepStaleLabs();
      const left = namespaces();
      expect(left).not.toContain(stale);
      expect(left).toContain(theLab().ns.client); // our own (live owner) lab stays
    } finally {
      if (namespaces().includes(stale)) execFileSync('ip', ['netns', 'del', stale]);
    }
  });
});
