/**
 * "SIGTERM, wait, SIGKILL": how every Ferry process stops a child (openvpn removes its tun
 * and routes on SIGTERM; a SIGKILLed one leaves its route to the gateway behind, so SIGKILL
 * only comes after a grace period).
 */
import type { ChildProcess } from 'node:child_process';

/**
 * Stops `child` and resolves with its exit code (null when killed by a signal). The timer
 * is unref'd: a finished CLI never waits on it. A child that already exited resolves at once.
 */
export function stopProcess(child: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
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
