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
