/** The helper's DNS: what it accepts from a server, and each way of applying and restoring it. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePushedDns, ResolvconfDns, ResolvConfFileDns, ResolvectlDns, type CommandRunner } from '../../native/helper/dns.js';
import { tempDir } from '../support/cli.js';

describe('parsePushedDns', () => {
  it('keeps addresses and domain names, in order, without duplicates', () => {
    expect(
      parsePushedDns(['dhcp-option DNS 198.18.2.53', 'dhcp-option DOMAIN vpc.internal', 'dhcp-option DNS6 2001:db8::53', 'dhcp-option DNS 198.18.2.53', 'dhcp-option DOMAIN-SEARCH corp.example', 'route-gateway 198.18.100.1']),
    ).toEqual({ servers: ['198.18.2.53', '2001:db8::53'], domains: ['vpc.internal', 'corp.example'] });
  });

  it('drops what a hostile server could use to inject into resolv.conf', () => {
    expect(
      parsePushedDns(['dhcp-option DNS 198.18.2.53\noptions ndots:15', 'dhcp-option DNS not-an-ip', 'dhcp-option DOMAIN evil.example\nnameserver 203.0.113.1', 'dhcp-option DOMAIN a b', 'dhcp-option DOMAIN -bad.example', `dhcp-option DOMAIN ${'a'.repeat(64)}.example`]),
    ).toEqual({ servers: [], domains: [] });
  });
});

describe('resolvectl and resolvconf backends', () => {
  function recorder(): { run: CommandRunner; calls: string[] } {
    const calls: string[] = [];
    return { calls, run: async (cmd, args, stdin) => void calls.push([cmd, ...args].join(' ') + (stdin ? ` <<${JSON.stringify(stdin)}` : '')) };
  }

  it('systemd-resolved: servers and routing domains per link; revert at the end', async () => {
    const { run, calls } = recorder();
    const dns = new ResolvectlDns(run);
    await dns.apply('s1', 'tun0', { servers: ['198.18.2.53'], domains: [] });
    await dns.apply('s2', 'tun1', { servers: ['198.18.2.53', '198.18.2.54'], domains: ['vpc.internal'] });
    await dns.restore('s1', 'tun0');
    expect(calls).toEqual(['resolvectl dns tun0 198.18.2.53', 'resolvectl domain tun0 ~.', 'resolvectl dns tun1 198.18.2.53 198.18.2.54', 'resolvectl domain tun1 vpc.internal', 'resolvectl revert tun0']);
  });

  it('resolvconf: one record per tunnel device, deleted at the end', async () => {
    const { run, calls } = recorder();
    const dns = new ResolvconfDns(run);
    await dns.apply('s1', 'tun0', { servers: ['198.18.2.53'], domains: ['vpc.internal'] });
    await dns.restore('s1', 'tun0');
    expect(calls).toEqual(['resolvconf -a tun0.ferry <<"nameserver 198.18.2.53\\nsearch vpc.internal\\n"', 'resolvconf -d tun0.ferry -f']);
  });
});

describe('resolv.conf rewrite', () => {
  const ORIGINAL = '# the machine\'s own\nnameserver 198.18.255.1\nnameserver 198.18.255.2\nsearch home.example\noptions edns0 trust-ad\n';

  async function setup() {
    const dir = await tempDir();
    const file = path.join(dir, 'resolv.conf');
    const state = path.join(dir, 'state');
    await mkdir(state);
    await writeFile(file, ORIGINAL);
    const logs: string[] = [];
    return { file, state, logs, dns: () => new ResolvConfFileDns(file, state, (m) => logs.push(m)) };
  }

  it('puts the tunnel first, keeps the originals after it, and restores the file byte for byte', async () => {
    const { file, dns } = await setup();
    const backend = dns();
    await backend.apply('s1', 'tun0', { servers: ['198.18.2.53'], domains: ['vpc.internal'] });
    const during = await readFile(file, 'utf8');
    expect(during.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['nameserver 198.18.2.53', 'nameserver 198.18.255.1', 'nameserver 198.18.255.2', 'search vpc.internal home.example', 'options edns0 trust-ad', '']);
    await backend.restore('s1', 'tun0');
    expect(await readFile(file, 'utf8')).toBe(ORIGINAL);
  });

  it('with two sessions, the newest comes first and the original returns only after the last', async () => {
    const { file, dns } = await setup();
    const backend = dns();
    await backend.apply('s1', 'tun0', { servers: ['198.18.2.53'], domains: [] });
    await backend.apply('s2', 'tun1', { servers: ['198.18.3.53'], domains: [] });
    expect((await readFile(file, 'utf8')).match(/nameserver \S+/g)!.slice(0, 2)).toEqual(['nameserver 198.18.3.53', 'nameserver 198.18.2.53']);
    await backend.restore('s2', 'tun1');
    expect((await readFile(file, 'utf8')).match(/nameserver \S+/g)![0]).toBe('nameserver 198.18.2.53');
    await backend.restore('s1', 'tun0');
    expect(await readFile(file, 'utf8')).toBe(ORIGINAL);
  });

  it('a file someone else rewrote meanwhile is left alone, and says so', async () => {
    const { file, dns, logs } = await setup();
    const backend = dns();
    await backend.apply('s1', 'tun0', { servers: ['198.18.2.53'], domains: [] });
    await writeFile(file, 'nameserver 198.18.9.9\n'); // e.g. the network manager, after a Wi-Fi change
    await backend.restore('s1', 'tun0');
    expect(await readFile(file, 'utf8')).toBe('nameserver 198.18.9.9\n');
    expect(logs.join('\n')).toMatch(/changed by someone else/);
  });

  it('after a crash, the next helper puts the original back', async () => {
    const { file, dns } = await setup();
    await dns().apply('s1', 'tun0', { servers: ['198.18.2.53'], domains: [] });
    expect(await readFile(file, 'utf8')).not.toBe(ORIGINAL);
    await dns().recover(); // a fresh helper knows nothing but what is on disk
    expect(await readFile(file, 'utf8')).toBe(ORIGINAL);
  });
});
