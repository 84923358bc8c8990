/** Runs the built `ferry-server` binary as a user would, and snapshots state directories. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FERRY_SERVER = path.join(ROOT, 'bin/ferry-server.js');
export const FERRY = path.join(ROOT, 'bin/ferry.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function ferryServer(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return runCli(FERRY_SERVER, args, opts);
}

/** Runs one of the built command-line programs with `input` on stdin. */
export function runCli(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}

export async function tempDir(prefix = 'ferry-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** Path -> mode and content hash of every file below `dir`: equal snapshots mean nothing changed. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(current: string) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const rel = path.relative(dir, full);
      const st = await stat(full);
      if (entry.isDirectory()) {
        out[`${rel}/`] = (st.mode & 0o777).toString(8);
        await walk(full);
      } else if (entry.isFile()) {
        out[rel] = `${(st.mode & 0o777).toString(8)}:${createHash('sha256').update(await readFile(full)).digest('hex')}`;
      }
    }
  }
  await walk(dir);
  return out;
}

/** An initialised server directory for tests (two-factor on unless told otherwise); `extra` overrides the defaults. */
export async function initServer(extra: string[] = []): Promise<string> {
  const dir = path.join(await tempDir(), 'state');
  const defaults: Record<string, string> = { '--host': '198.18.1.1', '--subnet': '198.18.2.0/24', '--pool': '198.18.100.0/24' };
  const args = Object.entries(defaults).filter(([flag]) => !extra.includes(flag)).flat();
  const result = await ferryServer(['init', '--dir', dir, ...args, ...extra]);
  if (result.code !== 0) throw new Error(`init failed: ${result.stderr}`);
  return dir;
}

/** Adds accounts (two-factor passwords returned) and unpacks the first one's bundle into its own directory. */
export async function addAccounts(dir: string, names: string[]): Promise<Map<string, string>> {
  const result = await ferryServer(['client', 'add', '--dir', dir, '--json', ...names]);
  if (result.code !== 0) throw new Error(`client add failed: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as Array<{ account: string; password?: string }>;
  return new Map(parsed.map((a) => [a.account, a.password ?? '']));
}

/** `client bundle` then unzip: returns the directory holding ca.crt, client.crt, client.key, ACCOUNT.ovpn. */
export async function unpackBundle(dir: string, account: string): Promise<string> {
  const { unzipSync } = await import('fflate');
  const { writeFile: write } = await import('node:fs/promises');
  const out = await tempDir(`ferry-${account}-`);
  const zip = path.join(out, `${account}.zip`);
  const result = await ferryServer(['client', 'bundle', '--dir', dir, account, '--out', zip]);
  if (result.code !== 0) throw new Error(`bundle failed: ${result.stderr}`);
  for (const [name, data] of Object.entries(unzipSync(await readFile(zip)))) await write(path.join(out, name), data, { mode: 0o600 });
  return out;
}

/**
 * Runs ferry-server with FERRY_SERVER_TEST_HOLD=point: the command stops itself (SIGSTOP)
 * there and says so on stderr. Resolves once it is stopped there; throws if it ended first.
 */
export async function holdAt(point: string, args: string[]): Promise<{ child: ChildProcess; exited: Promise<number | null>; stderr: () => string }> {
  const child = spawn(process.execPath, [FERRY_SERVER, ...args], {
    env: { ...process.env, FERRY_SERVER_TEST_HOLD: point },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const held = await new Promise<boolean>((resolve) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(`test hold at ${point}`)) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!held) throw new Error(`ferry-server ${args.join(' ')} ended before reaching ${point}: ${stderr}`);
  return { child, exited, stderr: () => stderr };
}

/** Stops the command at `point` and kills it there with SIGKILL, like a power cut at exactly that point. */
export async function killAt(point: string, args: string[]): Promise<void> {
  const { child, exited } = await holdAt(point, args);
  child.kill('SIGKILL');
  await exited;
}
