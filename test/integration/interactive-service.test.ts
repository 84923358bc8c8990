/**
 * The Windows launcher (core/engine/service-launcher.ts) against the interactive-service
 * simulator (test/support/interactive-service-sim.ts, written from interactive.c), which
 * starts a real openvpn here: the startup message, the service's refusals, openvpn's
 * management interface over TCP with the password the service put on its stdin. No network
 * beyond 127.0.0.1: openvpn waits in its management hold and never dials out.
 */
import { createConnection } from 'node:net';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineSpec } from '../../core/engine/config.js';
import { ERROR_STARTUP_DATA, encodeStartupMessage, decodeReply } from '../../core/engine/interactive-service.js';
import type { RunningEngine } from '../../core/engine/launcher.js';
import { InteractiveServiceLauncher } from '../../core/engine/service-launcher.js';
import { ManagementConnection } from '../../core/management/connection.js';
import { FailureError } from '../../core/session/failure-error.js';
import { failureText } from '../../core/session/failure-text.js';
import { addAccounts, initServer, tempDir, unpackBundle } from '../support/cli.js';
import { InteractiveServiceSimulator } from '../support/interactive-service-sim.js';
import { findExecutable } from '../../core/util/executable.js';

const skip = findExecutable('openvpn', { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }) ? undefined : 'openvpn is not installed';
if (skip && process.env.CI === 'true') throw new Error(skip);

