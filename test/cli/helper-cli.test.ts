/**
 * `ferry-helper` as a program: refuses to run unprivileged or over an unsafe directory,
 * and works under systemd socket activation with the unit files we ship (verified with
 * systemd's own tools; a real systemd as PID 1 is not available here).
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir } from 'node:fs/promises';
import { createConnection } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../support/cli.js';

const HELPER = path.join(ROOT, 'bin/ferry-helper.js');
const exec = promisify(execFile);
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : undefined;

async function openBase(): Promise<string> {
  const parent = await tempDir('ferry-helper-cli-');
  await chmod(parent, 0o755);
  const base = path.join(parent, 'run');
  await mkdir(base, { mode: 0o755 });
  return base;
}

function status(socket: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    let out = '';
    s.on('connect', () => s.write('{"op":"status"}\n'));
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', reject);
    s.on('close', () => resolve(JSON.parse(out)));
  });
}

describe.skipIf(skip)('ferry-helper program', () => {
  it('prints usage', async () => {
    const result = await runCli(HELPER, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: ferry-helper \[--socket PATH\]/);
  });

  it('refuses to run without root, saying why', async () => {
    const base = await openBase();
    const result = await exec('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, HELPER, '--socket', path.join(base, 'h.sock')]).catch((e: { code: number; stderr: string }) => e);
    expect(result).toMatchObject({ code: 1, stderr: 'ferry-helper: ferry-helper must run as root (it creates tun devices and routes for other users)\n' });
  });

  it('refuses a socket directory that others could write to', async () => {
    const base = await openBase();
    await chmod(base, 0o777);
    const result = await runCli(HELPER, ['--socket', path.join(base, 'h.sock')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/must not be writable by group or others \(chmod 755 /);
  });

  it('refuses a socket directory inside one another user could rename', async () => {
    const base = await openBase();
    await chown(path.dirname(base), 65534, 65534);
    const result = await runCli(HELPER, ['--socket', path.join(base, 'h.sock')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/must be a root-owned directory that others cannot write to/);
  });

  it('serves a socket handed over by systemd socket activation', async () => {
    const base = await openBase();
    const socket = path.join(base, 'helper.sock');
    // systemd-socket-activate listens, then starts the helper with LISTEN_FDS=1 on the first connection.
    const activator = spawn('systemd-socket-activate', ['-l', socket, process.execPath, HELPER, '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    activator.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      for (let i = 0; i < 100 && !(await exec('test', ['-S', socket]).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await status(socket)).toMatchObject({ ok: true, result: { sessions: 0 } });
      expect(log).toMatch(/ferry-helper: serving .* \(socket from systemd\)/);
    } finally {
      activator.kill('SIGTERM');
    }
  });

  it('ships unit files that systemd accepts', async () => {
    const units = ['ferry-helper.socket', 'ferry-helper.service'].map((u) => path.join(ROOT, 'native/linux', u));
    const result = await exec('systemd-analyze', ['verify', ...units]).catch((e: { code: number; stderr: string }) => e);
    expect(result).toMatchObject({ stderr: '' });
  });
});
