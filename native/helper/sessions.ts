/**
 * The helper's sessions: each one an openvpn started as root from a validated spec, with
 * its files in a root-only directory and its management socket in a directory only the
 * caller can enter. A session belongs to the uid that started it; nobody else can see,
 * watch or stop it. When openvpn exits, for whatever reason, its DNS is restored and its
 * directories removed; at start-up, whatever a crashed helper left running is stopped.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildClientConfig, type EngineSpec } from '../../core/engine/config.js';
import type { HelperEvent, HelperFiles, HelperSession, HelperSpecSchema } from '../../core/engine/helper-protocol.js';
import { onOutputLines, spawnOpenvpn } from '../../core/engine/launcher.js';
import { writeFileAtomic } from '../../core/util/atomic-file.js';
import type { z } from 'zod';
import { parsePushedDns, type DnsBackend } from './dns.js';

export interface Caller {
  uid: number;
  gid: number;
}

export const LIMITS = { perUser: 4, total: 32 };
const STOP_GRACE_MS = 5_000;
const SOCKET_WAIT_MS = 10_000;
const OUTPUT_TAIL = 30;

/** openvpn's --up hook: hands the pushed DNS to the helper and waits until it is applied. */
const DNS_HOOK = `#!/bin/sh
# Written by ferry-helper for one session; openvpn runs it as its --up hook (as root).
# It records the pushed DNS options for the helper and, when there are any, waits (3 s
# at most) until the helper has applied them, so CONNECTED means names resolve too.
dir=\${0%/*}
rm -f "$dir/dns.ack"
{ echo "dev=$dev"; env | grep '^foreign_option_'; } > "$dir/dns.env.tmp" && mv -f "$dir/dns.env.tmp" "$dir/dns.env"
env | grep -q '^foreign_option_[0-9]*=dhcp-option DNS' || exit 0
i=0
while [ ! -e "$dir/dns.ack" ] && [ "$i" -lt 300 ]; do sleep 0.01; i=$((i + 1)); done
exit 0
`;

const FILE_NAMES: Record<keyof HelperFiles, string> = {
  ca: 'ca.crt',
  cert: 'client.crt',
  key: 'client.key',
  tlsAuth: 'tls-auth.key',
  tlsCrypt: 'tls-crypt.key',
  tlsCryptV2: 'tls-crypt-v2.key',
};

interface LiveSession {
  id: string;
  label: string;
  uid: number;
  gid: number;
  pid: number;
  startedAt: string;
  dir: string;
  mgmtDir: string;
  managementSocket: string;
  child: ChildProcess;
  tail: string[];
  watchers: Set<(event: HelperEvent) => void>;
  exited: Promise<void>;
  dnsDev?: string;
  fsWatcher?: FSWatcher;
}

/** What is kept on disk so that a restarted helper can find what a crashed one left. */
interface OnDisk {
  id: string;
  pid: number;
  dnsDev?: string;
}

