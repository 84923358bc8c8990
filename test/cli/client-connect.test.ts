/**
 * `ferry connect` while it waits: the profile's gateway is 127.0.0.1 on a closed port, so
 * a real openvpn (started directly, as root) keeps retrying and no tunnel ever comes up;
 * nothing leaves the machine. Meanwhile the tests look at the machine from outside: every
 * process's argv and environment, and `ferry status` run as another process.
 * Needs root and openvpn: skipped without them, except under CI=true.
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findOpenvpn } from '../../core/engine/openvpn-binary.js';
import { addAccounts, FERRY, initServer, tempDir, unpackBundle } from '../support/cli.js';
import { clientHome, ferry, processArgvAndEnv, STATE, type ClientHome } from '../support/ferry.js';
import { Watched } from '../support/processes.js';
import { until } from '../support/until.js';

function missing(): string | undefined {
  const why = process.getuid?.() !== 0 ? 'needs root (openvpn is started directly)' : (() => {
    try {
      findOpenvpn();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  })();
  if (why && process.env.CI === 'true') throw new Error(why);
  return why;
}

/** A local port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Pids whose parent is `pid`, with their command names. */
async function children(pid: number): Promise<Array<{ pid: number; comm: string }>> {
  const found = await Promise.all(
    (await readdir('/proc')).filter((p) => /^\d+$/.test(p)).map(async (p) => {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
      // "pid (comm) state ppid …": comm may hold spaces, so split after its closing parenthesis.
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
      return m && Number(m[2]) === pid ? [{ pid: Number(p), comm: m[1]! }] : [];
    }),
  );
  return found.flat();
}

describe.skipIf(missing())('ferry connect, waiting on an unreachable gateway', () => {
  let password: string;
  let ovpn: string;
  const running: Watched[] = [];

  beforeAll(async () => {
    const serverDir = await initServer();
    password = (await addAccounts(serverDir, ['alice'])).get('alice')!;
    const bundle = await unpackBundle(serverDir, 'alice');
    const text = await readFile(path.join(bundle, 'alice.ovpn'), 'utf8');
    ovpn = path.join(bundle, 'local.ovpn');
    // The gateway asks for a one-time code with the password (static challenge, SCRV1).
    await writeFile(ovpn, text.replace(/^remote .*$/m, `remote 127.0.0.1 ${await closedPort()}\nstatic-challenge "Authenticator code" 1`));
  });

  afterEach(async () => {
    for (const w of running.splice(0)) expect(await w.stop('SIGINT')).toBe(0);
  });

  async function withProfile(client: ClientHome): Promise<void> {
    const imported = await ferry(client, ['import', ovpn, '--name', 'alice']);
    expect(imported.stderr).toBe('');
  }

  /** `ferry connect` with `stdin` piped, once it has read it and its openvpn runs. */
  async function connectAndWait(client: ClientHome, args: string[], stdin: string): Promise<{ watched: Watched; openvpn: number }> {
    const child = spawn(process.execPath, [FERRY, 'connect', 'alice', '--json', ...args], { env: client.env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin);
    const watched = new Watched(child, 'ferry connect');
    running.push(watched);
    await watched.waitFor(STATE('CONNECTING'));
    let openvpn: number | undefined;
    await until(async () => (openvpn = (await children(child.pid!)).find((c) => c.comm === 'openvpn')?.pid) !== undefined, 'openvpn to run', 15_000);
    return { watched, openvpn: openvpn! };
  }

  it('the one-time code piped with --otp-stdin (and the password) never shows in any process\'s argv or environment', async () => {
    const client = await clientHome();
    await withProfile(client);
    const code = String(randomInt(10_000_000, 99_999_999));
    const { watched, openvpn } = await connectAndWait(client, ['--password-stdin', '--otp-stdin'], `${password}\n${code}\n`);
    // The scan sees the waiting CLI and its openvpn: the moment a code in argv would be readable.
    expect(await readFile(`/proc/${watched.child.pid}/cmdline`, 'utf8')).toContain('--otp-stdin');
    expect(await readFile(`/proc/${openvpn}/cmdline`, 'utf8')).toContain('--config');
    const everything = await processArgvAndEnv();
    expect(everything).toContain(`connect\0alice\0--json\0--password-stdin\0--otp-stdin`); // the scan reads the CLI's argv
    expect(everything).not.toContain(code);
    expect(everything).not.toContain(password);
    expect(watched.lines.join('\n')).not.toContain(code);
  });

  it('without $XDG_RUNTIME_DIR and with /tmp/ferry-<uid> taken by another user, `ferry status` from another process finds the session', async () => {
    const client = await clientHome();
    await withProfile(client);
    const base = await tempDir('ferry-squat-');
    const tmp = path.join(base, 'tmp');
    await mkdir(tmp);
    await chmod(tmp, 0o1777);
    const squat = path.join(tmp, `ferry-${process.getuid!()}`);
    await mkdir(squat, { mode: 0o700 });
    await chown(squat, 65534, 65534);
    const { XDG_RUNTIME_DIR: _unset, ...rest } = client.env;
    client.env = { ...rest, TMPDIR: tmp, HOME: path.join(base, 'home'), XDG_CACHE_HOME: path.join(base, 'cache') };

    await connectAndWait(client, ['--password-stdin', '--otp-stdin'], `${password}\n${String(randomInt(100_000, 999_999))}\n`);
    const status = await ferry(client, ['status', '--json']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    const sessions = JSON.parse(status.stdout) as Array<{ profile: string; attached: boolean; state: string }>;
    expect(sessions).toEqual([expect.objectContaining({ profile: 'alice', attached: true, state: 'CONNECTING' })]);
    expect(await readdir(squat)).toEqual([]);
  });
});
