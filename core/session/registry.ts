/**
 * The one owner of tunnel state for a user: every tunnel of theirs, keyed by profile id
 * (so a rename changes nothing here), whoever runs it —
 *
 *   here           a Session this process runs (adopted by FerryClient.connect)
 *   other-process  a session another Ferry process runs (`ferry connect`, a second app),
 *                  followed through its status socket's `watch` stream
 *   helper         an openvpn ferry-helper keeps with no Ferry process attached
 *   ended          the outcome of a session this process ran (its failure stays on
 *                  screen until dismissed, its log until the profile goes)
 *
 * Every change is one `{id, before, after}` event; window, tray, notifications, the
 * renderer and `ferry status` read from here and keep no state of their own. `rev` is a
 * counter over all changes, so a reader that mixes a listing with events can tell which
 * is newer without comparing clocks.
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import type { LogEntry, Session } from './session.js';
import type { SessionSnapshot, SessionState } from './snapshot.js';
import { publishedIds } from './status-paths.js';
import type { SessionWatchHandle } from './status-socket.js';
import type { Tunnel } from './tunnel.js';
import { FerryError } from '../util/errors.js';

export type { Tunnel, TunnelOwner } from './tunnel.js';

/**
 * The status socket's client side (and its reply schemas, zod), loaded when there is a
 * socket to talk to: with no session running, `ferry status` needs none of it.
 */
const statusSocket = () => import('./status-socket.js');

export interface TunnelChange {
  id: string;
  before: Tunnel | undefined;
  after: Tunnel | undefined;
}

export interface SessionRegistryDeps {
  runtimeDir(): Promise<string>;
  /** Profile ids whose openvpn the launcher keeps (only ferry-helper outlives a Ferry process). */
  keptRunning(): Promise<string[]>;
}

const ACTIVE: ReadonlySet<SessionState> = new Set(['CONNECTING', 'AUTH', 'CONNECTED', 'RECONNECTING']);
/** How long a scan waits for a new watch stream's first snapshot before moving on. */
const FIRST_SNAPSHOT_MS = 3_000;

/** A tunnel that runs (or is on its way): what blocks removing its profile, what Disconnect is for. */
export function isRunning(tunnel: Tunnel | undefined): boolean {
  if (!tunnel) return false;
  if (tunnel.owner === 'helper') return true;
  return tunnel.owner !== 'ended' && tunnel.snapshot !== undefined && ACTIVE.has(tunnel.snapshot.state);
}

interface LocalSession {
  session: Session;
  /** Resolves once the session ended and its status socket is closed. */
  ended: Promise<SessionSnapshot>;
}

export class SessionRegistry extends EventEmitter<{ change: [TunnelChange] }> {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly local = new Map<string, LocalSession>();
  /** Ids this process is opening a session for: their sockets are not someone else's. */
  private readonly opening = new Map<string, Promise<void>>();
  /** Local sessions' logs (bounded by the session), kept after they end. */
  private readonly logs = new Map<string, readonly LogEntry[]>();
  private readonly watches = new Map<string, SessionWatchHandle>();
  private counter = 0;
  private dirWatcher: FSWatcher | undefined;
  private following = false;
  private scan: Promise<void> | undefined;
  private rescan = false;

  constructor(private readonly deps: SessionRegistryDeps) {
    super();
  }

  /** The change counter now: every entry's rev is at most this. */
  get revision(): number {
    return this.counter;
  }

  get(id: string): Tunnel | undefined {
    return this.tunnels.get(id);
  }

  list(): Tunnel[] {
    return [...this.tunnels.values()];
  }

  /** The Session this process runs for the profile, if any. */
  session(id: string): Session | undefined {
    return this.local.get(id)?.session;
  }

  /** When the Session this process runs for the profile ends (its socket closed too). */
  ended(id: string): Promise<SessionSnapshot> | undefined {
    return this.local.get(id)?.ended;
  }

  localSessions(): Session[] {
    return [...this.local.values()].map((l) => l.session);
  }

