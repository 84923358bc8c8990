/**
 * The `ferry` client against `ferry-server run` in the lab: real openvpn on both ends,
 * the real keychain (the suite runs inside scripts/with-keyring.sh), the CLI as a user
 * runs it, in the client namespace, never with a terminal.
 *
 * Every test runs twice, once per way Ferry talks to openvpn's management interface: a
 * unix socket (Linux and macOS: openvpn started directly or by ferry-helper), and TCP on
 * 127.0.0.1 with a password (Windows: openvpn started by OpenVPN's interactive service;
 * here its simulator, test/support/interactive-service-sim.ts, starts a real openvpn in
 * the client namespace and hands it the password on its stdin).
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { FerryClient } from '../../core/client.js';
import { KeychainSecretStore, MemorySecretStore } from '../../core/secrets/secret-store.js';
import type { SessionRegistry, Tunnel } from '../../core/session/registry.js';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, FERRY, ferryServer, initServer, tempDir, unpackBundle } from '../support/cli.js';
import { clientHome, clientLeftovers, ferry, filesText, keychainSkipReason, processArgvAndEnv, startConnect, STATE, statesOf, type ClientHome } from '../support/ferry.js';
import { InteractiveServiceSimulator } from '../support/interactive-service-sim.js';
import { readyGateway, Watched } from '../support/processes.js';

const skip = labSkipReason() ?? (await keychainSkipReason());

/** Resolves with the registry's entry once `check` holds for it, at once or at a later change (no clock: the test's timeout bounds it). */
function registryReaches(registry: SessionRegistry, id: string, check: (t: Tunnel | undefined) => boolean): Promise<Tunnel | undefined> {
  if (check(registry.get(id))) return Promise.resolve(registry.get(id));
  return new Promise((resolve) => {
    const onChange = (c: { id: string; after: Tunnel | undefined }) => {
      if (c.id !== id || !check(c.after)) return;
      registry.off('change', onChange);
      resolve(c.after);
    };
    registry.on('change', onChange);
  });
}

type Management = 'unix socket' | 'TCP with a password';