describe.skipIf(skip)('Windows launcher against the simulated interactive service', () => {
  let root: string;
  let configDir: string;
  let files: EngineSpec['files'];
  const sims: InteractiveServiceSimulator[] = [];
  const engines: RunningEngine[] = [];

  const spec = (): EngineSpec => ({
    remotes: [{ host: '198.18.1.1', port: 1194, proto: 'udp' }],
    engine: { dev: 'tun', directives: [] },
    passwordRequired: true,
    files,
    managementSocket: '/nonexistent/unused',
    guiVersion: 'Ferry test',
  });

  async function simulator(opts: { authorized: boolean }): Promise<InteractiveServiceSimulator> {
    const sim = await InteractiveServiceSimulator.start({ socketPath: path.join(root, `service-${sims.length}.sock`), configDir, adminGroup: 'OpenVPN Administrators', ...opts });
    sims.push(sim);
    return sim;
  }

  async function sessionDir(under: string): Promise<string> {
    return mkdtemp(path.join(under, 's-'));
  }

  /** Sends raw bytes as the first message; resolves with the service's first reply. */
  function raw(sim: InteractiveServiceSimulator, bytes: Buffer): Promise<ReturnType<typeof decodeReply>> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(sim.options.socketPath, () => socket.write(bytes));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', reject);
      socket.on('close', () => resolve(decodeReply(Buffer.concat(chunks))));
    });
  }

  beforeAll(async () => {
    root = await tempDir('ferry-iservice-');
    configDir = path.join(root, 'config') + path.sep;
    await mkdir(configDir);
    await mkdir(path.join(root, 'users'));
    const serverDir = await initServer();
    await addAccounts(serverDir, ['alice']);
    const dir = await unpackBundle(serverDir, 'alice');
    files = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'client.crt'), key: path.join(dir, 'client.key') };
  });

  afterEach(async () => {
    for (const engine of engines.splice(0)) {
      engine.kill('SIGKILL');
      await engine.exited;
    }
  });

  afterAll(async () => {
    for (const sim of sims) await sim.close();
  });

  it('an administrator: the service starts openvpn with Ferry config, log and the password on stdin; management answers over TCP to that password only', async () => {
    const sim = await simulator({ authorized: true });
    const launcher = new InteractiveServiceLauncher({ pipe: sim.options.socketPath });
    expect(await launcher.kind()).toBe('service');
    const dir = await sessionDir(path.join(root, 'users'));
    const engine = await launcher.launch(spec(), dir, 'p1');
    engines.push(engine);

    const started = sim.started[0]!;
    expect(engine.pid).toBe(started.pid);
    expect(started.argv).toEqual(['--config', path.join(dir, 'openvpn.conf'), '--log', path.join(dir, 'openvpn.log'), '--pull-filter', 'ignore', 'route-method']);
    expect(started.data.directory).toBe(dir);
    const tcp = engine.managementTcp!;
    expect(tcp.host).toBe('127.0.0.1');
    expect(started.data.stdin).toBe(`${tcp.password}\n`);
    // nowhere on disk
    expect(await readFile(path.join(dir, 'openvpn.conf'), 'utf8')).toMatch(new RegExp(`^management 127\\.0\\.0\\.1 ${tcp.port} "/dev/stdin"$`, 'm'));
    expect(await readFile(path.join(dir, 'openvpn.conf'), 'utf8')).not.toContain(tcp.password);

    // A wrong password first: refused, and not retried.
    await expect(ManagementConnection.connect({ ...tcp, password: 'not-the-password' }, () => {}, { attempts: 400, intervalMs: 10 })).rejects.toThrow(/refused its password/);
    const notifications: string[] = [];
    const management = await ManagementConnection.connect(tcp, (n) => notifications.push(n.type), { attempts: 400, intervalMs: 10 });
    const state = await management.command('state');
    expect(state.join('\n')).toMatch(/^\d+,[A-Z_]+,/m);
    expect((await management.command('pid'))[0]).toBe(`pid=${engine.pid}`);
    await management.command('signal SIGTERM');
    management.close();
    expect(await engine.exited).toEqual({ code: 0, signal: null });
    engines.length = 0;
  });

  it('an ordinary user with a session outside the global config dir: refused, with the group to join', async () => {
    const sim = await simulator({ authorized: false });
    const launcher = new InteractiveServiceLauncher({ pipe: sim.options.socketPath });
    const err = await launcher.launch(spec(), await sessionDir(path.join(root, 'users')), 'p1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailureError);
    const failure = (err as FailureError).failure;
    expect(failure).toMatchObject({ code: 'service-missing', detail: 'service-not-authorized', params: { group: 'OpenVPN Administrators' } });
    expect(failure.params.error).toMatch(/config file location .* requires admin approval/);
    expect(failureText(failure, 'en')).toMatch(/add your account to “OpenVPN Administrators”/);
    expect(failureText(failure, 'zh-CN')).toMatch(/“OpenVPN Administrators”组/);
    expect(sim.started).toEqual([]);
  });

  it('an ordinary user with the session inside the global config dir: only whitelisted options are used, so it starts', async () => {
    const sim = await simulator({ authorized: false });
    const launcher = new InteractiveServiceLauncher({ pipe: sim.options.socketPath });
    const engine = await launcher.launch(spec(), await sessionDir(configDir), 'p1');
    engines.push(engine);
    expect(sim.refusals).toEqual([]);
    const management = await ManagementConnection.connect(engine.managementTcp!, () => {}, { attempts: 400, intervalMs: 10 });
    expect((await management.command('pid'))[0]).toBe(`pid=${engine.pid}`);
    management.close();
  });

  it("refuses what validate.c refuses an ordinary user: other options, --setenv opt, a config named stdin, a config outside by '..'", async () => {
    const sim = await simulator({ authorized: false });
    const inside = path.join(configDir, 'x.conf');
    const cases: Array<[string, RegExp]> = [
      [`--config ${inside} --up /tmp/evil.sh`, /an option \(--up\) that may be used only with admin approval/],
      [`--config ${inside} --setenv opt up /tmp/evil.sh`, /an option \(--setenv\)/],
      ['--config stdin', /config file location \(stdin relative to/],
      [`--config ${configDir}../elsewhere.conf`, /config file location/],
      [`${root}/elsewhere.conf`, /config file location/], // a lone argument is the config
    ];
    for (const [options, said] of cases) {
      const reply = await raw(sim, encodeStartupMessage({ directory: configDir, options, stdin: '' }));
      expect(reply).toMatchObject({ kind: 'error', code: ERROR_STARTUP_DATA });
      expect(reply && reply.kind === 'error' ? reply.func : '').toMatch(said);
    }
    expect(sim.started).toEqual([]);
  });

  it('refuses malformed startup data as GetStartupData does', async () => {
    const sim = await simulator({ authorized: true });
    for (const bytes of [Buffer.from('dir\0opts\0stdin', 'utf16le'), Buffer.from('dir\0', 'utf16le'), Buffer.from('dir\0opts\0', 'utf16le'), Buffer.from(`${'x'.repeat(5000)}\0\0\0`, 'utf16le')]) {
      expect(await raw(sim, bytes)).toEqual({ kind: 'error', code: ERROR_STARTUP_DATA, func: 'GetStartupData', message: '' });
    }
    expect(sim.refusals).toEqual([
      'Startup data is not NULL terminated',
      'Startup data ends at working directory',
      'Startup data ends at command line options',
      'malformed startup data: 5003 bytes received',
    ]);
    expect(sim.started).toEqual([]);
  });

  it('no service: an error that says to install or start OpenVPNServiceInteractive', async () => {
    const launcher = new InteractiveServiceLauncher({ pipe: path.join(root, 'no-service.sock') });
    expect(await launcher.kind()).toBe('missing');
    const err = (await launcher.launch(spec(), await sessionDir(path.join(root, 'users')), 'p1').catch((e: unknown) => e)) as FailureError;
    expect(err.failure).toMatchObject({ code: 'service-missing', detail: 'service-not-running' });
    expect(err.message).toMatch(/sc start OpenVPNServiceInteractive/);
  });

  it('openvpn that stops at once: the exit code from the service and the reason from its log', async () => {
    const sim = await simulator({ authorized: true });
    const launcher = new InteractiveServiceLauncher({ pipe: sim.options.socketPath });
    const bad = { ...spec(), files: { ...files, ca: path.join(root, 'missing-ca.crt') } };
    const engine = await launcher.launch(bad, await sessionDir(path.join(root, 'users')), 'p1');
    const output: string[] = [];
    engine.onOutput((line) => output.push(line));
    // Released from its hold, openvpn reads the CA and fails.
    let gone = false;
    void engine.exited.then(() => (gone = true));
    const management = await ManagementConnection.connect(engine.managementTcp!, () => {}, { attempts: 400, intervalMs: 10, isAlive: () => !gone }).catch(() => undefined);
    await management?.command('hold release').catch(() => {});
    const exit = await engine.exited;
    management?.close();
    expect(exit.code).not.toBe(0);
    expect(output.join('\n')).toMatch(/OpenVPN exited with error: exit code = \d+/);
    expect(output.join('\n')).toMatch(/missing-ca\.crt/);
  });
});