  log(id: string): readonly LogEntry[] {
    return this.logs.get(id) ?? [];
  }

  /** Whether this process is opening or running a session for the profile. */
  isLocal(id: string): boolean {
    return this.local.has(id) || this.opening.has(id);
  }

  /**
   * This process is about to open a session for `id`: until `release` (or adopt), a
   * status socket appearing for it is ours, and a disconnect waits for the session.
   */
  claim(id: string): () => void {
    // Callers check isLocal first and refuse in the user's words; this guards the invariant.
    if (this.isLocal(id)) throw new FerryError(`a session for ${id} is already starting in this process`);
    let release!: () => void;
    this.opening.set(id, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.opening.delete(id);
      release();
    };
  }

  /**
   * Follows a Session of this process until it ends; `close` (its status socket) is
   * called then. Adopt before `session.connect()`, so CONNECTING is seen too.
   */
  adopt(id: string, session: Session, close: () => Promise<void>): LocalSession {
    const publish = () => this.set(id, { owner: 'here', snapshot: session.snapshot() });
    let finish!: (end: SessionSnapshot) => void;
    const ended = new Promise<SessionSnapshot>((resolve) => (finish = resolve));
    let running = false;
    const onState = (snapshot: SessionSnapshot) => {
      if (ACTIVE.has(snapshot.state)) {
        running = true;
        return publish();
      }
      if (!running) return; // not started yet: nothing to show
      // DISCONNECTED or FAILED after running: this session is over.
      session.off('state', onState);
      session.off('stats', publish);
      this.local.delete(id);
      this.set(id, { owner: 'ended', snapshot });
      void close()
        .catch(() => {})
        .then(() => finish(snapshot));
    };
    session.on('state', onState);
    session.on('stats', publish);
    const entry = { session, ended };
    this.local.set(id, entry);
    this.logs.set(id, session.log);
    this.opening.delete(id);
    return entry;
  }

  /**
   * Looks at the runtime dir and the launcher once: sessions of other processes (followed
   * from now on when `follow()` was called, else read once) and helper-kept tunnels.
   */
  refresh(): Promise<void> {
    if (this.scan) {
      this.rescan = true;
      return this.scan;
    }
    this.scan = (async () => {
      do {
        this.rescan = false;
        await this.scanOnce();
      } while (this.rescan);
    })().finally(() => (this.scan = undefined));
    return this.scan;
  }

  /**
   * From now on, sessions other processes start or end are seen as they happen.
   * `keepAlive`: the directory watch alone keeps the process running (`ferry status --watch`).
   */
  async follow(opts: { keepAlive?: boolean } = {}): Promise<void> {
    if (this.following) return this.refresh();
    this.following = true;
    const dir = await this.deps.runtimeDir();
    try {
      // A socket appearing or going: look again (inotify on Linux; the scan itself is the truth).
      this.dirWatcher = watch(dir, { persistent: opts.keepAlive ?? false }, () => void this.refresh().catch(() => {}));
      this.dirWatcher.on('error', () => this.dirWatcher?.close());
    } catch {
      // No directory watching here: every listing still rescans.
    }
    await this.refresh();
  }

  /**
   * Stops the profile's tunnel, whoever runs it. A session of this process disconnects;
   * another process is asked over its socket; an outcome that is over is dismissed.
   */
  async disconnect(id: string): Promise<Tunnel | undefined> {
    const opening = this.opening.get(id);
    if (opening && !this.local.has(id)) await opening;
    const local = this.local.get(id);
    if (local) {
      await local.session.disconnect();
      return this.get(id);
    }
    if (!this.tunnels.has(id)) await this.refresh();
    const tunnel = this.tunnels.get(id);
    if (tunnel?.owner === 'other-process') {
      const { disconnectLiveSession } = await statusSocket();
      const last = await disconnectLiveSession(await this.deps.runtimeDir(), id);
      // When followed, the stream brings the end; otherwise record what the reply said.
      if (!this.watches.has(id)) this.set(id, undefined);
      return last ? { id, rev: this.counter, owner: 'other-process', pid: last.pid, snapshot: last.snapshot } : this.get(id);
    }
    if (tunnel?.owner === 'helper') {
      throw (await import('./message-error.js')).refusal('helper-kept-disconnect', {}, 1);
    }
    if (tunnel?.owner === 'ended') this.set(id, undefined); // the failure shown is dismissed
    return undefined;
  }

