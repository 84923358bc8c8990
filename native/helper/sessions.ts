/**
 * The helper's sessions: each one an openvpn started as root from a validated spec, with
 * its files in root-only directories (session-dirs.ts) and only its management socket
 * handed to the caller. A session belongs to the uid that started it; nobody else can
 * see, watch or stop it.
 *
 * Each session has an explicit lifecycle: STARTING → RUNNING → ENDING → (gone). Its slot
 * (per user, machine-wide, and its label) is taken synchronously, before the first await,
 * so parallel starts cannot overrun a limit. Clean-up runs exactly once, only after the
 * start has settled (never interleaved with it), and never throws: every step is caught
 * and logged, so nothing a user's session does can stop the helper. At start-up, whatever
 * a crashed helper left is stopped and undone, each step on its own.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import { chmod, lchown, lstat, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { buildClientConfig, type EngineSpec } from '../../core/engine/config.js';
import type { HelperEvent, HelperFiles, HelperSession, HelperSpecSchema } from '../../core/engine/helper-protocol.js';
import { findOpenvpn } from '../../core/engine/openvpn-binary.js';
import { onOutputLines, spawnOpenvpn } from '../../core/engine/openvpn-process.js';
import { writeFileAtomic } from '../../core/util/atomic-file.js';
import { stopPid, stopProcess } from '../../core/util/stop-process.js';
import { binaryRefusal, darwinDeviceRefusal } from './darwin.js';
import { parsePushedDns, runCommandOutput, type DnsBackend } from './dns.js';
import { MANAGEMENT_SOCKET_NAME, removeAsOwner, removeKnown, SESSION_FILE_NAMES } from './session-dirs.js';

export interface Caller {
  uid: number;
  gid: number;
  /** Whose quota the caller spends (see accounts.ts): the login behind the uid, when known. */
  account: string;
}

/** Sessions at once, per user and machine-wide (`ferry-helper --max-sessions` changes the latter). */
export const LIMITS = { perUser: 4, total: 32 };
const STOP_GRACE_MS = 5_000;
/** How long a `stop` asking for SIGKILL lets openvpn clean up its routes first. */
const KILL_GRACE_MS = 1_000;
const SOCKET_WAIT_MS = 10_000;
const OUTPUT_TAIL = 30;

/** openvpn's --up hook: hands the pushed DNS to the helper and waits until it is applied. */
const DNS_HOOK = `#!/bin/sh
# Written by ferry-helper for one session; openvpn runs it as its --up hook (as root),
# at the start and after every restart (up-restart). It records the pushed DNS options
# for the helper and, when there are any, waits (3 s at most) until the helper has
# applied them, so CONNECTED means names resolve too.
dir=\${0%/*}
rm -f "$dir/dns.ack"
{ echo "dev=$dev"; env | grep '^foreign_option_'; } > "$dir/dns.env.tmp" && mv -f "$dir/dns.env.tmp" "$dir/dns.env"
env | grep -q '^foreign_option_[0-9]*=dhcp-option DNS' || exit 0
i=0
while [ ! -e "$dir/dns.ack" ] && [ "$i" -lt 300 ]; do sleep 0.01; i=$((i + 1)); done
exit 0
`;

/**
 * openvpn's log lines that mean the tunnel is down until the next --up: a restart (link
 * lost, ping timeout, a soft restart asked for) or a hold. The VPN's DNS servers are
 * unreachable then, so they are withdrawn until the hook runs again.
 */
const TUNNEL_DOWN = /(?:SIGUSR1|SIGHUP)\[[^\]]*\] received, process restarting|Restart pause|Need hold release/;

const FILE_NAMES: Record<keyof HelperFiles, (typeof SESSION_FILE_NAMES)[number]> = {
  ca: 'ca.crt',
  cert: 'client.crt',
  key: 'client.key',
  tlsAuth: 'tls-auth.key',
  tlsCrypt: 'tls-crypt.key',
  tlsCryptV2: 'tls-crypt-v2.key',
};

type Phase = 'starting' | 'running' | 'ending';

interface SessionRecord {
  readonly id: string;
  readonly label: string;
  readonly uid: number;
  readonly gid: number;
  readonly account: string;
  readonly dir: string;
  readonly mgmtDir: string;
  readonly managementSocket: string;
  readonly startedAt: string;
  phase: Phase;
  child?: ChildProcess;
  fsWatcher?: FSWatcher;
  tail: string[];
  readonly watchers: Set<(event: HelperEvent) => void>;
  /** The device whose DNS the helper applied, while it is applied. */
  dnsDev?: string;
  /** Settles when the start has finished, either way: clean-up waits for it. */
  started: Promise<void>;
  /** Resolves once the session is gone: openvpn exited and everything was undone. */
  ended: Promise<void>;
}

