/**
 * A private PostgreSQL instance per test file: initdb into a temporary directory owned by an
 * unprivileged user (postgres refuses to run as root), listening on a unix socket only (no
 * TCP at all), trust authentication on that socket. stop()/start() let a test take the
 * database away and bring it back; destroy() removes everything.
 *
 * Under CI=true a missing PostgreSQL is a failure, never a skip (.ci/run installs it).
 *
 * pg_ctl runs the server as a daemon: it outlives a test run that was SIGKILLed before
 * destroy(). Each instance's base directory records its owner's pid (`owner`), and
 * sweepStalePostgres() (globalSetup) stops and removes the instances whose owner is dead,
 * never one a live process (another worker, a parallel run) is using.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isAlive } from '../lab/lab.js';

function binDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(path.join(base, v, 'bin', 'initdb'))) return path.join(base, v, 'bin');
  return undefined;
}

/** The unprivileged account the instance runs as. */
function runAs(): { user: string; uid: number; gid: number } | undefined {
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
      return { user, uid, gid };
    } catch {
      // next
    }
  }
  return undefined;
}

export function postgresPrerequisites(): string | undefined {
  if (process.platform !== 'linux') return 'the PostgreSQL tests need Linux';
  if (process.getuid?.() !== 0) return 'the PostgreSQL tests need root (to run the instance as an unprivileged user)';
  if (!binDir()) return 'PostgreSQL is not installed (Debian: apt-get install postgresql)';
  if (!runAs()) return 'no unprivileged user (postgres or nobody) to run PostgreSQL as';
  return undefined;
}

export function postgresSkipReason(): string | undefined {
  const reason = postgresPrerequisites();
  if (reason !== undefined && process.env.CI === 'true') throw new Error(`PostgreSQL unavailable under CI: ${reason}`);
  return reason;
}

function run(argv: string[], user: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('runuser', ['-u', user, '--', ...argv], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const BASE_PREFIX = 'ferry-pg-';
const OWNER_FILE = 'owner';

/** The postmaster's pid from its data directory's postmaster.pid (first line), if it is running. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const pid = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/**
 * Stops and removes the instances (tmpdir()/ferry-pg-*) whose owner process is dead: what a
 * SIGKILLed test run left running. A directory without an owner file is left alone (it may
 * be one being created right now). Returns the base directories removed.
 */
export async function sweepStalePostgres(): Promise<string[]> {
  if (postgresPrerequisites() !== undefined) return [];
  const removed: string[] = [];
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith(BASE_PREFIX)) continue;
    const base = path.join(tmpdir(), name);
    const owner = Number((await readFile(path.join(base, OWNER_FILE), 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    const dataDir = path.join(base, 'data');
    const pid = await postmasterPid(dataDir);
    if (pid !== undefined) {
      await run([path.join(binDir()!, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', '-w', 'stop'], runAs()!.user);
      // pg_ctl could not do it (a damaged data directory): the postmaster must not outlive its directory.
      const still = await postmasterPid(dataDir);
      if (still !== undefined) process.kill(still, 'SIGKILL');
    }
    await rm(base, { recursive: true, force: true });
    removed.push(base);
  }
  return removed;
}

export class PostgresInstance {
  private constructor(
    readonly base: string,
    private readonly bin: string,
    private readonly user: string,
  ) {}

  get dataDir() { return path.join(this.base, 'data'); }
  get socketDir() { return path.join(this.base, 'sock'); }

  static async create(): Promise<PostgresInstance> {
    const reason = postgresPrerequisites();
    if (reason) throw new Error(reason);
    const account = runAs()!;
    const base = await mkdtemp(path.join(tmpdir(), BASE_PREFIX));
    // First, before anything runs: the sweeper of a later run knows whose instance this is.
    await writeFile(path.join(base, OWNER_FILE), `${process.pid}\n`, { mode: 0o644 });
    await chmod(base, 0o755);
    await chown(base, account.uid, account.gid);
    const pgi = new PostgresInstance(base, binDir()!, account.user);
    const init = await run([path.join(pgi.bin, 'initdb'), '-D', pgi.dataDir, '-U', 'ferry', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], account.user);
    if (init.code !== 0) throw new Error(`initdb failed: ${init.out}`);
    await run(['mkdir', '-p', pgi.socketDir], account.user);
    await pgi.start();
    return pgi;
  }

  async start(): Promise<void> {
    const opts = `-c listen_addresses='' -c unix_socket_directories='${this.socketDir}' -c fsync=off -c max_connections=100`;
    const res = await run([path.join(this.bin, 'pg_ctl'), '-D', this.dataDir, '-l', path.join(this.base, 'log'), '-o', opts, '-w', 'start'], this.user);
    if (res.code !== 0) throw new Error(`pg_ctl start failed: ${res.out}`);
  }

  /** Fast shutdown: every connection is dropped at once, as when the database host dies. */
  async stop(mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await run([path.join(this.bin, 'pg_ctl'), '-D', this.dataDir, '-m', mode, '-w', 'stop'], this.user);
  }

  /** A URL for database `db` (unix socket). */
  url(db: string): string {
    return `postgresql://ferry@${encodeURIComponent(this.socketDir)}/${db}`;
  }

  /** A fresh, empty database. */
  async createDatabase(): Promise<string> {
    const name = `ferry_${Math.random().toString(36).slice(2, 10)}`;
    await this.sql('postgres', `CREATE DATABASE ${name}`);
    return this.url(name);
  }

  async sql(db: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: this.url(db) });
    await client.connect();
    try {
      return await client.query(text, params);
    } finally {
      await client.end();
    }
  }

  async destroy(): Promise<void> {
    await this.stop('immediate');
    await rm(this.base, { recursive: true, force: true });
  }
}
