/**
 * `npm run test:interactive-service`: the Windows launcher (core/engine/service-launcher.ts)
 * against the REAL OpenVPNServiceInteractive, on a Windows machine where OpenVPN 2.6 is
 * installed (the GitHub workflow installs it from the pinned MSI first). Not part of `npm
 * test`: it needs Windows, and fails at once, saying so, anywhere else. The Linux suite runs
 * the same launcher against a simulator of the service (test/integration/interactive-service.test.ts).
 *
 * A connect to an unreachable gateway (a loopback port nobody answers, so nothing leaves
 * the machine) must show that the service started openvpn as this user (the process owner
 * from `tasklist /v`, against `whoami`) and that openvpn's management interface answered
 * over TCP to the password the service passed on openvpn's stdin; then a clean stop.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { EngineSpec } from '../../core/engine/config.js';
import type { RunningEngine } from '../../core/engine/launcher.js';
import { freeLoopbackPort, InteractiveServiceLauncher, registryInstall } from '../../core/engine/service-launcher.js';
import { ManagementConnection, type Notification } from '../../core/management/connection.js';
import { makeCa, makeClient } from '../fixtures/import/generate.js';

if (process.platform !== 'win32') {
  throw new Error(
    'npm run test:interactive-service needs Windows with OpenVPN 2.6 and its interactive service installed; ' +
      'it runs in the GitHub workflow (.github/workflows/ci.yml, job "windows"). On Linux the launcher is tested ' +
      'against the simulator by npm test (test/integration/interactive-service.test.ts).',
  );
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { windowsHide: true, encoding: 'utf8', maxBuffer: 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

/** The owner of `pid` as `tasklist /v /fo csv` reports it ("DOMAIN\user"). */
async function processOwner(pid: number): Promise<string> {
  const out = await run('tasklist', ['/v', '/fo', 'csv', '/nh', '/fi', `PID eq ${pid}`]);
  const fields = [...(out.trim().split(/\r?\n/)[0] ?? '').matchAll(/"((?:[^"]|"")*)"/g)].map((m) => m[1]!.replace(/""/g, '"'));
  // "Image Name","PID","Session Name","Session#","Mem Usage","Status","User Name",…
  assert.equal(fields[1], String(pid), `tasklist has no process ${pid}: ${out}`);
  return fields[6]!;
}

let dir: string;
let engine: RunningEngine | undefined;
let management: ManagementConnection | undefined;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-iservice-'));
});

after(async () => {
  management?.close();
  if (engine) {
    engine.kill('SIGKILL');
    await engine.exited;
  }
});

test('OpenVPN is installed where the registry says, and its interactive service is listening', async () => {
  const install = await registryInstall();
  assert.ok(install, 'HKLM\\SOFTWARE\\OpenVPN is missing: install OpenVPN 2.6 (the workflow installs the pinned MSI)');
  await readFile(install.exePath).then(
    () => {},
    (err: Error) => assert.fail(`${install.exePath} (exe_path) cannot be read: ${err.message}`),
  );
  assert.equal(await new InteractiveServiceLauncher().kind(), 'service', 'the pipe \\\\.\\pipe\\openvpn\\service is missing: is OpenVPNServiceInteractive running?');
});

test('a connect to an unreachable gateway: openvpn runs as this user and management answers to the password', async () => {
  const ca = await makeCa({ cn: 'Ferry service-test CA', fromDays: -10, toDays: 10 });
  const client = await makeClient(ca, { cn: 'alice', fromDays: -10, toDays: 10 });
  const files = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'client.crt'), key: path.join(dir, 'client.key') };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.cert, client.certPem);
  await writeFile(files.key, client.keyPem);
  // Nobody listens on this loopback port: the "gateway" is unreachable and nothing leaves the machine.
  const spec: EngineSpec = {
    remotes: [{ host: '127.0.0.1', port: await freeLoopbackPort(), proto: 'tcp' }],
    engine: { dev: 'tun', directives: [] },
    passwordRequired: false,
    files,
    managementSocket: 'unused on Windows',
    guiVersion: 'Ferry service test',
  };
  const launcher = new InteractiveServiceLauncher({ install: registryInstall });
  engine = await launcher.launch(spec, dir, 'service-test');
  const pid = engine.pid;
  assert.ok(pid !== undefined && pid > 0, 'the service replied without a process id');

  const me = (await run('whoami', [])).trim();
  assert.equal((await processOwner(pid)).toLowerCase(), me.toLowerCase(), 'openvpn does not run as the user who asked the service');

  const tcp = engine.managementTcp;
  assert.ok(tcp, 'the launcher gave no TCP management endpoint');
  assert.equal(tcp.host, '127.0.0.1');
  const config = await readFile(path.join(dir, 'openvpn.conf'), 'utf8');
  assert.match(config, new RegExp(`^management 127\\.0\\.0\\.1 ${tcp.port} "?stdin"?$`, 'm'));
  assert.ok(!config.includes(tcp.password), 'the management password is in the config file');

  let gone = false;
  void engine.exited.then(() => (gone = true));
  // Resolved by the first STATE notification that shows openvpn dialling, or by its exit.
  let dialling!: (body: string) => void;
  const dialled = new Promise<string>((resolve, reject) => {
    dialling = resolve;
    void engine!.exited.then(() => reject(new Error(`openvpn exited before dialling; its log: ${path.join(dir, 'openvpn.log')}`)));
  });
  dialled.catch(() => {}); // awaited below; this only keeps an early exit from being reported twice
  const onNotification = (n: Notification) => {
    if (n.type === 'STATE' && /^\d+,(TCP_CONNECT|RESOLVE|WAIT|RECONNECTING),/.test(n.body)) dialling(n.body);
  };
  management = await ManagementConnection.connect(tcp, onNotification, { attempts: 600, intervalMs: 50, isAlive: () => !gone });
  assert.deepEqual(await management.command('pid'), [`pid=${pid}`]);
  assert.match((await management.command('version')).join('\n'), /OpenVPN Version: OpenVPN 2\.6/);
  // Out of its hold, openvpn dials the unreachable gateway and keeps trying.
  await management.command('state on');
  await management.command('hold release');
  assert.match(await dialled, /^\d+,[A-Z_]+,/);

  await management.command('signal SIGTERM');
  const exit = await engine.exited;
  engine = undefined;
  assert.equal(exit.code, 0, `openvpn's exit code through the service: ${exit.code}`);
});
