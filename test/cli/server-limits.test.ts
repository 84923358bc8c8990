/**
 * `ferry-server client add|set --rate-limit` and `set --bandwidth` (seed 3.4.3.1 隧道限速,
 * 2.2.2 SSL 带宽) without a gateway: bad input refused with exit 2, one line, nothing
 * changed; good input stored and shown. The enforcement itself: test/integration/gateway-shaping.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../server/cli.js';
import { addAccounts, ferryServer, initServer, snapshot } from '../support/cli.js';

async function refused(dir: string, args: string[], message: RegExp): Promise<void> {
  const before = await snapshot(dir);
  const result = await ferryServer([...args, '--dir', dir]);
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toMatch(message);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(await snapshot(dir)).toEqual(before);
}

describe('rate limits on the command line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await initServer();
    await addAccounts(dir, ['alice', 'bob']);
  });

  it.each([
    [['client', 'add', 'carol', '--rate-limit', 'fast'], /--rate-limit "fast" must be a number of Mbit\/s such as 10 or 2.5, or off/],
    [['client', 'add', 'carol', '--rate-limit', '0'], /--rate-limit 0 is too low: the smallest limit is 0.1 Mbit\/s/],
    [['client', 'add', 'carol', '--rate-limit=-5'], /--rate-limit "-5" must be a number/],
    [['client', 'add', 'carol', '--rate-limit', '-5'], /argument is ambiguous|must be a number/],
    [['client', 'add', 'carol', '--rate-limit', '99999999'], /--rate-limit "99999999" must be a number|above 10000 Mbit\/s/],
    [['client', 'add', 'carol', '--rate-limit', '20000'], /--rate-limit 20000 is above 10000 Mbit\/s \(10 Gbit\/s\)/],
    [['client', 'add', 'carol', '--rate-limit', 'off'], /a new account has no limit unless you give one/],
    [['client', 'set', 'nobody', '--rate-limit', '5'], /no account "nobody"/],
    [['client', 'set', 'alice'], /nothing to set: use --rate-limit MBPS or --rate-limit off/],
    [['client', 'set', 'alice', '--rate-limit', 'NaN'], /must be a number/],
    [['client', 'set', 'alice', 'bob', '--rate-limit', '5'], /expected 1 account name, got 2/],
    [['set', '--bandwidth', 'lots'], /--bandwidth "lots" must be a number of Mbit\/s/],
    [['set', '--bandwidth', '0.01'], /--bandwidth 0.01 is too low/],
    [['set', '--bandwidth', 'Infinity'], /--bandwidth "Infinity" must be a number/],
  ])('refuses %j: exit 2, one line, state unchanged', async (args, message) => {
    await refused(dir, args, message);
  });

  it('a limit on a host without Linux traffic control is refused up front, naming the platform', async () => {
    const before = await snapshot(dir);
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    const err: string[] = [];
    try {
      const io = { out: () => {}, err: (line: string) => void err.push(line) };
      expect(await main(['client', 'set', 'alice', '--rate-limit', '5', '--dir', dir], io)).toBe(2);
      expect(await main(['set', '--bandwidth', '50', '--dir', dir], io)).toBe(2);
      expect(await main(['client', 'add', 'carol', '--rate-limit', '5', '--dir', dir], io)).toBe(2);
      // Turning a limit off needs no traffic control (alice has none: nothing changes).
      expect(await main(['client', 'set', 'alice', '--rate-limit', 'off', '--dir', dir], io)).toBe(0);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
    expect(err.join('\n')).toMatch(/--rate-limit needs Linux traffic control \(tc\) on the gateway; this host runs darwin/);
    expect(err.join('\n')).toMatch(/--bandwidth needs Linux traffic control/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('limits are stored, listed and turned off; the bandwidth shows in status', async () => {
    const dir = await initServer(); // its own: this one changes state
    const added = await ferryServer(['client', 'add', 'alice', 'bob', '--rate-limit', '2.5', '--dir', dir, '--json']);
    expect(added.code, added.stderr).toBe(0);
    const set = await ferryServer(['client', 'set', 'bob', '--rate-limit', '40', '--dir', dir]);
    expect(set.stdout.trim()).toBe('bob: rate limit 40 Mbit/s each way; takes effect when "ferry-server run" starts');
    let list = JSON.parse((await ferryServer(['client', 'list', '--json', '--dir', dir])).stdout) as Array<{ account: string; rateLimitMbps?: number }>;
    expect(list.map((a) => [a.account, a.rateLimitMbps])).toEqual([['alice', 2.5], ['bob', 40]]);
    expect((await ferryServer(['client', 'list', '--dir', dir])).stdout).toMatch(/^alice\tactive\texpires \S+\tlimit 2.5 Mbit\/s$/m);
    expect((await ferryServer(['client', 'set', 'alice', '--rate-limit', 'OFF', '--dir', dir])).stdout).toMatch(/^alice: no rate limit;/);
    list = JSON.parse((await ferryServer(['client', 'list', '--json', '--dir', dir])).stdout);
    expect(list.find((a) => a.account === 'alice')?.rateLimitMbps).toBeUndefined();

    const bw = await ferryServer(['set', '--bandwidth', '100', '--dir', dir]);
    expect(bw.code, bw.stderr).toBe(0);
    expect(bw.stdout.trim()).toBe('updated bandwidthMbps; takes effect when "ferry-server run" starts');
    const status = await ferryServer(['status', '--dir', dir, '--json']);
    expect(JSON.parse(status.stdout).server.bandwidthMbps).toBe(100);
    expect((await ferryServer(['status', '--dir', dir])).stdout).toMatch(/^limits  bandwidth 100 Mbit\/s each way$/m);
    expect((await ferryServer(['set', '--bandwidth', 'off', '--dir', dir])).stdout.trim()).toBe('updated bandwidthMbps; takes effect when "ferry-server run" starts');
    expect((await ferryServer(['status', '--dir', dir])).stdout).toMatch(/^limits  bandwidth unlimited$/m);
    expect((await ferryServer(['set', '--bandwidth', 'off', '--dir', dir])).stdout.trim()).toBe('nothing changed');
  });
});
