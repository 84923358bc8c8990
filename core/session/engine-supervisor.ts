/**
 * openvpn for one session: starts it through the Launcher (or takes over one the launcher
 * still runs), attaches to its management socket, forwards what it says, and stops it.
 * It decides nothing: the session machine does. One engine at a time; notifications and
 * the exit of an engine that is no longer current are dropped here, so the machine never
 * hears a stopped openvpn's last words as the current one's.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { EngineSpec } from '../engine/config.js';
import type { EngineExit, Launcher, RunningEngine } from '../engine/launcher.js';
import { ManagementConnection } from '../management/connection.js';
import { ensurePrivateDir } from '../util/atomic-file.js';
import { stopHandle } from '../util/stop-process.js';
import { routeNotification, type EngineEvent } from './router.js';

const STOP_GRACE_MS = 5_000;
/** Lines of openvpn's own output kept until the management log takes over (e.g. an options error that stops it early). */
const STARTUP_LINES = 20;

export interface SupervisorDeps {
  launcher: Launcher;
  /** The profile id: names the session for the launcher's `find`. */
  label: string;
  /** Private directory for openvpn's config and management socket. */
  sessionDir: string;
  /** What to start; the management socket is filled in here. */
  spec: () => Omit<EngineSpec, 'managementSocket'>;
  onEvent: (event: EngineEvent) => void;
  /** A current engine exited by itself (not through stop()). */
  onExit: (exit: EngineExit) => void;
  /** History replayed from an engine taken over: logged, not judged. */
  onHistory: (message: string, epochSeconds: number) => void;
}

/** openvpn could not be started or attached to; `exit` when it died trying. */
export class EngineStartError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly exit: EngineExit | undefined,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'EngineStartError';
  }
}

interface Current {
  engine: RunningEngine;
  management?: ManagementConnection;
}

export class EngineSupervisor {
  private current: Current | undefined;
  /** openvpn's own output, for the reason when it dies before (or without) its management log. */
  startupOutput: string[] = [];

  constructor(private readonly deps: SupervisorDeps) {}

  /**
   * Starts openvpn (with `reattach`, first takes over one the launcher still runs) and
   * attaches. Resolves with whether it was taken over and, then, its current state.
   */
  async start(reattach: boolean): Promise<{ takenOver: boolean; current?: EngineEvent }> {
    const found = reattach ? await this.deps.launcher.find?.(this.deps.label) : undefined;
    const engine = found ?? (await this.launch());
    const current: Current = { engine };
    this.current = current;
    this.startupOutput = [];
    engine.onOutput((line) => {
      if (this.current === current && !current.management) this.startupOutput = [...this.startupOutput.slice(-(STARTUP_LINES - 1)), line];
    });
    let exit: EngineExit | undefined;
    void engine.exited.then((e) => {
      exit = e;
      if (this.current === current && current.management) {
        this.current = undefined;
        current.management.close();
        this.deps.onExit(e);
      }
    });
    let management: ManagementConnection;
    try {
      // openvpn creates the socket within ~15 ms: poll closely.
      management = await ManagementConnection.connect(
        engine.managementTcp ?? engine.managementSocket,
        (n) => {
          const event = routeNotification(n);
          if (event && this.current === current) this.deps.onEvent(event);
        },
        { isAlive: () => exit === undefined, attempts: 2000, intervalMs: 5 },
      );
    } catch (err) {
      if (this.current === current) this.current = undefined;
      engine.kill('SIGTERM');
      throw new EngineStartError(err, exit);
    }
    current.management = management;
    if (exit !== undefined) {
      // It exited while we attached: report it as any exit of a running engine.
      this.current = undefined;
      management.close();
      queueMicrotask(() => this.deps.onExit(exit!));
      return { takenOver: Boolean(found) };
    }
    if (found) return { takenOver: true, ...(await this.takeOver(management)) };
    // `log on all` replays what openvpn said before we attached (option errors, say). The
    // hold is released when openvpn announces it (>HOLD is also sent to a client that
    // attaches while it waits): written back to back, these reach openvpn before that
    // release, so the first attempt's lines come in real time, where they are judged, not
    // in the replayed history.
    await Promise.all(management.commands(['state on', 'bytecount 1', 'log on all']));
    return { takenOver: false };
  }

  /** Sends commands to the current openvpn, in one write; rejects when there is none. */
  async command(commands: string[]): Promise<void> {
    const management = this.current?.management;
    if (!management) throw new Error(`openvpn is not attached (${commands[0]?.split(' ')[0] ?? ''} not sent)`);
    await Promise.all(management.commands(commands));
  }

  /** Whether `token` (from `token()`) still names the current engine: a delayed command must not reach a newer one. */
  token(): object | undefined {
    return this.current;
  }

  isCurrent(token: object | undefined): boolean {
    return token !== undefined && this.current === token;
  }

  /**
   * Stops the current openvpn, asking over its socket first (it then removes routes and
   * its tun), and removes the session's files. Safe with no engine at all.
   */
  async stop(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (current) {
      const management = current.management;
      await stopHandle(current.engine, STOP_GRACE_MS, management ? () => management.command('signal SIGTERM') : undefined);
      management?.close();
    }
    await rm(this.deps.sessionDir, { recursive: true, force: true }).catch(() => {});
  }

  /** A new openvpn for this profile, its files and management socket under sessionDir. */
  private async launch(): Promise<RunningEngine> {
    const dir = this.deps.sessionDir;
    await ensurePrivateDir(dir);
    const managementSocket = path.join(dir, 'management.sock');
    await rm(managementSocket, { force: true });
    return this.deps.launcher.launch({ ...this.deps.spec(), managementSocket }, dir, this.deps.label);
  }

  /**
   * An openvpn that was already running: its history goes to the log without being
   * judged again (old problems are not this session's), then its current state counts.
   */
  private async takeOver(management: ManagementConnection): Promise<{ current?: EngineEvent }> {
    for (const line of await management.command('log all')) {
      const [time, , ...message] = line.split(',');
      if (time && /^\d+$/.test(time)) this.deps.onHistory(message.join(','), Number(time));
    }
    // `hold on`: its restarts wait for this session's release, whatever the last Ferry left set.
    for (const command of ['state on', 'bytecount 1', 'log on', 'hold on']) await management.command(command);
    const state = (await management.command('state')).find((l) => /^\d+,[A-Z_]+,/.test(l));
    const current = state ? routeNotification({ type: 'STATE', body: state }) : undefined;
    return current ? { current } : {};
  }
}
