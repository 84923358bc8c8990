/**
 * ferry-helper in the lab: real unprivileged users (made with useradd) connect through
 * the root helper with the real `ferry` CLI, against `ferry-server run`, real openvpn on
 * both ends. The helper runs in the client namespace, where `ip netns exec` gives it a
 * private /etc/resolv.conf (/etc/netns/<ns>/resolv.conf), so DNS changes stay in the lab.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, initServer, ROOT, tempDir, unpackBundle } from '../support/cli.js';
import { clientLeftovers, STATE, statesOf } from '../support/ferry.js';
import { readyGateway, Watched } from '../support/processes.js';
import { until } from '../support/until.js';
import { holdConnections, inProcessRequest as inProcessRequestTo, openConversation, rawRequest as rawRequestAs } from '../support/helper-requests.js';
import { createTestGroup, createTestUser, giveFiles, installForUsers, removeTestGroup, removeTestUser, type TestGroup, type TestUser } from '../support/users.js';

const HELPER = path.join(ROOT, 'bin/ferry-helper.js');
const PUSHED_DNS = '198.18.2.53';
const LAB_RESOLV = 'nameserver 198.18.255.254\noptions edns0\n';

const skip = labSkipReason();

describe.skipIf(skip)('ferry-helper: ordinary users connect without root', () => {
  let lab: Lab;
  let gateway: Watched;
  let helper: Watched;
  let helperDir: string;
  let socket: string;
  let ferryBin: string;
  let ferryGroup: TestGroup;
  let alice: TestUser;
  let bob: TestUser;
  /** Not in the helper's group. */
  let carol: TestUser;
  let passwords: Map<string, string>;
  let serverDir: string;
  const bundles: Record<string, string> = {};
  const running: Watched[] = [];

  const resolvFile = () => `/etc/netns/${lab.ns.client}/resolv.conf`;

  function startHelper(): Watched {
    helper = new Watched(lab.spawn('client', [process.execPath, HELPER, '--socket', socket, '--group', ferryGroup.name]), 'ferry-helper');
    return helper;
  }

  /** Runs `ferry` as the user, in the client namespace; resolves with its output. */
  function ferryAs(user: TestUser, args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = lab.spawn('client', [...user.asUser, process.execPath, ferryBin, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: user.env });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin!.end(input);
    });
  }

  /** `ferry connect` as `user`; with no password, nothing is piped and there is no terminal either. */
  function connectAs(user: TestUser, profile: string, password?: string): Watched {
    const passwordArgs = password === undefined ? [] : ['--password-stdin'];
    const child = lab.spawn('client', [...user.asUser, process.execPath, ferryBin, 'connect', profile, '--json', ...passwordArgs], { stdio: ['pipe', 'pipe', 'pipe'], env: user.env });
    child.stdin!.end(password === undefined ? '' : `${password}\n`);
    const w = new Watched(child, `ferry connect (${user.name})`);
    running.push(w);
    return w;
  }

  const rawRequest = (payload: string | undefined, user?: TestUser) => rawRequestAs(socket, payload, user);
  const inProcessRequest = (payload: string) => inProcessRequestTo(socket, payload);

  async function helperState(): Promise<{ sessions: string[]; mgmt: string[] }> {
    return { sessions: await readdir(path.join(helperDir, 'sessions')), mgmt: await readdir(path.join(helperDir, 'mgmt')) };
  }

  async function importFor(user: TestUser, account: string): Promise<void> {
    const dir = bundles[account]!;
    const files = await giveFiles(user, ['client.key', 'ca.crt', 'client.crt'].map((f) => path.join(dir, f)));
    const result = await ferryAs(user, ['import', ...files, '--name', account, '--gateway', `${lab.addr.gatewayUnderlay}:1194`, '--proto', 'tcp']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  }

  beforeAll(async () => {
    lab = await createLab();
    serverDir = await initServer(['--dns', PUSHED_DNS]);
    passwords = await addAccounts(serverDir, ['alice', 'bob']);
    for (const account of ['alice', 'bob']) bundles[account] = await unpackBundle(serverDir, account);
    gateway = await readyGateway(lab, serverDir);

    const parent = await tempDir('ferry-helper-');
    await chmod(parent, 0o755); // as /run is: everyone may reach the socket
    helperDir = path.join(parent, 'run');
    socket = path.join(helperDir, 'helper.sock');
    await mkdir(path.dirname(resolvFile()), { recursive: true });
    await writeFile(resolvFile(), LAB_RESOLV);
    ferryBin = await installForUsers();
    ferryGroup = await createTestGroup();
    alice = await createTestUser(socket, ferryGroup);
    bob = await createTestUser(socket, ferryGroup);
    carol = await createTestUser(socket);
    await importFor(alice, 'alice');
    await importFor(bob, 'bob');
    await importFor(carol, 'alice');
    await startHelper().waitFor(/ferry-helper: serving/);
  });

  afterEach(async () => {
    for (const w of running.splice(0)) await w.stop('SIGINT');
  });

  afterAll(async () => {
    await helper?.stop('SIGTERM');
    await gateway?.stop();
    await lab?.teardown();
    await rm(path.dirname(resolvFile()), { recursive: true, force: true }).catch(() => {});
    await removeTestUser(alice);
    await removeTestUser(bob);
    await removeTestUser(carol);
    await removeTestGroup(ferryGroup);
  });

  it('an ordinary user connects, reaches the VPC with the pushed DNS applied, disconnects, and nothing is left', async () => {
    const session = connectAs(alice, 'alice', passwords.get('alice')!);
    await session.waitFor(STATE('CONNECTED'));
    expect(await lab.ping('client', lab.addr.vpcHost)).toBe(true);

    // openvpn is root's (started by the helper); its management socket is alice's alone,
    // in a directory that stays root's (alice can reach the socket, not add anything).
    const [info] = JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result as Array<{ id: string; pid: number; managementSocket: string }>;
    expect(info).toBeDefined();
    const owner = await stat(info!.managementSocket);
    expect([owner.uid, owner.mode & 0o777]).toEqual([alice.uid, 0o600]);
    const dir = await stat(path.dirname(info!.managementSocket));
    expect([dir.uid, dir.mode & 0o777]).toEqual([0, 0o711]);
    expect((await readFile(`/proc/${info!.pid}/status`, 'utf8')).match(/^Uid:\s+(\d+)/m)![1]).toBe('0');

    // Pushed DNS is in force during the session, ahead of the original servers.
    const during = await readFile(resolvFile(), 'utf8');
    expect(during.split('\n').filter((l) => l.startsWith('nameserver'))).toEqual([`nameserver ${PUSHED_DNS}`, 'nameserver 198.18.255.254']);
    expect(during).toContain('options edns0');

    // The helper never saw the password: not in its output, not on disk under it.
    expect(helper.lines.join('\n')).not.toContain(passwords.get('alice')!);

    expect(await session.stop('SIGINT')).toBe(0);
    expect(statesOf(session).at(-1)).toBe('DISCONNECTED');
    expect(await readFile(resolvFile(), 'utf8')).toBe(LAB_RESOLV);
    expect(await clientLeftovers(lab)).toEqual({ openvpnPids: [], tunDevices: [] });
    await until(async () => (await helperState()).sessions.length === 0, 'the helper to remove the session', 10_000);
    expect(await helperState()).toEqual({ sessions: [], mgmt: [] });
  });

  it('a user outside the helper\'s group is refused with how to get access, for any session, and nothing starts', async () => {
    const attempt = connectAs(carol, 'alice', passwords.get('alice')!);
    expect(await attempt.exited).toBe(1);
    const refusal = `only members of the group "${ferryGroup.name}" may start VPN sessions on this machine: ask an administrator to run \`sudo usermod -aG ${ferryGroup.name} ${carol.name}\`, then log out and in again`;
    expect(attempt.lines.join('\n')).toContain(refusal);
    expect(statesOf(attempt)).not.toContain('CONNECTED');

    // A raw start asking for the default route gets the same rule; status tells the caller in advance.
    const ca = await readFile(path.join(bundles.alice!, 'ca.crt'), 'utf8');
    const spec = { remotes: [{ host: lab.addr.gatewayUnderlay, port: 1194, proto: 'tcp' }], engine: { dev: 'tun', remoteCertTls: 'server', redirectGateway: ['def1'] }, passwordRequired: true, guiVersion: 'Ferry test' };
    const start = `${JSON.stringify({ op: 'start', label: 'default-route', spec, files: { ca } })}\n`;
    expect(JSON.parse((await rawRequest(start, carol))[0]!)).toEqual({ ok: false, error: refusal });
    expect(JSON.parse((await rawRequest('{"op":"status"}\n', carol))[0]!)).toMatchObject({ ok: true, result: { mayStart: false } });
    expect(JSON.parse((await rawRequest('{"op":"status"}\n', bob))[0]!)).toMatchObject({ ok: true, result: { mayStart: true } });
    expect((await helperState()).sessions).toEqual([]);

    // A member may: the same default-route request starts (openvpn waits in its hold), then stops.
    const started = await openConversation(socket, start, bob);
    expect(started.reply).toMatchObject({ ok: true, result: { label: 'default-route' } });
    const { id } = (started.reply as { result: { id: string } }).result;
    expect(await readFile(path.join(helperDir, 'sessions', id, 'openvpn.conf'), 'utf8')).toMatch(/^redirect-gateway def1$/m);
    expect(JSON.parse((await rawRequest(`{"op":"stop","id":"${id}"}\n`, bob))[0]!)).toEqual({ ok: true, result: null });
    await started.closed;
    await until(async () => (await helperState()).sessions.length === 0, 'the session to be removed', 10_000);
  });

  it("another user cannot list, watch, stop or reach the management socket of someone else's session", async () => {
    const session = connectAs(alice, 'alice', passwords.get('alice')!);
    await session.waitFor(STATE('CONNECTED'));
    const [info] = JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result as Array<{ id: string; pid: number; managementSocket: string }>;

    expect(JSON.parse((await rawRequest('{"op":"list"}\n', bob))[0]!)).toEqual({ ok: true, result: [] });
    for (const op of ['stop', 'watch']) {
      expect(JSON.parse((await rawRequest(`{"op":"${op}","id":"${info!.id}"}\n`, bob))[0]!)).toEqual({ ok: false, error: `no session ${info!.id}` });
    }
    // Straight at the socket: the kernel refuses bob before openvpn hears a byte.
    const reach = await new Promise<string>((resolve) =>
      execFile(bob.asUser[0]!, [...bob.asUser.slice(1), process.execPath, '-e', `require('net').createConnection(process.argv[1]).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`, info!.managementSocket], (_e, out) => resolve(out.trim())),
    );
    expect(reach).toBe('EACCES');
    // bob's own `ferry status` knows nothing of alice's tunnel; alice's still runs.
    expect(JSON.parse((await ferryAs(bob, ['status', '--json'])).stdout)).toEqual([]);
    expect(process.kill(info!.pid, 0)).toBe(true);
    expect(statesOf(session).at(-1)).toBe('CONNECTED');
  });

  it('answers unsafe, out-of-range, malformed, oversized, silent and flooding callers, and keeps serving', async () => {
    const ca = await readFile(path.join(bundles.alice!, 'ca.crt'), 'utf8');
    const spec = { remotes: [{ host: lab.addr.gatewayUnderlay, port: 1194, proto: 'tcp' }], engine: { dev: 'tun', remoteCertTls: 'server' }, passwordRequired: true, guiVersion: 'Ferry test' };
    const start = (over: Record<string, unknown>) => `${JSON.stringify({ op: 'start', label: 'x', spec, files: { ca }, ...over })}\n`;
    const refused = async (payload: string) => {
      const reply = JSON.parse((await rawRequest(payload, bob))[0]!) as { ok: boolean; error?: string };
      expect(reply.ok).toBe(false);
      return reply.error!;
    };
    // A directive smuggled into a field, a script as a "certificate", a path instead of
    // contents, a field the protocol does not have, a port out of range, a label with a path.
    expect(await refused(start({ spec: { ...spec, remotes: [{ host: '198.18.1.1\nup /tmp/x', port: 1194, proto: 'tcp' }] } }))).toMatch(/spec\.remotes\.0\.host/);
    expect(await refused(start({ files: { ca: `${ca}script-security 3\nup /bin/sh\n` } }))).toMatch(/files\.ca: must be PEM/);
    expect(await refused(start({ files: { ca: '/etc/shadow' } }))).toMatch(/files\.ca/);
    expect(await refused(start({ config: 'up /bin/sh' }))).toMatch(/config|unrecognized/i);
    expect(await refused(start({ spec: { ...spec, remotes: [{ host: 'a.example', port: 70000, proto: 'tcp' }] } }))).toMatch(/port/);
    expect(await refused(start({ label: '../../etc' }))).toMatch(/label/);
    expect(await refused(start({ spec: { ...spec, managementSocket: '/tmp/m.sock' } }))).toMatch(/managementSocket|unrecognized/i);
    expect(await refused('{"op":"exec","command":"id"}\n')).toMatch(/invalid request/);
    expect(await refused('{"op": "list"\n')).toBe('malformed request: not JSON');
    expect(await refused('x'.repeat(300 * 1024))).toMatch(/request too large/);

    // A caller that connects and never writes is dropped (the helper closes the connection).
    expect(await rawRequest(undefined, bob)).toEqual([]);

    // 200 connections at once (from this process, to make them truly simultaneous): every
    // one answered or closed by the helper, none left hanging.
    const flood = await Promise.all(Array.from({ length: 200 }, () => inProcessRequest('{"op":"status"}\n')));
    const answered = flood.filter((r) => r.startsWith('{"ok":true')).length;
    // Over the machine-wide limit the helper closes at once (the client sees a reset or a
    // broken pipe); over the per-user one it says so first.
    const outcomes = new Set(flood.map((r) => (r.startsWith('{"ok":true') ? 'answered' : r === '' ? 'closed' : r)));
    const perUserRefusal = '{"ok":false,"error":"too many connections from your user (at most 16 at once)"}';
    expect([...outcomes].filter((o) => !['answered', 'closed', 'ECONNRESET', 'EPIPE', perUserRefusal].includes(o))).toEqual([]);
    expect(answered).toBeGreaterThan(0);

    // Still serving: status, and nothing was started by any of it.
    expect(JSON.parse((await rawRequest('{"op":"status"}\n', bob))[0]!)).toMatchObject({ ok: true, result: { sessions: 0 } });
    expect((await helperState()).sessions).toEqual([]);
  });

  it("starts that openvpn refuses at parse time, in a loop, cannot stop the helper or disturb another user's tunnel", async () => {
    const session = connectAs(bob, 'bob', passwords.get('bob')!);
    await session.waitFor(STATE('CONNECTED'));
    const ca = await readFile(path.join(bundles.alice!, 'ca.crt'), 'utf8');
    // Valid to the helper's schema; openvpn exits at once ("unsupported cipher"), racing the clean-up.
    const spec = { remotes: [{ host: lab.addr.gatewayUnderlay, port: 1194, proto: 'tcp' }], engine: { dev: 'tun', remoteCertTls: 'server', dataCiphers: 'NOPE-CIPHER' }, passwordRequired: true, guiVersion: 'Ferry test' };
    const replies: Array<{ ok: boolean; error?: string } | undefined> = [];
    for (let wave = 0; wave < 5; wave++) {
      const held = holdConnections(socket, Array.from({ length: 8 }, (_, i) => `${JSON.stringify({ op: 'start', label: `bad-${wave}-${i}`, spec, files: { ca } })}\n`), alice);
      replies.push(...(await held.replies));
      held.release();
    }
    expect(replies).toHaveLength(40);
    expect(replies.filter((r) => r?.ok)).toEqual([]);
    expect(replies.filter((r) => /^openvpn stopped before it was ready: .*unsupported cipher/i.test(r?.error ?? '')).length).toBeGreaterThan(0);

    // The helper is the same process, still serving; bob's tunnel never noticed.
    expect(helper.child.exitCode).toBeNull();
    expect(JSON.parse((await rawRequest('{"op":"status"}\n', alice))[0]!)).toMatchObject({ ok: true, result: { sessions: 0 } });
    expect(statesOf(session).at(-1)).toBe('CONNECTED');
    expect(await lab.ping('client', lab.addr.vpcHost)).toBe(true);
    await until(async () => (await helperState()).sessions.length === 1, "only bob's session to be left", 10_000);
    expect(helper.lines.join('\n')).not.toMatch(/internal error/);
    expect(await session.stop('SIGINT')).toBe(0);
  });

  it('a restarted app takes over the running tunnel without asking again', async () => {
    const first = connectAs(alice, 'alice', passwords.get('alice')!);
    await first.waitFor(STATE('CONNECTED'));
    const before = JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result as Array<{ pid: number }>;
    first.child.kill('SIGKILL'); // the app crashed; the helper keeps the tunnel
    await first.exited;
    expect(await lab.ping('client', lab.addr.vpcHost)).toBe(true);
    // `ferry status` still knows of it, and says how to get it back.
    expect((await ferryAs(alice, ['status'])).stdout).toMatch(/^alice {2}running in ferry-helper with no Ferry attached: `ferry connect alice` takes it over$/m);
    expect(JSON.parse((await ferryAs(alice, ['status', '--json'])).stdout)).toEqual([{ id: expect.stringMatching(/^alice-/), profile: 'alice', attached: false, owner: 'helper' }]);
    expect(JSON.parse((await ferryAs(bob, ['status', '--json'])).stdout)).toEqual([]);

    // A wrong password proves nothing was re-authenticated: the same openvpn carries on.
    const second = connectAs(alice, 'alice', 'not-the-password');
    await second.waitFor(STATE('CONNECTED'));
    expect(statesOf(second)).not.toContain('AUTH');
    expect(JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result).toEqual(before);

    // Killed again: with no terminal and no password at all, the CLI still takes it over.
    second.child.kill('SIGKILL');
    await second.exited;
    const third = connectAs(alice, 'alice');
    await third.waitFor(STATE('CONNECTED'));
    expect(statesOf(third)).not.toContain('AUTH');
    expect(JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result).toEqual(before);
    expect(await third.stop('SIGINT')).toBe(0);
    expect(await clientLeftovers(lab)).toEqual({ openvpnPids: [], tunDevices: [] });

    // Nothing left to take over: the same command now needs the password, and says so at once.
    const refused = connectAs(alice, 'alice');
    await refused.waitFor(/needs a password and there is no terminal to ask on/);
    expect(await refused.exited).toBe(2);
  });

  it('a tunnel whose gateway restarted while no Ferry was attached waits in its hold; the next Ferry brings it back without asking', async () => {
    const first = connectAs(alice, 'alice', passwords.get('alice')!);
    await first.waitFor(STATE('CONNECTED'));
    const before = JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result as Array<{ pid: number }>;
    first.child.kill('SIGKILL');
    await first.exited;
    await gateway.stop();
    gateway = await readyGateway(lab, serverDir);
    // Nobody releases it: openvpn waits in its hold (its management socket greets with >HOLD).
    const [sessionId] = (await helperState()).mgmt;
    await until(async () => (await managementGreeting(path.join(helperDir, 'mgmt', sessionId!, 'management.sock'))).includes('>HOLD:Waiting for hold release'), 'openvpn to wait in its hold', 10_000);
    // No tunnel, so the VPN's DNS server is unreachable: it is withdrawn meanwhile.
    await until(async () => (await readFile(resolvFile(), 'utf8')) === LAB_RESOLV, 'the pushed DNS to be withdrawn while the tunnel is down', 10_000);

    // Same openvpn, its hold released by the takeover; the gateway's auth token spares the password.
    const second = connectAs(alice, 'alice', 'not-the-password');
    await second.waitFor(STATE('CONNECTED'));
    expect(JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result).toEqual(before);
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    expect(await readFile(resolvFile(), 'utf8')).toContain(`nameserver ${PUSHED_DNS}`); // back with the tunnel
    expect(await second.stop('SIGINT')).toBe(0);
    expect(await clientLeftovers(lab)).toEqual({ openvpnPids: [], tunDevices: [] });
  });

  it('killed and restarted while a session runs, the helper leaves no orphan openvpn, tun device or DNS change', async () => {
    const session = connectAs(alice, 'alice', passwords.get('alice')!);
    await session.waitFor(STATE('CONNECTED'));
    const [info] = JSON.parse((await rawRequest('{"op":"list"}\n', alice))[0]!).result as Array<{ pid: number }>;
    expect(await readFile(resolvFile(), 'utf8')).toContain(PUSHED_DNS);

    helper.child.kill('SIGKILL');
    await helper.exited;
    // The user's Ferry hears its helper go and says so; the tunnel cannot be kept.
    expect(await session.exited).toBe(1);
    expect(session.lines.join('\n')).toMatch(/ferry-helper/);
    expect((await clientLeftovers(lab)).openvpnPids).toEqual([info!.pid]); // the orphan, for now

    // What an older helper could leave: a management directory it had handed to alice, in
    // which she nested directories past PATH_MAX; and a session directory holding something
    // the helper never wrote. Neither may keep the restarted helper from restoring DNS.
    const legacy = path.join(helperDir, 'mgmt', 'a'.repeat(16));
    await mkdir(legacy);
    await chown(legacy, alice.uid, alice.gid);
    await execFileAs(alice, process.execPath, ['-e', `process.chdir(process.argv[1]);for(let i=0;i<250;i++){require('fs').mkdirSync('d'.repeat(20));process.chdir('d'.repeat(20))}`, legacy]);
    const stray = path.join(helperDir, 'sessions', 'b'.repeat(16));
    await mkdir(path.join(stray, 'unexpected'), { recursive: true });

    await startHelper().waitFor(/ferry-helper: serving/);
    expect(helper.lines.join('\n')).toMatch(new RegExp(`stopping openvpn ${info!.pid} left by a previous helper`));
    expect(await clientLeftovers(lab)).toEqual({ openvpnPids: [], tunDevices: [] });
    expect(await readFile(resolvFile(), 'utf8')).toBe(LAB_RESOLV);
    // The legacy tree went, removed with alice's own rights; the stray entry stays, reported.
    expect(await helperState()).toEqual({ sessions: ['b'.repeat(16)], mgmt: [] });
    expect(helper.lines.join('\n')).toMatch(/leftover session b{16}: .* holds unexpected entries; left in place/);
    await rm(stray, { recursive: true });
  });
});

/** Runs a command as `user`; rejects if it fails. */
function execFileAs(user: TestUser, command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(user.asUser[0]!, [...user.asUser.slice(1), command, ...args], (err) => (err ? reject(err) : resolve())));
}

/** What an openvpn management socket says to a client that attaches (root may attach to any). */
function managementGreeting(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = createConnection(socketPath);
    const done = () => {
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('>HOLD:')) done();
    });
    socket.on('error', done);
    setTimeout(done, 300);
  });
}