/** What is kept on disk so that a restarted helper can find what a crashed one left. */
interface OnDisk {
  id: string;
  pid: number;
  dnsDev?: string;
}

export class SessionManager {
  private readonly sessions = new Map<string, SessionRecord>();
  /** Set by shutdown(): no new session may start while the others are being stopped. */
  private closing = false;
  /** DNS changes one at a time: the resolv.conf backend rewrites a shared file. */
  private dnsQueue: Promise<void> = Promise.resolve();

  constructor(
    private readonly opts: {
      /** Root-owned directory next to the helper's socket. */
      base: string;
      dns: DnsBackend;
      log: (message: string) => void;
      env?: NodeJS.ProcessEnv;
      /** Which operating system's rules apply (tests inject it). */
      platform?: NodeJS.Platform;
      limits?: { perUser: number; total: number };
    },
  ) {}

  private get limits() {
    return this.opts.limits ?? LIMITS;
  }

  private get sessionsDir() {
    return path.join(this.opts.base, 'sessions');
  }

  private get mgmtRoot() {
    return path.join(this.opts.base, 'mgmt');
  }

  /** Creates the directories and undoes whatever a previous helper left. */
  async init(): Promise<void> {
    await mkdir(this.sessionsDir, { recursive: true, mode: 0o700 });
    await chmod(this.sessionsDir, 0o700);
    await mkdir(this.mgmtRoot, { recursive: true, mode: 0o711 });
    await chmod(this.mgmtRoot, 0o711);
    await this.recoverLeftovers();
  }

  /** Starts openvpn; `listener` hears its output and exit from the very start. */
  async start(
    caller: Caller,
    label: string,
    spec: z.output<typeof HelperSpecSchema>,
    files: HelperFiles,
    listener: (event: HelperEvent) => void,
  ): Promise<{ session: HelperSession; unsubscribe: () => void }> {
    const { record, settle } = this.reserve(caller, label, listener);
    try {
      await this.launch(record, spec, files);
    } catch (err) {
      settle();
      await this.abort(record, listener);
      throw err;
    }
    record.phase = 'running';
    settle();
    this.opts.log(`uid ${caller.uid} started session ${record.id} (${label}, openvpn pid ${record.child!.pid})`);
    return { session: this.describe(record), unsubscribe: () => record.watchers.delete(listener) };
  }

  list(caller: Caller): HelperSession[] {
    return [...this.sessions.values()].filter((s) => s.uid === caller.uid && s.phase === 'running').map((s) => this.describe(s));
  }

  /** Streams the session's output and exit to `listener`; returns the unsubscribe. */
  watch(caller: Caller, id: string, listener: (event: HelperEvent) => void): { session: HelperSession; unsubscribe: () => void } {
    const s = this.own(caller, id);
    s.watchers.add(listener);
    return { session: this.describe(s), unsubscribe: () => s.watchers.delete(listener) };
  }

  /**
   * Always SIGTERM first, even when SIGKILL is asked for: openvpn then removes its routes
   * (a killed one leaves its route to the gateway behind, for every user). SIGKILL follows
   * if it is still running after a short grace, or the usual one for SIGTERM.
   */
  stop(caller: Caller, id: string, signal: 'SIGTERM' | 'SIGKILL'): void {
    void this.terminate(this.own(caller, id), signal === 'SIGKILL' ? KILL_GRACE_MS : STOP_GRACE_MS);
  }