for (const management of ['unix socket', 'TCP with a password'] as const satisfies readonly Management[]) describe.skipIf(skip)(`ferry client against ferry-server (management over a ${management})`, () => {
  let lab: Lab;
  /** Only for TCP: the simulated interactive service that starts openvpn. */
  let service: InteractiveServiceSimulator | undefined;
  let serverDir: string;
  let gateway: Watched;
  let passwords: Map<string, string>;
  const files: Record<string, string> = {};
  const running: Watched[] = [];

  function connect(client: ClientHome, name: string, opts: { stdin?: string; args?: string[] } = {}): Watched {
    const w = startConnect(lab, client, name, opts);
    running.push(w);
    return w;
  }

  async function importThreeFiles(account: string): Promise<ClientHome> {
    const home = await clientHome();
    const client = service ? { ...home, env: { ...home.env, FERRY_OPENVPN_SERVICE_PIPE: service.options.socketPath } } : home;
    const dir = files[account]!;
    // Any order: key first, CA last.
    const result = await ferry(client, ['import', path.join(dir, 'client.key'), path.join(dir, 'client.crt'), path.join(dir, 'ca.crt'), '--gateway', `${lab.addr.gatewayUnderlay}:1194`, '--proto', 'tcp']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return client;
  }

  const tunDevices = async () => (await clientLeftovers(lab)).tunDevices;
  const openvpnPidsInClientNs = async () => (await clientLeftovers(lab)).openvpnPids;

  beforeAll(async () => {
    lab = await createLab();
    serverDir = await initServer();
    passwords = await addAccounts(serverDir, ['alice', 'bob', 'carol']);
    for (const account of ['alice', 'bob', 'carol']) files[account] = await unpackBundle(serverDir, account);
    gateway = await readyGateway(lab, serverDir);
    if (management === 'TCP with a password') {
      const dir = await tempDir('ferry-iservice-lab-');
      service = await InteractiveServiceSimulator.start({
        socketPath: path.join(dir, 'service.sock'),
        configDir: path.join(dir, 'config') + path.sep,
        authorized: true, // in "OpenVPN Administrators": Ferry's configs live in the user's profile
        spawnPrefix: ['ip', 'netns', 'exec', lab.ns.client],
      });
    }
  });

  /** The session spoke to openvpn the way this variant says: a management socket file, or TCP with the service's password. */
  async function expectManagement(): Promise<void> {
    if (!service) return;
    const started = service.started.at(-1)!;
    const config = await readFile(path.join(started.data.directory, 'openvpn.conf'), 'utf8');
    expect(config).toMatch(/^management 127\.0\.0\.1 \d+ "\/dev\/stdin"$/m);
    expect(config).not.toContain(started.data.stdin.trim());
  }

  afterEach(async () => {
    for (const w of running.splice(0)) await w.stop('SIGINT');
  });

  afterAll(async () => {
    await service?.close();
    await gateway?.stop();
    await lab?.teardown();
  });

  it('imports the three files, connects with the password, reaches the VPC, counts bytes, and disconnects cleanly on SIGINT', async () => {
    const client = await importThreeFiles('alice');
    const shown = JSON.parse((await ferry(client, ['show', 'alice', '--json'])).stdout) as { profile: { username: string; passwordRequired: boolean }; certificates: Array<{ role: string; sha1: string; subject: string }> };
    expect(shown.profile).toMatchObject({ username: 'alice', passwordRequired: true });
    expect(shown.certificates.map((c) => c.role)).toEqual(['ca', 'client']);
    expect(shown.certificates[1]!.sha1).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);

    const session = connect(client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    await session.waitFor(STATE('CONNECTED'));
    expect(statesOf(session).slice(0, 3)).toEqual(['CONNECTING', 'AUTH', 'CONNECTED']);
    const connected = JSON.parse(session.lines.find((l) => STATE('CONNECTED').test(l))!) as { virtualIp: string; server: string };
    expect(connected.virtualIp).toMatch(/^198\.18\.100\./);
    expect(connected.server).toBe(`${lab.addr.gatewayUnderlay}:1194`);
    await expectManagement();

    const before = JSON.parse((await ferry(client, ['status', '--json'])).stdout) as Array<{ state: string; stats: { bytesIn: number; bytesOut: number } }>;
    expect(before).toHaveLength(1);
    expect(before[0]!.state).toBe('CONNECTED');
    expect(await lab.ping('client', lab.addr.vpcHost, 5)).toBe(true);
    // BYTECOUNT arrives once a second: wait for the counters to move past the pings.
    let after = before;
    const moved = () => after[0]!.stats.bytesOut > before[0]!.stats.bytesOut + 5 * 84 && after[0]!.stats.bytesIn > before[0]!.stats.bytesIn + 5 * 84;
    for (let i = 0; i < 50 && !moved(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = JSON.parse((await ferry(client, ['status', '--json'])).stdout) as typeof before;
    }
    expect(after[0]!.stats.bytesOut).toBeGreaterThan(before[0]!.stats.bytesOut + 5 * 84);
    expect(after[0]!.stats.bytesIn).toBeGreaterThan(before[0]!.stats.bytesIn + 5 * 84);
    expect(await tunDevices()).toHaveLength(1);

    expect(await session.stop('SIGINT')).toBe(0);
    expect(statesOf(session).at(-1)).toBe('DISCONNECTED');
    expect(await openvpnPidsInClientNs()).toEqual([]);
    expect(await tunDevices()).toEqual([]);
    expect(JSON.parse((await ferry(client, ['status', '--json'])).stdout)).toEqual([]);
  });

  it('a separate `ferry connect` is seen live through the registry (state, then bytes as they move) and disconnected from the other side', async () => {
    const client = await importThreeFiles('alice');
    // The test process plays the desktop app: its own FerryClient on the same home and runtime dir.
    const app = new FerryClient({ env: client.env, secrets: new MemorySecretStore() });
    const { id } = await app.store.get('alice');
    await app.registry.follow();
    try {
      const session = connect(client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
      const up = await registryReaches(app.registry, id, (t) => t?.snapshot?.state === 'CONNECTED');
      expect(up).toMatchObject({ owner: 'other-process', pid: session.child.pid, snapshot: { stats: { virtualIp: expect.stringMatching(/^198\.18\.100\./) } } });
      await session.waitFor(STATE('CONNECTED'));
      // Traffic: the counters arrive over the watch stream, nobody asks for them.
      expect(await lab.ping('client', lab.addr.vpcHost, 5)).toBe(true);
      await registryReaches(app.registry, id, (t) => (t?.snapshot?.stats.bytesOut ?? 0) > up!.snapshot!.stats.bytesOut + 5 * 84 && (t?.snapshot?.stats.bytesIn ?? 0) > up!.snapshot!.stats.bytesIn + 5 * 84);
      // Removing the profile is refused while the other process's tunnel runs.
      await expect(app.removeProfile('alice')).rejects.toThrow(/^"alice" is connected in another Ferry process \(pid \d+\); disconnect it first$/);

      const gone = registryReaches(app.registry, id, (t) => t === undefined);
      await app.disconnect('alice');
      expect(await session.exited).toBe(0);
      expect(statesOf(session).at(-1)).toBe('DISCONNECTED');
      await gone;
      expect(await openvpnPidsInClientNs()).toEqual([]);
      expect(await tunDevices()).toEqual([]);
    } finally {
      app.registry.close();
    }
  });

  it('`ferry status --watch` follows a tunnel of another process as it changes; `ferry disconnect` from a third process ends it', async () => {
    const client = await importThreeFiles('alice');
    const watcher = new Watched(spawn(process.execPath, [FERRY, 'status', '--watch', '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: client.env }), 'ferry status --watch');
    running.push(watcher);
    const session = connect(client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    await watcher.waitFor(/"state":"CONNECTED"/);
    expect(await lab.ping('client', lab.addr.vpcHost, 3)).toBe(true);
    // Byte counts keep coming as lines (one per BYTECOUNT), all while CONNECTED.
    await watcher.waitForCount(/"state":"CONNECTED".*"bytesIn":[1-9]/, 2);

    const result = await ferry(client, ['disconnect', 'alice']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^disconnected "alice"/);
    expect(await session.exited).toBe(0);
    await watcher.waitFor(/"gone":true/);
    expect((await ferry(client, ['disconnect', 'alice'])).stdout).toMatch(/"alice" was not connected/);
    expect(await watcher.stop('SIGINT')).toBe(0);
  });

  it('a wrong password ends in FAILED with the reason, after exactly one attempt', async () => {
    const client = await importThreeFiles('bob');
    const refusalsBefore = gateway.lines.filter((l) => /^ferry-server: refused .*bob/.test(l)).length;
    const session = connect(client, 'bob', { stdin: 'not-the-password\n', args: ['--password-stdin'] });
    expect(await session.exited).toBe(1);
    const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
    expect(failed.code).toBe('auth');
    expect(failed.reason).toMatch(/rejected the username or password/);
    expect(session.lines.join('\n')).toMatch(/ferry: the gateway rejected the username or password/);
    expect(statesOf(session).filter((s) => s === 'AUTH')).toHaveLength(1);
    expect(gateway.lines.filter((l) => /^ferry-server: refused .*bob/.test(l)).length).toBe(refusalsBefore + 1);
    expect(await openvpnPidsInClientNs()).toEqual([]);
  });

  it('on a terminal, asks for the password with input hidden', async () => {
    const client = await importThreeFiles('alice');
    // `script` gives ferry a pseudo-terminal, as a person at a shell has. `exec`, so that
    // no shell sits between: a dash waiting for ferry would itself die of the Ctrl-C.
    const command = `exec ${[process.execPath, FERRY, 'connect', 'alice'].map((a) => `'${a}'`).join(' ')}`;
    const child = lab.spawn('client', ['script', '-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...client.env, SHELL: '/bin/sh' } });
    const session = new Watched(child, 'ferry connect (terminal)');
    running.push(session);
    await session.waitFor(/Password for alice: /);
    child.stdin!.write(`${passwords.get('alice')}\r`);
    await session.waitFor(/^CONNECTED {2}address 198\.18\.100\.\d+, gateway 198\.18\.1\.1:1194/m);
    expect(session.lines.join('\n')).not.toContain(passwords.get('alice')!); // not echoed
    child.stdin!.write('\u0003'); // Ctrl-C on the terminal
    expect(await session.exited).toBe(0);
    expect(session.lines.join('\n')).toMatch(/DISCONNECTED/);
  });

  it('without a terminal, a saved password or --password-stdin, connect fails at once and says what to do', async () => {
    const client = await importThreeFiles('bob');
    const result = await ferry(client, ['connect', 'bob']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs a password and there is no terminal to ask on: pipe it with --password-stdin/);
  });

  it('--save-password saves only after the server accepted it; the next connect asks nothing; no secret lands anywhere', async () => {
    const client = await importThreeFiles('carol');
    const password = passwords.get('carol')!;
    // A rejected password is not saved.
    const wrong = connect(client, 'carol', { stdin: 'wrong-password\n', args: ['--password-stdin', '--save-password'] });
    expect(await wrong.exited).toBe(1);
    expect((await ferry(client, ['connect', 'carol'])).stderr).toMatch(/needs a password/);

    const first = connect(client, 'carol', { stdin: `${password}\n`, args: ['--password-stdin', '--save-password'] });
    await first.waitFor(STATE('CONNECTED'));
    await first.waitFor(/password saved in the OS keychain/);
    expect(await first.stop('SIGINT')).toBe(0);

    const second = connect(client, 'carol');
    await second.waitFor(STATE('CONNECTED'));
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);

    // While connected: the password is in no file, no log line, no argv, no environment.
    expect(await filesText(client.home)).not.toContain(password);
    expect(await filesText(client.runtime)).not.toContain(password);
    expect([...first.lines, ...second.lines, ...wrong.lines].join('\n')).not.toContain(password);
    expect(await processArgvAndEnv()).not.toContain(password);
    expect(await second.stop('SIGINT')).toBe(0);

    // Removing the profile removes its saved password too.
    const [profileId] = await readdir(path.join(client.home, 'profiles'));
    const keychain = new KeychainSecretStore();
    expect(await keychain.get(profileId!, 'password')).toBe(password);
    expect((await ferry(client, ['remove', 'carol'])).code).toBe(0);
    expect(await filesText(client.home)).not.toContain('carol');
    expect(await keychain.get(profileId!, 'password')).toBeUndefined();
  });

  it('with no keychain reachable, --save-password says so plainly and the connection still works', async () => {
    const client = await importThreeFiles('alice');
    client.env.DBUS_SESSION_BUS_ADDRESS = 'unix:path=/nonexistent/bus';
    const session = connect(client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin', '--save-password'] });
    await session.waitFor(STATE('CONNECTED'));
    await session.waitFor(/no OS keychain is reachable .*; Ferry will ask for secrets each time instead of saving them/);
    expect(await session.stop('SIGINT')).toBe(0);
    expect(await filesText(client.home)).not.toContain(passwords.get('alice')!);
  });

  it('comes back to CONNECTED without asking when the gateway restarts', async () => {
    const client = await importThreeFiles('alice');
    const session = connect(client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    await session.waitFor(STATE('CONNECTED'));
    await gateway.stop();
    gateway = await readyGateway(lab, serverDir);
    await session.waitForCount(STATE('CONNECTED'), 2);
    expect(statesOf(session)).toContain('RECONNECTING');
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
  });

  it('notices openvpn killed with SIGKILL and restarts it', async () => {
    const client = await importThreeFiles('alice');
    const session = connect(client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    await session.waitFor(STATE('CONNECTED'));
    // pgrep would see every namespace's openvpn (the gateway's too): ask the client namespace.
    const [pid] = await openvpnPidsInClientNs();
    process.kill(pid!, 'SIGKILL');
    // Through the service openvpn's end is an exit code (the pipe closing), not a signal.
    await session.waitFor(service ? /openvpn stopped unexpectedly \(exit code 1\); restarting it/ : /openvpn stopped unexpectedly \(killed by SIGKILL\); restarting it/);
    await session.waitForCount(STATE('CONNECTED'), 2);
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    expect(await session.stop('SIGINT')).toBe(0);
    expect(await openvpnPidsInClientNs()).toEqual([]);
  });

  it('refuses to connect when the VPN address pool overlaps a local network, and says so', async () => {
    const client = await importThreeFiles('bob');
    // A second LAN on the client using the pool's range (a veth: this kernel has no dummy driver).
    const added = await lab.exec('client', ['ip', 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0-peer']);
    expect(added.code).toBe(0);
    await lab.exec('client', ['ip', 'addr', 'add', '198.18.100.200/24', 'dev', 'lan0']);
    await lab.exec('client', ['ip', 'link', 'set', 'lan0', 'up']);
    await lab.exec('client', ['ip', 'link', 'set', 'lan0-peer', 'up']);
    try {
      const session = connect(client, 'bob', { stdin: `${passwords.get('bob')}\n`, args: ['--password-stdin'] });
      expect(await session.exited).toBe(1);
      const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
      expect(failed.code).toBe('pool-overlap');
      expect(failed.reason).toMatch(/inside your local network 198\.18\.100\.0\/24 \(lan0\)/);
    } finally {
      await lab.exec('client', ['ip', 'link', 'del', 'lan0']);
    }
  });

  it('a revoked account is told the gateway does not accept its certificate, after a few tries', async () => {
    const client = await importThreeFiles('bob');
    expect((await ferryServer(['client', 'revoke', 'bob', '--dir', serverDir])).code).toBe(0);
    const session = connect(client, 'bob', { stdin: `${passwords.get('bob')}\n`, args: ['--password-stdin'] });
    expect(await session.exited).toBe(1);
    const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
    // Under TLS 1.3 the gateway just closes the connection: no alert says "revoked".
    expect(failed.code).toBe('tls');
    expect(failed.reason).toMatch(/does not accept your certificate \(revoked, expired, or issued by another CA\)/);
  });
});
