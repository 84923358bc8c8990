/**
 * The seam that starts openvpn. The session never spawns it itself: `DirectLauncher`
 * runs it as a child when this process has the network privileges (root or
 * CAP_NET_ADMIN); the privileged helper's launcher (native/) does it for ordinary users.
 */
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { ManagementTarget } from '../management/connection.js';
import type { EngineSpec } from './config.js';

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningEngine {
  readonly pid: number | undefined;
  /** Where openvpn's management interface listens (the launcher decides). */
  readonly managementSocket: string;
  /** Set when the management interface is on TCP with a password instead (the Windows launcher). */
  readonly managementTcp?: Exclude<ManagementTarget, string>;
  /** Resolves once openvpn has exited, for whatever reason. */
  readonly exited: Promise<EngineExit>;
  /** Lines openvpn wrote to stdout/stderr (before the management log takes over). */
  onOutput(listener: (line: string) => void): void;
  kill(signal: NodeJS.Signals): void;
}

/** How tunnels start here: openvpn run directly, through ferry-helper, through OpenVPN's interactive service (Windows), or not at all (none answers). */
export type LauncherKind = 'direct' | 'helper' | 'service' | 'missing';

export interface Launcher {
  /**
   * Starts openvpn for `spec` in `sessionDir` (private, 0700). `label` (the profile id)
   * names the session so that `find` can return it later. Rejects if it cannot start.
   */
  launch(spec: EngineSpec, sessionDir: string, label: string): Promise<RunningEngine>;
  /** An openvpn this launcher still runs for `label`, e.g. after the app restarted. */
  find?(label: string): Promise<RunningEngine | undefined>;
  /** Labels of every openvpn this launcher still runs for this user. */
  running?(): Promise<string[]>;
  kind(): Promise<LauncherKind>;
}

export class DirectLauncher implements Launcher {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async kind(): Promise<LauncherKind> {
    return 'direct';
  }

  async launch(spec: EngineSpec, sessionDir: string): Promise<RunningEngine> {
    // Loaded here: a client that only lists tunnels (`ferry status`) needs neither the
    // config builder (and the profile schema under it) nor the process plumbing.
    const [{ buildClientConfig }, { onOutputLines, spawnOpenvpn }] = await Promise.all([import('./config.js'), import('./openvpn-process.js')]);
    const configPath = path.join(sessionDir, 'openvpn.conf');
    await writeFileAtomic(configPath, buildClientConfig(spec));
    const child = await spawnOpenvpn(configPath, sessionDir, this.env);
    const exited = new Promise<EngineExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const listeners: Array<(line: string) => void> = [];
    onOutputLines(child, (line) => {
      for (const l of listeners) l(line);
    });
    return {
      pid: child.pid,
      managementSocket: spec.managementSocket,
      exited,
      onOutput: (listener) => listeners.push(listener),
      kill: (signal) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  }
}
