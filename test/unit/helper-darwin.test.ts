/**
 * The helper's macOS parts, with the platform injected (none of this runs on a Mac here):
 * the peer-credential record (struct xucred), and the scutil DNS backend's commands and
 * its apply/restore/recover sequence against a recorded scutil.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseBackup,
  parsePushedDns,
  parseLeftovers,
  parsePrimaryService,
  ScutilDns,
  scutilFullApply,
  scutilFullRestore,
  scutilSplitApply,
  type ScutilRunner,
} from '../../native/helper/dns.js';
import { parseXucred, readerFor, XUCRED } from '../../native/helper/peer-credentials.js';
import { binaryRefusal, darwinDeviceRefusal, notRootOnly } from '../../native/helper/darwin.js';
import { groupCommands, groupQuery } from '../../native/helper/policy.js';
import { findOpenvpn, openvpnCandidates, resourcesDirOf } from '../../core/engine/openvpn-binary.js';

function xucred(fields: { version?: number; uid: number; groups: number[]; ngroups?: number }): Buffer {
  const b = Buffer.alloc(XUCRED.SIZE);
  b.writeUInt32LE(fields.version ?? 0, 0);
  b.writeUInt32LE(fields.uid, 4);
  b.writeInt16LE(fields.ngroups ?? fields.groups.length, 8);
  fields.groups.forEach((g, i) => b.writeUInt32LE(g, 12 + 4 * i));
  return b;
}

describe('macOS peer credentials (LOCAL_PEERCRED)', () => {
  it('the record is 76 bytes: version, uid, group count, 16 groups', () => {
    expect(XUCRED.SIZE).toBe(76);
    expect([XUCRED.SOL_LOCAL, XUCRED.LOCAL_PEERCRED]).toEqual([0, 1]);
  });

  it('reads uid, the effective gid (first group) and the groups', () => {
    expect(parseXucred(xucred({ uid: 501, groups: [20, 12, 61, 701] }), 76)).toEqual({ uid: 501, gid: 20, groups: [20, 12, 61, 701] });
    expect(parseXucred(xucred({ uid: 0, groups: [0] }), 76)).toEqual({ uid: 0, gid: 0, groups: [0] });
  });

  it('refuses a short record, another version, or an impossible group count', () => {
    expect(() => parseXucred(xucred({ uid: 501, groups: [20] }), 40)).toThrow(/40 bytes/);
    expect(() => parseXucred(xucred({ version: 1, uid: 501, groups: [20] }), 76)).toThrow(/version 1/);
    expect(() => parseXucred(xucred({ uid: 501, groups: [], ngroups: 0 }), 76)).toThrow(/0 groups/);
    expect(() => parseXucred(xucred({ uid: 501, groups: [20], ngroups: 17 }), 76)).toThrow(/17 groups/);
    expect(() => parseXucred(xucred({ uid: 501, groups: [20], ngroups: -1 }), 76)).toThrow(/-1 groups/);
  });

  it('garbage of any size is refused with an Error, never read past its end (deterministic fuzz)', () => {
    let seed = 1; // mulberry32: repeatable, and its low bits are as random as its high ones
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (t ^ (t >>> 14)) >>> 0;
    };
    let accepted = 0;
    for (let n = 0; n < 5000; n++) {
      const size = next() % 100;
      const b = Buffer.alloc(size);
      for (let i = 0; i < size; i++) b[i] = next() & 0xff;
      if (size >= 12 && next() % 2) b.writeUInt32LE(0, 0); // often version 0, so the later checks run
      if (size >= 12 && next() % 2) b.writeInt16LE(next() % 40 - 20, 8);
      const length = [size, 76, next() % 200, -1, 76.5][next() % 5]!;
      try {
        const c = parseXucred(b, length);
        accepted++;
        expect(b.length).toBeGreaterThanOrEqual(76);
        expect(c.groups.length).toBeGreaterThanOrEqual(1);
        expect(c.groups.length).toBeLessThanOrEqual(16);
        expect(c.gid).toBe(c.groups[0]);
      } catch (err) {
        expect(err).toBeInstanceOf(Error);
        expect(err).not.toBeInstanceOf(RangeError);
      }
    }
    expect(accepted).toBeGreaterThan(0);
    // The length the kernel reports is what counts: a full buffer with a short report is refused.
    expect(() => parseXucred(xucred({ uid: 501, groups: [20] }), 75)).toThrow(/75 bytes/);
    expect(() => parseXucred(Buffer.alloc(40), 76)).toThrow(/76 bytes|not 76/);
    expect(parseXucred(xucred({ uid: 501, groups: Array.from({ length: 16 }, (_, i) => 100 + i) }), 76).groups).toHaveLength(16);
    expect(parseXucred(xucred({ uid: 4294967294, groups: [4294967294] }), 76)).toEqual({ uid: 4294967294, gid: 4294967294, groups: [4294967294] });
  });

  it('Windows has no reader (it uses OpenVPN\'s interactive service)', () => {
    expect(() => readerFor('win32')).toThrow(/not supported on win32/);
  });
});

const IPV4 = `<dictionary> {
  Router : 192.168.1.1
  PrimaryInterface : en0
  PrimaryService : 8F6E6A29-43D1-4D5B-9F6B-3A1E2B0C9D11
}
`;

describe('scutil commands', () => {
  it('finds the primary service, and nothing in a store without one', () => {
    expect(parsePrimaryService(IPV4)).toBe('8F6E6A29-43D1-4D5B-9F6B-3A1E2B0C9D11');
    expect(parsePrimaryService('  No such key\n')).toBeUndefined();
    expect(parsePrimaryService('  PrimaryService : x;remove\n')).toBeUndefined();
  });

  it('split DNS: an entry of its own with supplemental match domains', () => {
    expect(scutilSplitApply('a1b2', { servers: ['198.18.2.53', '2001:db8::53'], domains: ['vpc.internal'] })).toBe(
      'open\nd.init\nd.add ServerAddresses * 198.18.2.53 2001:db8::53\nd.add SupplementalMatchDomains * vpc.internal\nd.add SupplementalMatchDomainsNoSearch # 1\nset State:/Network/Service/ferry-a1b2/DNS\nquit\n',
    );
  });

  it('full DNS: backs up the primary service\'s State: and Setup: entries (no-such-key markers), then sets both', () => {
    const text = scutilFullApply('a1b2', 'SVC-1', { servers: ['198.18.2.53'], domains: [] });
    expect(text.split('\n')).toEqual([
      'open',
      'd.init',
      'd.add FerryNoSuchKey true',
      'get State:/Network/Service/SVC-1/DNS',
      'd.add FerryService SVC-1',
      'set State:/Network/Ferry/a1b2/OldDNS',
      'd.init',
      'd.add FerryNoSuchKey true',
      'get Setup:/Network/Service/SVC-1/DNS',
      'd.add FerryService SVC-1',
      'set State:/Network/Ferry/a1b2/OldSetupDNS',
      'd.init',
      'd.add ServerAddresses * 198.18.2.53',
      'set State:/Network/Service/SVC-1/DNS',
      'set Setup:/Network/Service/SVC-1/DNS',
      'quit',
      '',
    ]);
    // Search domains, when given, go into both entries too.
    expect(scutilFullApply('a1b2', 'SVC-1', { servers: ['198.18.2.53'], domains: ['corp.example', 'vpc.internal'] })).toContain(
      'd.add ServerAddresses * 198.18.2.53\nd.add SearchDomains * corp.example vpc.internal\nset State:/Network/Service/SVC-1/DNS\nset Setup:/Network/Service/SVC-1/DNS\n',
    );
  });

  it('restore puts the old entry back, or removes the key when there was none', () => {
    expect(parseBackup('<dictionary> {\n  FerryNoSuchKey : TRUE\n  FerryService : SVC-1\n}\n')).toEqual({ service: 'SVC-1', hadDns: false });
    expect(parseBackup('<dictionary> {\n  FerryService : SVC-1\n  ServerAddresses : <array> {\n    0 : 192.168.1.1\n  }\n}\n')).toEqual({ service: 'SVC-1', hadDns: true });
    expect(parseBackup('  No such key\n')).toBeUndefined();
    expect(scutilFullRestore('a1b2', { service: 'SVC-1', hadDns: true })).toBe(
      'open\nget State:/Network/Ferry/a1b2/OldDNS\nd.remove FerryService\nset State:/Network/Service/SVC-1/DNS\nremove State:/Network/Ferry/a1b2/OldDNS\nquit\n',
    );
    expect(scutilFullRestore('a1b2', { service: 'SVC-1', hadDns: false })).toBe('open\nremove State:/Network/Service/SVC-1/DNS\nremove State:/Network/Ferry/a1b2/OldDNS\nquit\n');
  });

  it('restore does the same for the Setup: entry, from its own backup (removing a key that did not exist)', () => {
    expect(scutilFullRestore('a1b2', { service: 'SVC-1', hadDns: true }, { service: 'SVC-1', hadDns: true }).split('\n')).toEqual([
      'open',
      'get State:/Network/Ferry/a1b2/OldDNS',
      'd.remove FerryService',
      'set State:/Network/Service/SVC-1/DNS',
      'get State:/Network/Ferry/a1b2/OldSetupDNS',
      'd.remove FerryService',
      'set Setup:/Network/Service/SVC-1/DNS',
      'remove State:/Network/Ferry/a1b2/OldSetupDNS',
      'remove State:/Network/Ferry/a1b2/OldDNS',
      'quit',
      '',
    ]);
    expect(scutilFullRestore('a1b2', { service: 'SVC-1', hadDns: true }, { service: 'SVC-1', hadDns: false })).toContain(
      '\nremove Setup:/Network/Service/SVC-1/DNS\nremove State:/Network/Ferry/a1b2/OldSetupDNS\n',
    );
    // Only the Setup: backup left (its OldDNS gone first, whatever the reason): that alone comes back.
    expect(scutilFullRestore('a1b2', undefined, { service: 'SVC-1', hadDns: false })).toBe('open\nremove Setup:/Network/Service/SVC-1/DNS\nremove State:/Network/Ferry/a1b2/OldSetupDNS\nquit\n');
  });

  it('nothing from a server or a session id can add a scutil command', () => {
    expect(() => scutilSplitApply('a1b2', { servers: ['198.18.2.53\nremove State:/Network/Global/IPv4'], domains: ['x.example'] })).toThrow(/not addresses/);
    expect(() => scutilSplitApply('a1b2', { servers: ['198.18.2.53'], domains: ['x.example\nquit'] })).toThrow(/not domain names/);
    expect(() => scutilSplitApply('a/../b', { servers: ['198.18.2.53'], domains: ['x.example'] })).toThrow(/session id/);
    expect(() => scutilFullApply('a1b2', 'SVC 1', { servers: ['198.18.2.53'], domains: [] })).toThrow(/service id/);
    expect(() => scutilFullApply('a1b2', 'SVC-1', { servers: ['198.18.2.53'], domains: ['x.example\nremove Setup:/Network/Service/SVC-1/DNS'] })).toThrow(/not domain names/);
    expect(() => scutilFullApply('a/../b', 'SVC-1', { servers: ['198.18.2.53'], domains: [] })).toThrow(/session id/);
    expect(() => scutilFullRestore('a1b2', { service: 'SVC-1', hadDns: true }, { service: 'SVC-1\nquit', hadDns: true })).toThrow(/service id/);
  });

  it('finds the sessions a crashed helper left in the store', () => {
    expect(parseLeftovers('  subKey [0] = State:/Network/Service/ferry-a1b2/DNS\n  subKey [0] = State:/Network/Ferry/c3d4/OldDNS\n  subKey [1] = State:/Network/Ferry/a1b2/OldDNS\n')).toEqual(['a1b2', 'c3d4']);
    expect(parseLeftovers('  subKey [0] = State:/Network/Ferry/e5f6/OldSetupDNS\n')).toEqual(['e5f6']);
    expect(parseLeftovers('  No such key\n')).toEqual([]);
  });
});

/** A pretend configd store that runs the few scutil commands the backend uses. */
function fakeScutil(store: Map<string, Record<string, string>>): { run: ScutilRunner; log: string[] } {
  const log: string[] = [];
  const run: ScutilRunner = async (commands) => {
    log.push(commands);
    let dict: Record<string, string> = {};
    let out = '';
    for (const line of commands.split('\n')) {
      const [cmd, ...rest] = line.split(' ');
      const arg = rest.join(' ');
      if (cmd === 'd.init') dict = {};
      else if (cmd === 'd.add') dict[rest[0]!] = rest.slice(1).join(' ').replace(/^[*#] /, '');
      else if (cmd === 'd.remove') delete dict[arg];
      else if (cmd === 'get' && store.has(arg)) dict = { ...store.get(arg)! };
      else if (cmd === 'set') store.set(arg, { ...dict });
      else if (cmd === 'remove') store.delete(arg);
      else if (cmd === 'show') out += store.has(arg) ? `<dictionary> {\n${Object.entries(store.get(arg)!).map(([k, v]) => `  ${k} : ${v}`).join('\n')}\n}\n` : '  No such key\n';
      else if (cmd === 'list') {
        const re = new RegExp(`^${arg}$`);
        out += [...store.keys()].filter((k) => re.test(k)).map((k, i) => `  subKey [${i}] = ${k}\n`).join('');
      }
    }
    return out;
  };
  return { run, log };
}

describe('ScutilDns', () => {
  const PRIMARY = 'State:/Network/Service/SVC-1/DNS';
  const PRIMARY_SETUP = 'Setup:/Network/Service/SVC-1/DNS';
  /** A Mac whose primary service has DHCP DNS in State: (or none) and, when set by hand, DNS in Setup: (or none). */
  const setup = (withDns: boolean, withSetupDns = false) => {
    const store = new Map<string, Record<string, string>>([['State:/Network/Global/IPv4', { PrimaryService: 'SVC-1' }]]);
    if (withDns) store.set(PRIMARY, { ServerAddresses: '192.168.1.1' });
    // Keys of the saved configuration Ferry does not set itself must come back too.
    if (withSetupDns) store.set(PRIMARY_SETUP, { ServerAddresses: '192.168.1.2', SearchDomains: 'home.example', DomainName: 'home.example' });
    const before = new Map([...store].map(([k, v]) => [k, { ...v }]));
    const { run } = fakeScutil(store);
    let flushes = 0;
    return { store, before, dns: new ScutilDns(run, () => {}, async () => void flushes++), flushes: () => flushes };
  };
  const BOTH = [
    [true, true],
    [true, false],
    [false, true],
    [false, false],
  ] as const;

  it('full redirect: replaces the primary DNS in State: and Setup:, and restores both exactly, whether or not each existed', async () => {
    for (const [withDns, withSetupDns] of BOTH) {
      const { store, before, dns, flushes } = setup(withDns, withSetupDns);
      await dns.apply('s1', 'utun4', { servers: ['198.18.2.53'], domains: [] });
      expect(store.get(PRIMARY)).toEqual({ ServerAddresses: '198.18.2.53' });
      expect(store.get(PRIMARY_SETUP)).toEqual({ ServerAddresses: '198.18.2.53' });
      // up-restart applies again: the backups must still be the machine's own entries.
      await dns.apply('s1', 'utun4', { servers: ['198.18.2.54'], domains: [] });
      expect(store.get(PRIMARY_SETUP)).toEqual({ ServerAddresses: '198.18.2.54' });
      await dns.restore('s1', 'utun4');
      expect(store, `State: DNS ${withDns}, Setup: DNS ${withSetupDns}`).toEqual(before);
      expect(flushes()).toBe(3);
    }
  });

  it('a second full redirect is refused while the first holds DNS', async () => {
    const { dns } = setup(true);
    await dns.apply('s1', 'utun4', { servers: ['198.18.2.53'], domains: [] });
    await expect(dns.apply('s2', 'utun5', { servers: ['198.18.3.53'], domains: [] })).rejects.toThrow(/another tunnel \(session s1\)/);
  });

  it('split DNS: its own entry, removed on exit; the primary entries untouched', async () => {
    const { store, before, dns } = setup(true, true);
    await dns.apply('s1', 'utun4', { servers: ['198.18.2.53'], domains: ['vpc.internal'] });
    expect(store.get('State:/Network/Service/ferry-s1/DNS')).toMatchObject({ SupplementalMatchDomains: 'vpc.internal' });
    expect(store.get(PRIMARY)).toEqual({ ServerAddresses: '192.168.1.1' });
    expect(store.get(PRIMARY_SETUP)).toEqual(before.get(PRIMARY_SETUP));
    await dns.restore('s1', 'utun4');
    expect(store).toEqual(before);
  });

  it('after a crash, a new helper puts back what the old one left, in State: and Setup:', async () => {
    for (const [withDns, withSetupDns] of BOTH) {
      const { store, before, dns } = setup(withDns, withSetupDns);
      await dns.apply('s1', 'utun4', { servers: ['198.18.2.53'], domains: [] });
      await dns.apply('s2', 'utun5', { servers: ['198.18.3.53'], domains: ['vpc.internal'] });
      expect(store.get(PRIMARY_SETUP)).toEqual({ ServerAddresses: '198.18.2.53' });
      const { run } = fakeScutil(store);
      await new ScutilDns(run, () => {}, async () => {}).recover();
      expect(store, `State: DNS ${withDns}, Setup: DNS ${withSetupDns}`).toEqual(before);
    }
  });

  it('after a crash, the session records on disk restore it too (restore by id, then recover finds nothing left)', async () => {
    const { store, before, dns } = setup(true, false);
    await dns.apply('s1', 'utun4', { servers: ['198.18.2.53'], domains: [] });
    expect(store.get(PRIMARY_SETUP)).toEqual({ ServerAddresses: '198.18.2.53' });
    const { run } = fakeScutil(store);
    const fresh = new ScutilDns(run, () => {}, async () => {});
    await fresh.restore('s1', 'utun4'); // what recoverLeftovers does for a session.json naming dnsDev
    expect(store).toEqual(before);
    await fresh.recover();
    expect(store).toEqual(before);
  });

  it('a Setup: backup left on its own (its OldDNS gone first) is still found and put back', async () => {
    const { store, before, dns } = setup(true, false);
    await dns.apply('s1', 'utun4', { servers: ['198.18.2.53'], domains: [] });
    expect(store.get(PRIMARY_SETUP)).toEqual({ ServerAddresses: '198.18.2.53' });
    // As if the State: entry had been restored and its backup removed, then the helper died;
    // Ferry removes the Setup: backup first, but whatever the order, none may be stranded.
    store.set(PRIMARY, { ...before.get(PRIMARY)! });
    store.delete('State:/Network/Ferry/s1/OldDNS');
    const { run } = fakeScutil(store);
    await new ScutilDns(run, () => {}, async () => {}).recover();
    expect(store).toEqual(before);
  });
});

describe('devices and the openvpn binary on macOS', () => {
  it('tun profiles pass (openvpn opens utun); tap profiles are refused with a reason', () => {
    expect(darwinDeviceRefusal('tun')).toBeUndefined();
    expect(darwinDeviceRefusal('tap')).toMatch(/tap .* macOS does not have: .* utun/);
  });

  it('openvpn: $FERRY_OPENVPN, then the app\'s own copy, then Homebrew, then PATH', () => {
    expect(openvpnCandidates('darwin', '/Library/Application Support/Ferry')).toEqual([
      '/Library/Application Support/Ferry/openvpn/openvpn',
      '/opt/homebrew/sbin/openvpn',
      '/opt/homebrew/opt/openvpn/sbin/openvpn',
      '/usr/local/sbin/openvpn',
      '/usr/local/opt/openvpn/sbin/openvpn',
    ]);
    expect(openvpnCandidates('linux', '/opt/Ferry/resources')).toEqual([]);
    const have = (...files: string[]) => (f: string) => files.includes(f);
    const env = { PATH: '/nowhere' };
    const resourcesDir = '/Applications/Ferry.app/Contents/Resources';
    expect(findOpenvpn(env, { platform: 'darwin', resourcesDir, isExecutable: have(`${resourcesDir}/openvpn/openvpn`, '/opt/homebrew/sbin/openvpn') })).toBe(`${resourcesDir}/openvpn/openvpn`);
    expect(findOpenvpn(env, { platform: 'darwin', resourcesDir, isExecutable: have('/usr/local/opt/openvpn/sbin/openvpn') })).toBe('/usr/local/opt/openvpn/sbin/openvpn');
    expect(findOpenvpn({ ...env, FERRY_OPENVPN: '/x/openvpn' }, { platform: 'darwin', resourcesDir, isExecutable: have('/x/openvpn', `${resourcesDir}/openvpn/openvpn`) })).toBe('/x/openvpn');
    expect(() => findOpenvpn({ FERRY_OPENVPN: '/x/openvpn' }, { platform: 'darwin', resourcesDir, isExecutable: have(`${resourcesDir}/openvpn/openvpn`) })).toThrow();
  });

  it('the resources directory: Electron\'s, or two levels above the helper\'s bin directory', () => {
    expect(resourcesDirOf('/Applications/Ferry.app/Contents/Resources', '/x')).toBe('/Applications/Ferry.app/Contents/Resources');
    expect(resourcesDirOf(undefined, '/Library/Application Support/Ferry/helper/bin/ferry-helper.js')).toBe('/Library/Application Support/Ferry');
    expect(resourcesDirOf(undefined, '/usr/lib/node_modules/ferry/bin/ferry.js')).toBeUndefined();
  });

  it('the helper runs only a binary that root alone can change', () => {
    const tree: Record<string, { uid: number; mode: number }> = {
      '/': { uid: 0, mode: 0o40755 },
      '/Library': { uid: 0, mode: 0o40755 },
      '/Library/Application Support': { uid: 0, mode: 0o40755 },
      '/Library/Application Support/Ferry': { uid: 0, mode: 0o40755 },
      '/Library/Application Support/Ferry/openvpn': { uid: 0, mode: 0o40755 },
      '/Library/Application Support/Ferry/openvpn/openvpn': { uid: 0, mode: 0o100755 },
      '/opt': { uid: 0, mode: 0o40755 },
      '/opt/homebrew': { uid: 501, mode: 0o40755 },
      '/opt/homebrew/sbin': { uid: 501, mode: 0o40755 },
      '/opt/homebrew/sbin/openvpn': { uid: 501, mode: 0o100755 },
      '/Applications': { uid: 0, mode: 0o40775 },
    };
    const statOf = { lstat: (f: string) => tree[f], readlink: (f: string) => { throw new Error(`${f} is no link`); } };
    expect(notRootOnly('/Library/Application Support/Ferry/openvpn/openvpn', statOf)).toBeUndefined();
    expect(binaryRefusal('/opt/homebrew/sbin/openvpn', statOf)).toMatch(/will not run \/opt\/homebrew\/sbin\/openvpn: \/opt\/homebrew can be changed/);
    tree['/Applications/Ferry.app'] = { uid: 0, mode: 0o40755 };
    // /Applications is group-writable (admin): an app copy there is not root-only.
    expect(notRootOnly('/Applications/Ferry.app', statOf)).toBe('/Applications');
    // The first weak (or missing) component from the top is named: the one to fix.
    expect(notRootOnly('/missing/openvpn', statOf)).toBe('/missing');
  });
});

describe('the start group on macOS', () => {
  it('asks the directory service for the gid (no getent there)', () => {
    const q = groupQuery('darwin', 'ferry');
    expect([q.command, ...q.args]).toEqual(['/usr/bin/dscl', '.', '-read', '/Groups/ferry', 'PrimaryGroupID']);
    expect(q.gid('PrimaryGroupID: 701\n')).toBe(701);
    expect(q.gid('<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)\n')).toBeUndefined();
    const l = groupQuery('linux', 'ferry');
    expect([l.command, ...l.args]).toEqual(['getent', 'group', 'ferry']);
    expect(l.gid('ferry:x:998:alice\n')).toBe(998);
    expect(l.gid('')).toBeUndefined();
  });

  it('a group name that is not a plain name never reaches dscl or getent as an argument', () => {
    for (const name of ['-x', '/Users/alice', '../Users/alice', 'a b', 'ferry\nx', '', 'a'.repeat(33), '.hidden']) {
      expect(() => groupQuery('darwin', name)).toThrow(/not a group name/);
      expect(() => groupQuery('linux', name)).toThrow(/not a group name/);
    }
    expect(groupQuery('darwin', '_ferry-vpn.1').args).toContain('/Groups/_ferry-vpn.1');
  });

  it('tells the administrator the platform\'s own commands', () => {
    expect(groupCommands('darwin', 'ferry', 'alice')).toEqual({ create: 'sudo dseditgroup -o create ferry', join: 'sudo dseditgroup -o edit -a alice -t user ferry' });
    expect(groupCommands('linux', 'ferry', 'alice')).toEqual({ create: 'sudo groupadd --system ferry', join: 'sudo usermod -aG ferry alice' });
  });
});

describe('the helper\'s directory through a symlink (macOS: /var -> private/var)', () => {
  it('follows a root-owned symlink in a root-only directory, and checks where it leads', async () => {
    const { mkdtemp, mkdir, symlink, chown, rm } = await import('node:fs/promises');
    const { prepareBaseDir } = await import('../../native/helper/server.js');
    const root = await mkdtemp('/tmp/ferry-base-');
    try {
      await mkdir(`${root}/private/var/run`, { recursive: true, mode: 0o755 });
      await symlink('private/var', `${root}/var`);
      // A directory reached through the root-owned /var symlink, as every Mac has it.
      await expect(prepareBaseDir(`${root}/var/run/ferry`)).resolves.toBeUndefined();
      // A symlink that leads into a directory another user owns must not pass.
      await mkdir(`${root}/private/alice`, { mode: 0o755 });
      await chown(`${root}/private/alice`, 501, 20);
      await symlink('private/alice', `${root}/alice`);
      await expect(prepareBaseDir(`${root}/alice/ferry`)).rejects.toThrow(/private\/alice must be a root-owned directory/);
      // Nor may a symlink another user owns (they could point it elsewhere, in a sticky /tmp too).
      await mkdir(`${root}/private/safe`, { mode: 0o755 });
      await symlink('private/safe', `${root}/bobs`);
      const { lchown } = await import('node:fs/promises');
      await lchown(`${root}/bobs`, 502, 20);
      await expect(prepareBaseDir(`${root}/bobs/ferry`)).rejects.toThrow(/bobs is a symlink owned by uid 502/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('the openvpn binary through symlinks (Homebrew links opt/openvpn into its Cellar)', () => {
  const DIR = 0o40755;
  const FILE = 0o100755;
  const LINK = 0o120777;
  const tree = (): Record<string, { uid: number; mode: number; target?: string }> => ({
    '/': { uid: 0, mode: DIR },
    '/opt': { uid: 0, mode: DIR },
    // An administrator ran `sudo chown -R root:wheel` on the keg and on opt/, not on the Cellar above the keg.
    '/opt/homebrew': { uid: 0, mode: DIR },
    '/opt/homebrew/opt': { uid: 0, mode: DIR },
    '/opt/homebrew/opt/openvpn': { uid: 0, mode: LINK, target: '../Cellar/openvpn/2.6.12' },
    '/opt/homebrew/Cellar': { uid: 0, mode: DIR },
    '/opt/homebrew/Cellar/openvpn': { uid: 501, mode: DIR },
    '/opt/homebrew/Cellar/openvpn/2.6.12': { uid: 0, mode: DIR },
    '/opt/homebrew/Cellar/openvpn/2.6.12/sbin': { uid: 0, mode: DIR },
    '/opt/homebrew/Cellar/openvpn/2.6.12/sbin/openvpn': { uid: 0, mode: FILE },
    '/usr': { uid: 0, mode: DIR },
    '/usr/local': { uid: 0, mode: DIR },
    '/usr/local/ferry-openvpn': { uid: 0, mode: LINK, target: '/private/ferry/openvpn' },
    '/usr/local/alices-link': { uid: 501, mode: LINK, target: '/private/ferry/openvpn' },
    '/usr/local/hop': { uid: 0, mode: LINK, target: '/opt/homebrew/Cellar/openvpn/next' },
    '/opt/homebrew/Cellar/openvpn/next': { uid: 0, mode: LINK, target: '/private/ferry/openvpn' },
    '/private': { uid: 0, mode: DIR },
    '/private/ferry': { uid: 0, mode: DIR },
    '/private/ferry/openvpn': { uid: 0, mode: FILE },
    '/loop': { uid: 0, mode: LINK, target: '/loop' },
  });
  const fsOf = (t: ReturnType<typeof tree>) => ({ lstat: (f: string) => t[f], readlink: (f: string) => t[f]!.target! });

  it('checks the directories a symlink leads through, not only the path as written', () => {
    const t = tree();
    // Alice owns the Cellar's openvpn directory: she can rename 2.6.12 away and put her own in its place.
    expect(notRootOnly('/opt/homebrew/opt/openvpn/sbin/openvpn', fsOf(t))).toBe('/opt/homebrew/Cellar/openvpn');
    expect(binaryRefusal('/opt/homebrew/opt/openvpn/sbin/openvpn', fsOf(t))).toMatch(/\/opt\/homebrew\/Cellar\/openvpn can be changed by a user other than root/);
    // ... and so through every hop of a chain of links.
    expect(notRootOnly('/usr/local/hop', fsOf(t))).toBe('/opt/homebrew/Cellar/openvpn');
    t['/opt/homebrew/Cellar/openvpn']!.uid = 0;
    expect(notRootOnly('/opt/homebrew/opt/openvpn/sbin/openvpn', fsOf(t))).toBeUndefined();
  });

  it('a root-owned link to a root-only file passes; a link someone else owns, or a loop, does not', () => {
    const t = tree();
    expect(notRootOnly('/usr/local/ferry-openvpn', fsOf(t))).toBeUndefined();
    expect(notRootOnly('/usr/local/alices-link', fsOf(t))).toBe('/usr/local/alices-link');
    expect(notRootOnly('/loop', fsOf(t))).toBe('/loop');
  });
});

describe('an openvpn a crashed helper left, on macOS (no /proc there)', () => {
  const CONFIG = '/var/db/ferry/sessions/ab12/openvpn.conf';
  it('asks ps for the command line, and knows its own openvpn by the config path', async () => {
    const { isOurOpenvpn } = await import('../../native/helper/sessions.js');
    const calls: string[][] = [];
    const ps = (out: string | Error) => async (command: string, args: string[]) => {
      calls.push([command, ...args]);
      if (out instanceof Error) throw out;
      return out;
    };
    expect(await isOurOpenvpn(4242, CONFIG, 'darwin', ps(`/Library/Application Support/Ferry/openvpn/openvpn --config ${CONFIG}\n`))).toBe(true);
    expect(calls[0]).toEqual(['/bin/ps', '-ww', '-o', 'command=', '-p', '4242']);
    // The pid was reused, openvpn became a zombie, or it is gone (ps exits 1).
    expect(await isOurOpenvpn(4242, CONFIG, 'darwin', ps('/usr/bin/some-other --config /elsewhere.conf\n'))).toBe(false);
    expect(await isOurOpenvpn(4242, CONFIG, 'darwin', ps('(openvpn)\n'))).toBe(false);
    expect(await isOurOpenvpn(4242, CONFIG, 'darwin', ps(`/x/openvpn --config ${CONFIG}.old\n`))).toBe(false);
    expect(await isOurOpenvpn(4242, CONFIG, 'darwin', ps(new Error('ps failed: exit code 1')))).toBe(false);
  });
});

describe('hostile pushed DNS options never reach scutil as commands', () => {
  // What a gateway can push (dhcp-option DNS/DNS6/DOMAIN/DOMAIN-SEARCH; 2.6's `dns server`
  // and `dns search-domains` arrive as the same foreign_option_N, options.c foreign_options_copy_dns).
  const HOSTILE = [
    'dhcp-option DNS 198.18.2.53\nremove State:/Network/Global/IPv4',
    'dhcp-option DNS 198.18.2.53;remove',
    'dhcp-option DNS "198.18.2.53"',
    'dhcp-option DNS6 fe80::1%en0\nquit',
    'dhcp-option DOMAIN x.example\nd.add ServerAddresses * 203.0.113.1',
    'dhcp-option DOMAIN x.example set State:/Network/Global/DNS',
    'dhcp-option DOMAIN-SEARCH x.example;remove',
    'dhcp-option DOMAIN-SEARCH "x.example"',
    "dhcp-option DOMAIN-SEARCH 'x.example'",
    'dhcp-option DOMAIN-SEARCH -x.example',
    'dhcp-option DOMAIN-SEARCH State:/Network/Global/IPv4',
    `dhcp-option DOMAIN ${'a'.repeat(64)}.example`,
    `dhcp-option DOMAIN ${Array.from({ length: 64 }, () => 'abc').join('.')}`,
  ];
  it('drops every value that is not a plain address or domain name', () => {
    expect(parsePushedDns(HOSTILE)).toEqual({ servers: [], domains: [] });
  });

  it('what passes makes only the expected lines, one value per token', () => {
    const dns = parsePushedDns([...HOSTILE, 'dhcp-option DNS 198.18.2.53', 'dhcp-option DNS6 2001:db8::53', 'dhcp-option DOMAIN-SEARCH vpc.internal']);
    const lines = scutilSplitApply('a1b2', dns).split('\n');
    expect(lines).toEqual(['open', 'd.init', 'd.add ServerAddresses * 198.18.2.53 2001:db8::53', 'd.add SupplementalMatchDomains * vpc.internal', 'd.add SupplementalMatchDomainsNoSearch # 1', 'set State:/Network/Service/ferry-a1b2/DNS', 'quit', '']);
  });

  it('at most 8 servers and 8 domains, even when scutil commands are built directly', () => {
    const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    expect(parsePushedDns(many(20, (i) => `dhcp-option DNS 198.18.2.${i}`)).servers).toHaveLength(8);
    expect(parsePushedDns(many(20, (i) => `dhcp-option DOMAIN d${i}.example`)).domains).toHaveLength(8);
    expect(() => scutilSplitApply('a1b2', { servers: many(9, (i) => `198.18.2.${i}`), domains: ['x.example'] })).toThrow(/at most 8/);
    expect(() => scutilSplitApply('a1b2', { servers: ['198.18.2.53'], domains: many(9, (i) => `d${i}.example`) })).toThrow(/at most 8/);
    expect(() => scutilFullApply('a1b2', 'SVC-1', { servers: many(9, (i) => `198.18.2.${i}`), domains: [] })).toThrow(/at most 8/);
  });

  it('session and service ids in key names are plain tokens', () => {
    for (const id of ['a b', 'a\nremove State:/x', '../x', 'a/DNS', '', 'x'.repeat(65), 'a;b']) {
      expect(() => scutilSplitApply(id, { servers: ['198.18.2.53'], domains: ['x.example'] })).toThrow(/session id/);
      expect(() => scutilFullApply('a1b2', id, { servers: ['198.18.2.53'], domains: [] })).toThrow(/service id/);
    }
    expect(parseBackup('  FerryService : SVC-1\nremove\n')).toEqual({ service: 'SVC-1', hadDns: true });
    expect(parseBackup('  FerryService : SVC 1\n')).toBeUndefined();
  });
});

describe('the pkg postinstall script (runs as root)', () => {
  const SCRIPT = 'packaging/darwin/pkg-scripts/postinstall';
  const TOOLS = ['launchctl', 'rm', 'mkdir', 'cp', 'chown', 'chmod', 'mv', 'dscl', 'dseditgroup', 'stat', 'id', 'install', 'find'];

  it('is valid sh, stops at the first failure, and runs every tool by its absolute path', async () => {
    const { readFileSync } = await import('node:fs');
    const { execFileSync } = await import('node:child_process');
    execFileSync('/bin/sh', ['-n', SCRIPT]); // syntax only
    const text = readFileSync(SCRIPT, 'utf8');
    expect(text).toMatch(/^set -eu$/m);
    const code = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    for (const tool of TOOLS) expect(code, tool).not.toMatch(new RegExp(`(?<![/\\w.$-])${tool}\\s`));
    // And whatever runs inside them (launchctl, dseditgroup) looks only in the system's directories.
    expect(code).toMatch(/^PATH=\/usr\/bin:\/bin:\/usr\/sbin:\/sbin$/m);
    expect(code).toMatch(/^export PATH$/m);
  });

  it('copies no symlink into the root-only directory (one could lead back into /Applications)', async () => {
    const { readFileSync } = await import('node:fs');
    const code = readFileSync(SCRIPT, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    const copies = code.match(/\/bin\/cp .*/g) ?? [];
    expect(copies.length).toBeGreaterThan(0);
    for (const line of copies) expect(line).toMatch(/^\/bin\/cp -RL /);
    // And checks afterwards that none is there, whatever cp did.
    expect(code).toContain('/usr/bin/find "$DEST.new" -type l');
  });
});

describe('reading scutil output: only the top-level keys count', () => {
  it('a nested entry (4 spaces in, inside the saved DNS dictionary) is never taken for the backup\'s own keys', () => {
    // What `show` prints for a backup whose saved DNS had a nested dictionary with these names in it.
    const forged = '<dictionary> {\n  Extra : <dictionary> {\n    FerryService : OTHER-SVC\n    FerryNoSuchKey : TRUE\n  }\n  FerryService : SVC-1\n  ServerAddresses : <array> {\n    0 : 192.168.1.1\n  }\n}\n';
    expect(parseBackup(forged)).toEqual({ service: 'SVC-1', hadDns: true });
    expect(parsePrimaryService('<dictionary> {\n  Nested : <dictionary> {\n    PrimaryService : OTHER\n  }\n  PrimaryService : SVC-1\n}\n')).toBe('SVC-1');
    expect(parsePrimaryService('<dictionary> {\n  Nested : <dictionary> {\n    PrimaryService : OTHER\n  }\n}\n')).toBeUndefined();
  });
});

describe('the helper\'s socket directory on macOS', () => {
  it('is one prepareBaseDir accepts on a Mac\'s own layout (/var/run there is root:daemon 0775)', async () => {
    const { mkdtemp, mkdir, symlink, chmod, chown, rm } = await import('node:fs/promises');
    const { prepareBaseDir } = await import('../../native/helper/server.js');
    const { DARWIN_HELPER_SOCKET } = await import('../../core/engine/helper-protocol.js');
    const root = await mkdtemp('/tmp/ferry-mac-');
    try {
      // `ls -ld` on macOS (10.11 to 15.4): /private/var root:wheel 755, /var/run root:daemon 775,
      // /var/db root:wheel 755 (launchd's fix_bogus_file_metadata keeps it not group/other-writable).
      await mkdir(`${root}/private/var/run`, { recursive: true, mode: 0o755 });
      await mkdir(`${root}/private/var/db`, { mode: 0o755 });
      await chown(`${root}/private/var/run`, 0, 1);
      await chmod(`${root}/private/var/run`, 0o775);
      await symlink('private/var', `${root}/var`);
      await expect(prepareBaseDir(`${root}/var/run/ferry`)).rejects.toThrow(/var\/run must be a root-owned directory/);
      await expect(prepareBaseDir(root + path.posix.dirname(DARWIN_HELPER_SOCKET))).resolves.toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
