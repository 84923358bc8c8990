/**
 * How long a session keeps openvpn in its hold before a restart.
 *
 * Left alone, openvpn pauses connect-retry (1 s) before every attempt, so a tunnel whose
 * gateway restarted in 300 ms, or a laptop that just joined a new network, waits a full
 * second for nothing. Ferry retries at once, then every quarter second for the first two
 * seconds, then backs off by the time the tunnel has been down — never later than a plain
 * openvpn client would at that point.
 *
 * openvpn counts every attempt, quick ones included, and doubles its own pause after the
 * fourth; that count is why its announced pause is not simply obeyed. A pause longer than
 * its count explains is someone's request (the server's `AUTH_FAILED,TEMP[backoff N]`, a
 * pause after a failed tun setup) and is always kept.
 */
import { CONNECT_RETRY } from '../engine/config.js';

/** Pause by how long the tunnel has been down: [down for less than, pause] (then connect-retry-max). */
const RESTART_SCHEDULE_MS: ReadonlyArray<readonly [number, number]> = [
  [2_000, 250],
  [6_000, 1_000],
  [10_000, 2_000],
  [18_000, 4_000],
];
/** Up to 20% shorter, so that a gateway's clients, all dropped at once, do not knock in step. */
const JITTER = 0.2;

export interface RestartPauseInput {
  /** 0 for the start itself (always at once), then 1, 2, … since the tunnel was last up. */
  restart: number;
  /** What openvpn's `>HOLD:Waiting for hold release:N` says it would wait. */
  announcedSeconds: number;
  /** Since the first restart after the tunnel was last up. */
  downForMs: number;
  random?: () => number;
}

export function restartPauseMs({ restart, announcedSeconds, downForMs, random = Math.random }: RestartPauseInput): number {
  if (restart <= 1) return 0;
  const announced = announcedSeconds * 1000;
  if (announced > openvpnOwnPauseMs(restart)) return announced;
  const planned = RESTART_SCHEDULE_MS.find(([until]) => downForMs < until)?.[1] ?? CONNECT_RETRY.max * 1000;
  return Math.round(planned * (1 - JITTER * random()));
}

/** openvpn's pause before restart n with one remote: connect-retry, doubled from the fifth on, up to the max. */
function openvpnOwnPauseMs(restart: number): number {
  return Math.min(CONNECT_RETRY.max, CONNECT_RETRY.initial * 2 ** Math.max(0, restart - 4)) * 1000;
}