  /** Stops every session (helper shutdown): nothing may outlive the helper. */
  async shutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.sessions.values()].map((s) => this.terminate(s)));
    await this.dnsQueue;
  }

  // ---- lifecycle ---------------------------------------------------------------------

  /** Takes the session's slot synchronously: every limit is checked and claimed in one step. */
  private reserve(caller: Caller, label: string, listener: (event: HelperEvent) => void): { record: SessionRecord; settle: () => void } {
    if (this.closing) throw new Error('ferry-helper is shutting down');
    const own = [...this.sessions.values()].filter((s) => s.uid === caller.uid);
    const same = own.find((s) => s.label === label);
    const spent = [...this.sessions.values()].filter((s) => s.account === caller.account).length;
    if (same) {
      throw new Error(
        same.phase === 'ending'
          ? `the session for "${label}" is still stopping; try again in a moment`
          : `a session for "${label}" is already running (${same.id}); watch it instead of starting another`,
      );
    }
    const { perUser, total } = this.limits;
    if (spent >= perUser) throw new Error(`at most ${perUser} sessions per user: disconnect one first`);
    if (this.sessions.size >= total) throw new Error(`this machine already runs ${total} VPN sessions, the most ferry-helper allows`);
    const id = randomBytes(8).toString('hex');
    let settle!: () => void;
    const mgmtDir = path.join(this.mgmtRoot, id);
    const record: SessionRecord = {
      id,
      label,
      uid: caller.uid,
      gid: caller.gid,
      account: caller.account,
      dir: path.join(this.sessionsDir, id),
      mgmtDir,
      managementSocket: path.join(mgmtDir, MANAGEMENT_SOCKET_NAME),
      startedAt: new Date().toISOString(),
      phase: 'starting',
      tail: [],
      watchers: new Set([listener]),
      started: new Promise((resolve) => (settle = resolve)),
      ended: Promise.resolve(),
    };
    this.sessions.set(id, record);
    return { record, settle };
  }

  /** A start that failed: openvpn (if it runs) is killed and the session undone before the caller hears why. */
  private async abort(s: SessionRecord, listener: (event: HelperEvent) => void): Promise<void> {
    s.phase = 'ending';
    s.watchers.delete(listener); // the caller hears the refusal, not an exit event
    if (s.child) {
      s.child.kill('SIGKILL');
      await s.ended;
    } else {
      await this.cleanUp(s, null, null);
    }
  }

  private async launch(s: SessionRecord, spec: z.output<typeof HelperSpecSchema>, files: HelperFiles): Promise<void> {
    await mkdir(s.dir, { mode: 0o700 });
    await mkdir(s.mgmtDir, { mode: 0o700 });
    const paths: Partial<Record<keyof HelperFiles, string>> = {};
    for (const [key, content] of Object.entries(files) as Array<[keyof HelperFiles, string | undefined]>) {
      if (content === undefined) continue;
      paths[key] = path.join(s.dir, FILE_NAMES[key]);
      await writeFile(paths[key], content, { mode: 0o600, flag: 'wx' });
    }
    if ((this.opts.platform ?? process.platform) === 'darwin') {
      const refusal = darwinDeviceRefusal(spec.engine.dev ?? 'tun') ?? binaryRefusal(findOpenvpn(this.opts.env), { lstat: (f) => lstatSync(f, { throwIfNoEntry: false }), readlink: (f) => readlinkSync(f) });
      if (refusal) throw new Error(refusal);
    }
    const hook = path.join(s.dir, 'dns-up.sh');
    await writeFile(hook, DNS_HOOK, { mode: 0o700, flag: 'wx' });
    const engineSpec: EngineSpec = { ...spec, files: { ...paths, ca: paths.ca! }, managementSocket: s.managementSocket };
    const config = path.join(s.dir, 'openvpn.conf');
    // The same builder the core uses, re-validating the spec; plus only the helper's hook.
    await writeFile(config, buildClientConfig(engineSpec, { upHook: `/bin/sh ${hook}` }), { mode: 0o600, flag: 'wx' });
    // Watching before openvpn starts: no hand-off can be missed, and the watcher exists
    // before any exit, so clean-up always finds it to close.
    s.fsWatcher = watch(s.dir, (_event, name) => {
      if (name === 'dns.env') this.enqueueDns(`session ${s.id}`, () => this.applyDns(s));
    });
    s.fsWatcher.on('error', (err) => this.opts.log(`session ${s.id}: watching its directory failed: ${err.message}`));

    const child = await spawnOpenvpn(config, s.dir, this.opts.env);
    s.child = child;
    s.ended = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        // Clean-up waits until the start has settled, so the two never interleave.
        void s.started.then(() => this.cleanUp(s, code, signal)).then(resolve);
      });
    });
    onOutputLines(child, (line) => this.onOutput(s, line));
    await this.saveOnDisk(s);
    await this.handOverSocket(s);
  }

  /**
   * Undoes everything a session did; runs once per session, after its start settled.
   * Never rejects: each step is caught and logged on its own.
   */
  private async cleanUp(s: SessionRecord, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    s.phase = 'ending';
    s.fsWatcher?.close();
    await this.withdrawDns(s);
    await this.step(`session ${s.id}: removing its files`, async () => {
      for (const [dir, names] of [
        [s.dir, SESSION_FILE_NAMES],
        [s.mgmtDir, [MANAGEMENT_SOCKET_NAME]],
      ] as const) {
        const left = await removeKnown(dir, names);
        if (left.length) this.opts.log(`session ${s.id}: left ${dir} in place, it holds unexpected entries (${left.slice(0, 5).join(', ')})`);
      }
    });
    this.sessions.delete(s.id);
    if (s.child) this.opts.log(`session ${s.id} ended (${signal ? `killed by ${signal}` : `exit code ${code}`})`);
    if (s.child) this.emit(s, { event: 'exit', code, signal });
    s.watchers.clear();
  }

  private async terminate(s: SessionRecord, graceMs = STOP_GRACE_MS): Promise<void> {
    await s.started;
    if (s.child) await stopProcess(s.child, graceMs);
    await s.ended;
  }

  // ---- output, socket, DNS -----------------------------------------------------------

  private onOutput(s: SessionRecord, line: string): void {
    s.tail.push(line);
    if (s.tail.length > OUTPUT_TAIL) s.tail.shift();
    if (s.dnsDev && TUNNEL_DOWN.test(line)) void this.withdrawDns(s);
    this.emit(s, { event: 'output', line });
  }

  private emit(s: SessionRecord, event: HelperEvent): void {
    for (const w of [...s.watchers]) {
      try {
        w(event);
      } catch (err) {
        s.watchers.delete(w);
        this.opts.log(`session ${s.id}: dropped a watcher: ${(err as Error).message}`);
      }
    }
  }

  /**
   * openvpn (root) creates the socket with root's umask; it becomes the caller's, mode
   * 0600, and only then may others search the root-owned directory (0711) to reach it.
   * The directory never becomes the caller's: they get the socket and nothing else.
   */
  private async handOverSocket(s: SessionRecord): Promise<void> {
    const until = Date.now() + SOCKET_WAIT_MS;
    for (;;) {
      const child = s.child!;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`openvpn stopped before it was ready: ${s.tail.slice(-3).join(' | ') || 'no output'}`);
      }
      const st = await lstat(s.managementSocket).catch(() => undefined);
      if (st?.isSocket()) break;
      if (Date.now() > until) throw new Error('openvpn did not open its management socket in time');
      await sleep(2);
    }
    await lchown(s.managementSocket, s.uid, s.gid);
    await chmod(s.managementSocket, 0o600);
    await chmod(s.mgmtDir, 0o711);
  }

  private enqueueDns(what: string, work: () => Promise<void>): Promise<void> {
    this.dnsQueue = this.dnsQueue.then(work).catch((err: Error) => this.opts.log(`${what}: DNS: ${err.message}`));
    return this.dnsQueue;
  }

  private async applyDns(s: SessionRecord): Promise<void> {
    const file = path.join(s.dir, 'dns.env');
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined || !isLive(s)) return;
    try {
      await unlink(file).catch(() => {});
      const vars = new Map(text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
      const dev = vars.get('dev') ?? '';
      const options = [...vars.entries()]
        .filter(([k]) => /^foreign_option_\d+$/.test(k))
        .sort(([a], [b]) => Number(a.slice(15)) - Number(b.slice(15)))
        .map(([, v]) => v);
      const dns = parsePushedDns(options);
      if (dns.servers.length > 0 && /^[A-Za-z0-9_.-]{1,15}$/.test(dev)) {
        await this.opts.dns.apply(s.id, dev, dns);
        s.dnsDev = dev;
        await this.saveOnDisk(s);
        this.opts.log(`session ${s.id}: DNS ${dns.servers.join(' ')}${dns.domains.length ? ` (search ${dns.domains.join(' ')})` : ''} on ${dev} via ${this.opts.dns.name}`);
      }
    } finally {
      if (isLive(s)) await writeFile(path.join(s.dir, 'dns.ack'), '').catch(() => {});
    }
  }

  /** Puts the resolver back as it was before this session (tunnel down, or session ending). */
  private withdrawDns(s: SessionRecord): Promise<void> {
    return this.enqueueDns(`session ${s.id}`, async () => {
      const dev = s.dnsDev;
      if (!dev) return;
      s.dnsDev = undefined;
      await this.opts.dns.restore(s.id, dev);
      if (isLive(s)) await this.saveOnDisk(s);
      this.opts.log(`session ${s.id}: DNS withdrawn from ${dev}`);
    });
  }

  // ---- bookkeeping -------------------------------------------------------------------

  private own(caller: Caller, id: string): SessionRecord {
    const s = this.sessions.get(id);
    // Someone else's session looks exactly like a missing one; so does one not yet started.
    if (!s || s.uid !== caller.uid || s.phase !== 'running') throw new Error(`no session ${id}`);
    return s;
  }

  private describe(s: SessionRecord): HelperSession {
    return { id: s.id, label: s.label, pid: s.child!.pid!, managementSocket: s.managementSocket, startedAt: s.startedAt };
  }

  private async saveOnDisk(s: SessionRecord): Promise<void> {
    const onDisk: OnDisk = { id: s.id, pid: s.child!.pid!, ...(s.dnsDev ? { dnsDev: s.dnsDev } : {}) };
    await writeFileAtomic(path.join(s.dir, 'session.json'), JSON.stringify(onDisk));
  }

  /** Runs one clean-up step; a failure is logged and the next step still runs. */
  private async step(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.opts.log(`${what} failed: ${(err as Error).message}`);
    }
  }

  /**
   * What a crashed helper left: each openvpn stopped, its DNS restored, its files
   * removed, each step on its own so that one failure cannot keep DNS from coming back.
   */
  private async recoverLeftovers(): Promise<void> {
    const ids = await readdir(this.sessionsDir).catch(() => [] as string[]);
    for (const id of ids) {
      const dir = path.join(this.sessionsDir, id);
      const record = await readFile(path.join(dir, 'session.json'), 'utf8')
        .then((t) => JSON.parse(t) as Partial<OnDisk>)
        .catch(() => undefined);
      const pid = typeof record?.pid === 'number' ? record.pid : undefined;
      const config = path.join(dir, 'openvpn.conf');
      await this.step(`leftover session ${id}: stopping its openvpn`, async () => {
        const platform = this.opts.platform ?? process.platform;
        if (pid !== undefined && (await isOurOpenvpn(pid, config, platform))) {
          this.opts.log(`stopping openvpn ${pid} left by a previous helper (session ${id})`);
          // A zombie's cmdline is empty, so "still ours" is also "still alive".
          await stopPid(pid, STOP_GRACE_MS, { isAlive: () => isOurOpenvpn(pid, config, platform), killWaitMs: 2_000 });
        }
      });
      if (typeof record?.dnsDev === 'string') {
        const dev = record.dnsDev;
        await this.step(`leftover session ${id}: restoring DNS`, () => this.opts.dns.restore(id, dev));
      }
      await this.step(`leftover session ${id}: removing its files`, async () => {
        const left = await removeKnown(dir, SESSION_FILE_NAMES);
        if (left.length) this.opts.log(`leftover session ${id}: ${dir} holds unexpected entries; left in place`);
      });
    }
    for (const id of await readdir(this.mgmtRoot).catch(() => [] as string[])) {
      const dir = path.join(this.mgmtRoot, id);
      await this.step(`leftover management directory ${id}: removing it`, async () => {
        const st = await lstat(dir);
        // A directory an older helper handed to its user: emptied with that user's rights.
        const gone = st.isDirectory() && st.uid !== 0 ? await removeAsOwner(dir) : (await removeKnown(dir, [MANAGEMENT_SOCKET_NAME])).length === 0;
        if (!gone) this.opts.log(`leftover management directory ${dir} could not be removed; left in place`);
      });
    }
    await this.step('restoring DNS left by a previous helper', () => this.opts.dns.recover());
  }
}

/** Not yet being undone (the phase changes across awaits, hence a function, not a narrowed field). */
function isLive(s: SessionRecord): boolean {
  return s.phase !== 'ending';
}

/**
 * Only a process still running our config is ours: a pid alone may have been reused.
 * Linux: its argv from /proc. macOS has no /proc; `ps -o command=` prints the argv
 * joined by spaces (the config path has none: prepareBaseDir refuses them); a zombie's
 * argv is not shown, so "still ours" is also "still alive" there too.
 */
export async function isOurOpenvpn(
  pid: number,
  config: string,
  platform: NodeJS.Platform = process.platform,
  run: (command: string, args: string[]) => Promise<string> = runCommandOutput,
): Promise<boolean> {
  if (platform === 'darwin') {
    const command = await run('/bin/ps', ['-ww', '-o', 'command=', '-p', String(pid)]).catch(() => '');
    return command.trim().split(/\s+/).includes(config);
  }
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').includes(config);
}