export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  /** DNS changes one at a time: the resolv.conf backend rewrites a shared file. */
  private dnsQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly opts: {
      /** Root-owned directory next to the helper's socket. */
      base: string;
      dns: DnsBackend;
      log: (message: string) => void;
      env?: NodeJS.ProcessEnv;
    },
  ) {}

  private get sessionsDir() {
    return path.join(this.opts.base, 'sessions');
  }

  private get mgmtRoot() {
    return path.join(this.opts.base, 'mgmt');
  }

  /** Creates the directories and stops whatever a previous helper left running. */
  async init(): Promise<void> {
    await mkdir(this.sessionsDir, { recursive: true, mode: 0o700 });
    await chmod(this.sessionsDir, 0o700);
    await mkdir(this.mgmtRoot, { recursive: true, mode: 0o755 });
    await chmod(this.mgmtRoot, 0o755);
    await this.stopOrphans();
  }

  /** Starts openvpn; `listener` hears its output and exit from the very start. */
  async start(
    caller: Caller,
    label: string,
    spec: z.output<typeof HelperSpecSchema>,
    files: HelperFiles,
    listener: (event: HelperEvent) => void,
  ): Promise<{ session: HelperSession; unsubscribe: () => void }> {
    const own = [...this.sessions.values()].filter((s) => s.uid === caller.uid);
    const same = own.find((s) => s.label === label);
    if (same) throw new Error(`a session for "${label}" is already running (${same.id}); watch it instead of starting another`);
    if (own.length >= LIMITS.perUser) throw new Error(`at most ${LIMITS.perUser} sessions per user`);
    if (this.sessions.size >= LIMITS.total) throw new Error('too many sessions on this machine');

    const id = randomBytes(8).toString('hex');
    const dir = path.join(this.sessionsDir, id);
    const mgmtDir = path.join(this.mgmtRoot, id);
    const managementSocket = path.join(mgmtDir, 'management.sock');
    await mkdir(dir, { mode: 0o700 });
    await mkdir(mgmtDir, { mode: 0o700 });
    try {
      const paths: Partial<Record<keyof HelperFiles, string>> = {};
      for (const [key, content] of Object.entries(files) as Array<[keyof HelperFiles, string | undefined]>) {
        if (content === undefined) continue;
        paths[key] = path.join(dir, FILE_NAMES[key]);
        await writeFile(paths[key], content, { mode: 0o600 });
      }
      const hook = path.join(dir, 'dns-up.sh');
      await writeFile(hook, DNS_HOOK, { mode: 0o700 });
      const engineSpec: EngineSpec = { ...spec, files: { ...paths, ca: paths.ca! }, managementSocket };
      const config = path.join(dir, 'openvpn.conf');
      // The same builder the core uses, re-validating the spec; plus only the helper's hook.
      await writeFile(config, buildClientConfig(engineSpec, { upHook: `/bin/sh ${hook}` }), { mode: 0o600 });

      const child = await spawnOpenvpn(config, dir, this.opts.env);
      const record: LiveSession = {
        id,
        label,
        uid: caller.uid,
        gid: caller.gid,
        pid: child.pid!,
        startedAt: new Date().toISOString(),
        dir,
        mgmtDir,
        managementSocket,
        child,
        tail: [],
        watchers: new Set([listener]),
        exited: new Promise((resolve) => child.once('exit', (code, signal) => void this.onExit(record, code, signal).finally(resolve))),
      };
      this.sessions.set(id, record);
      this.collectOutput(record);
      await this.saveOnDisk(record);
      record.fsWatcher = watch(dir, (_event, name) => {
        if (name === 'dns.env') this.enqueueDns(() => this.applyDns(record));
      });
      await this.handOverSocket(record);
      this.opts.log(`uid ${caller.uid} started session ${id} (${label}, openvpn pid ${record.pid})`);
      return { session: this.describe(record), unsubscribe: () => record.watchers.delete(listener) };
    } catch (err) {
      const running = this.sessions.get(id);
      if (running) {
        running.child.kill('SIGKILL');
        await running.exited;
      } else {
        await rm(dir, { recursive: true, force: true });
        await rm(mgmtDir, { recursive: true, force: true });
      }
      throw err;
    }
  }

  list(caller: Caller): HelperSession[] {
    return [...this.sessions.values()].filter((s) => s.uid === caller.uid).map((s) => this.describe(s));
  }

  /** Streams the session's output and exit to `listener`; returns the unsubscribe. */
  watch(caller: Caller, id: string, listener: (event: HelperEvent) => void): { session: HelperSession; unsubscribe: () => void } {
    const s = this.own(caller, id);
    s.watchers.add(listener);
    return { session: this.describe(s), unsubscribe: () => s.watchers.delete(listener) };
  }

  stop(caller: Caller, id: string, signal: 'SIGTERM' | 'SIGKILL'): void {
    this.own(caller, id).child.kill(signal);
  }

  /** Stops every session (helper shutdown): nothing may outlive the helper. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.terminate(s)));
    await this.dnsQueue;
  }

  // ---- internals ---------------------------------------------------------------------

  private own(caller: Caller, id: string): LiveSession {
    const s = this.sessions.get(id);
    // Someone else's session looks exactly like a missing one.
    if (!s || s.uid !== caller.uid) throw new Error(`no session ${id}`);
    return s;
  }

  private describe(s: LiveSession): HelperSession {
    return { id: s.id, label: s.label, pid: s.pid, managementSocket: s.managementSocket, startedAt: s.startedAt };
  }

  private collectOutput(s: LiveSession): void {
    onOutputLines(s.child, (line) => {
      s.tail = [...s.tail.slice(-(OUTPUT_TAIL - 1)), line];
      for (const w of s.watchers) w({ event: 'output', line });
    });
  }

  /**
   * openvpn (root) creates the socket with root's umask; it becomes the caller's, mode
   * 0600, while its directory is still root-only (so no path can be swapped under us),
   * and only then is the directory handed to the caller.
   */
  private async handOverSocket(s: LiveSession): Promise<void> {
    const until = Date.now() + SOCKET_WAIT_MS;
    for (;;) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        throw new Error(`openvpn stopped before it was ready: ${s.tail.slice(-3).join(' | ') || 'no output'}`);
      }
      const st = await lstat(s.managementSocket).catch(() => undefined);
      if (st?.isSocket()) break;
      if (Date.now() > until) throw new Error('openvpn did not open its management socket in time');
      await sleep(2);
    }
    await chown(s.managementSocket, s.uid, s.gid);
    await chmod(s.managementSocket, 0o600);
    await chown(s.mgmtDir, s.uid, s.gid);
  }

  private enqueueDns(work: () => Promise<void>): void {
    this.dnsQueue = this.dnsQueue.then(work).catch((err: Error) => this.opts.log(`DNS: ${err.message}`));
  }

  private async applyDns(s: LiveSession): Promise<void> {
    const file = path.join(s.dir, 'dns.env');
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined || !this.sessions.has(s.id)) return;
    await rm(file, { force: true });
    const vars = new Map(text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    const dev = vars.get('dev') ?? '';
    const options = [...vars.entries()]
      .filter(([k]) => /^foreign_option_\d+$/.test(k))
      .sort(([a], [b]) => Number(a.slice(15)) - Number(b.slice(15)))
      .map(([, v]) => v);
    const dns = parsePushedDns(options);
    try {
      if (dns.servers.length > 0 && /^[A-Za-z0-9_.-]{1,15}$/.test(dev)) {
        await this.opts.dns.apply(s.id, dev, dns);
        s.dnsDev = dev;
        await this.saveOnDisk(s);
        this.opts.log(`session ${s.id}: DNS ${dns.servers.join(' ')}${dns.domains.length ? ` (search ${dns.domains.join(' ')})` : ''} on ${dev} via ${this.opts.dns.name}`);
      }
    } finally {
      await writeFile(path.join(s.dir, 'dns.ack'), '').catch(() => {});
    }
  }

  private async onExit(s: LiveSession, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    s.fsWatcher?.close();
    this.sessions.delete(s.id);
    const dev = s.dnsDev;
    if (dev) {
      this.enqueueDns(() => this.opts.dns.restore(s.id, dev));
      await this.dnsQueue;
    }
    await rm(s.dir, { recursive: true, force: true });
    await rm(s.mgmtDir, { recursive: true, force: true });
    this.opts.log(`session ${s.id} ended (${signal ? `killed by ${signal}` : `exit code ${code}`})`);
    for (const w of s.watchers) w({ event: 'exit', code, signal });
    s.watchers.clear();
  }

  private async terminate(s: LiveSession): Promise<void> {
    s.child.kill('SIGTERM');
    const done = await Promise.race([s.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
    if (!done) {
      s.child.kill('SIGKILL');
      await s.exited;
    }
  }

  private async saveOnDisk(s: LiveSession): Promise<void> {
    const onDisk: OnDisk = { id: s.id, pid: s.pid, ...(s.dnsDev ? { dnsDev: s.dnsDev } : {}) };
    await writeFileAtomic(path.join(s.dir, 'session.json'), JSON.stringify(onDisk));
  }

  /** openvpns a crashed helper left behind: stopped, their DNS restored, their files removed. */
  private async stopOrphans(): Promise<void> {
    for (const id of await readdir(this.sessionsDir).catch(() => [] as string[])) {
      const dir = path.join(this.sessionsDir, id);
      const record = await readFile(path.join(dir, 'session.json'), 'utf8')
        .then((t) => JSON.parse(t) as Partial<OnDisk>)
        .catch(() => undefined);
      const pid = typeof record?.pid === 'number' ? record.pid : undefined;
      const config = path.join(dir, 'openvpn.conf');
      if (pid !== undefined && (await isOurOpenvpn(pid, config))) {
        this.opts.log(`stopping openvpn ${pid} left by a previous helper (session ${id})`);
        await stopPid(pid, config);
      }
      if (typeof record?.dnsDev === 'string') await this.opts.dns.restore(id, record.dnsDev).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      await rm(path.join(this.mgmtRoot, id), { recursive: true, force: true });
    }
    for (const id of await readdir(this.mgmtRoot).catch(() => [] as string[])) await rm(path.join(this.mgmtRoot, id), { recursive: true, force: true });
    await this.opts.dns.recover();
  }
}

/** Only a process still running our config is ours: a pid alone may have been reused. */
async function isOurOpenvpn(pid: number, config: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(config);
}

/** SIGTERM (openvpn then removes its tun and routes), SIGKILL after the grace period. */
async function stopPid(pid: number, config: string): Promise<void> {
  // A zombie's cmdline is empty, so "still ours" is also "still alive".
  const alive = () => isOurOpenvpn(pid, config);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < STOP_GRACE_MS / 50 && (await alive()); i++) await sleep(50);
  if (await alive()) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await alive()); i++) await sleep(20);
}