  /** Disconnects every session of this process. */
  async disconnectLocal(): Promise<void> {
    await Promise.all(this.localSessions().map((s) => s.disconnect().catch(() => {})));
  }

  /** Waits for this process's sessions to end and their sockets to close. */
  async settled(): Promise<void> {
    await Promise.all([...this.local.values()].map((l) => l.ended));
  }

  /** The profile is gone: its outcome and log go too. */
  forget(id: string): void {
    this.logs.delete(id);
    if (!this.local.has(id)) this.set(id, undefined);
  }

  /** Stops following; sessions of this process are untouched (disconnectLocal first). */
  close(): void {
    this.following = false;
    this.dirWatcher?.close();
    this.dirWatcher = undefined;
    for (const handle of this.watches.values()) handle.close();
    this.watches.clear();
  }

  // ---- internals --------------------------------------------------------------------

  private set(id: string, next: Omit<Tunnel, 'id' | 'rev'> | undefined): void {
    const before = this.tunnels.get(id);
    if (!before && !next) return;
    const after = next ? { id, rev: ++this.counter, ...next } : undefined;
    if (!after) this.counter++;
    if (after) this.tunnels.set(id, after);
    else this.tunnels.delete(id);
    this.emit('change', { id, before, after });
  }

  private async scanOnce(): Promise<void> {
    const dir = await this.deps.runtimeDir();
    const published = new Set((await publishedIds(dir)).filter((id) => !this.isLocal(id)));
    if (this.following) {
      await Promise.all([...published].filter((id) => !this.watches.has(id)).map((id) => this.startWatch(dir, id)));
    } else {
      await Promise.all(
        [...published].map(async (id) => {
          const { liveSession } = await statusSocket();
          const live = await liveSession(dir, id);
          if (live && live.profileId === id) this.set(id, { owner: 'other-process', pid: live.pid, snapshot: live.snapshot });
          else if (this.tunnels.get(id)?.owner === 'other-process') this.set(id, undefined);
        }),
      );
      for (const [id, t] of this.tunnels) if (t.owner === 'other-process' && !published.has(id)) this.set(id, undefined);
    }
    const kept = new Set(await this.deps.keptRunning().catch(() => [] as string[]));
    for (const id of kept) {
      const owner = this.tunnels.get(id)?.owner;
      if (!this.isLocal(id) && owner !== 'other-process' && owner !== 'helper') this.set(id, { owner: 'helper' });
    }
    for (const [id, t] of this.tunnels) if (t.owner === 'helper' && (!kept.has(id) || this.isLocal(id))) this.set(id, undefined);
  }

  /** Follows one other process's session; resolves at its first snapshot (or its end, or a short wait). */
  private async startWatch(dir: string, id: string): Promise<void> {
    const { watchSession } = await statusSocket();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FIRST_SNAPSHOT_MS);
      timer.unref();
      const handle = watchSession(
        dir,
        id,
        (live) => {
          if (live.profileId === id && !this.isLocal(id)) this.set(id, { owner: 'other-process', pid: live.pid, snapshot: live.snapshot });
          clearTimeout(timer);
          resolve();
        },
        () => {
          clearTimeout(timer);
          if (this.watches.get(id) === handle) this.watches.delete(id);
          if (this.tunnels.get(id)?.owner === 'other-process') this.set(id, undefined);
          resolve();
          // A killed process may leave its openvpn with ferry-helper: look again.
          if (this.following) void this.refresh().catch(() => {});
        },
      );
      this.watches.set(id, handle);
    });
  }
}
