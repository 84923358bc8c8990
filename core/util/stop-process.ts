/**
 * "SIGTERM, wait, SIGKILL": how every Ferry process stops a child (openvpn removes its tun
 * and routes on SIGTERM; a SIGKILLed one leaves its route to the gateway behind, so SIGKILL
 * only comes after a grace period).
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Stops `child` and resolves with its exit code (null when killed by a signal). The timer
 * is unref'd: a finished CLI never waits on it. A child that already exited resolves at once,
 * and so does one that never started (no pid: its spawn failed).
 */
export function stopProcess(child: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  if (child.pid === undefined) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    timer.unref();
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill(signal);
  });
}

/** A process stopProcess cannot hold as a ChildProcess: openvpn started by a Launcher (directly or by ferry-helper). */
export interface StoppableHandle {
  kill(signal: NodeJS.Signals): void;
  /** Resolves once the process has exited. */
  readonly exited: Promise<unknown>;
}

/**
 * stopProcess for a handle: `ask` first when the process can be asked to stop (openvpn's
 * management `signal SIGTERM`, which it can act on even where Ferry may not signal it),
 * SIGTERM if asking fails, SIGKILL after `graceMs`. Resolves once it has exited.
 */
export async function stopHandle(handle: StoppableHandle, graceMs: number, ask?: () => Promise<unknown>): Promise<void> {
  let exited = false;
  const done = handle.exited.then(() => {
    exited = true;
  });
  const timer = setTimeout(() => {
    if (!exited) handle.kill('SIGKILL');
  }, graceMs);
  timer.unref();
  try {
    // Not awaited: an answer that never comes must not outlast the grace period.
    if (ask) void ask().catch(() => handle.kill('SIGTERM'));
    else handle.kill('SIGTERM');
    await done;
  } finally {
    clearTimeout(timer);
  }
}

export interface StopPidOptions {
  /**
   * Whether the process is still there and still the one to stop: a pid alone may have
   * been reused, and a zombie (exited, not yet reaped) counts as gone.
   */
  isAlive: () => boolean | Promise<boolean>;
  /** The first signal; null when it was already asked to stop another way (openvpn's management `signal SIGTERM`). */
  signal?: NodeJS.Signals | null;
  /** How long to wait for it to go after SIGKILL. Default: graceMs. */
  killWaitMs?: number;
  /** How often to ask isAlive. Default 20 ms. */
  pollMs?: number;
}

/**
 * The same for a process that is not our child (one a previous, killed Ferry process left):
 * no exit event comes, so `isAlive` is polled. Resolves true once it is gone, false if it is
 * still there after SIGKILL and `killWaitMs`.
 */
export async function stopPid(pid: number, graceMs: number, opts: StopPidOptions): Promise<boolean> {
  const poll = opts.pollMs ?? 20;
  const goneWithin = async (ms: number) => {
    for (const deadline = Date.now() + ms; await opts.isAlive(); await sleep(poll)) {
      if (Date.now() > deadline) return false;
    }
    return true;
  };
  const signal = opts.signal === undefined ? 'SIGTERM' : opts.signal;
  if (signal !== null && !sendSignal(pid, signal)) return true;
  if (await goneWithin(graceMs)) return true;
  if (!sendSignal(pid, 'SIGKILL')) return true;
  return goneWithin(opts.killWaitMs ?? graceMs);
}

/** False when there is no such process any more. */
function sendSignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
