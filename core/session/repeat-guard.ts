/**
 * When retrying has become pointless: the same failure, attempt after attempt.
 *
 * A failure that cannot heal by waiting (the gateway pushes an option this profile
 * refuses, the gateway closes the connection before answering, …) would otherwise loop
 * until the reconnect timeout, several attempts a second (see restart-pause.ts), and the
 * person would wait a minute to learn what the first attempt already said. It is not made
 * fatal at first sight because one attempt is not a verdict: with several remotes the next
 * one may work, and a gateway being reconfigured may answer differently a moment later.
 *
 * The guard counts attempts, not log lines (one attempt may say the same thing twice).
 * Anything else in between — another failure, a failure that can heal, an attempt that
 * ended without one, CONNECTED — starts the count over.
 */
import type { Failure } from './failures.js';

/** The same failure on this many attempts in a row is a verdict. */
export const REPEAT_LIMIT = 3;
/** …or on two in a row this far apart: slow attempts must not run out the whole reconnect timeout. */
export const REPEAT_SPAN_MS = 20_000;

export class RepeatGuard {
  private streak: { key: string; count: number; since: number } | undefined;

  constructor(
    private readonly limit = REPEAT_LIMIT,
    private readonly spanMs = REPEAT_SPAN_MS,
  ) {}

  /**
   * One attempt ended, with `failure` if it is one that repeats (undefined breaks the streak).
   * Returns how many attempts in a row failed this way once that is a verdict, else 0.
   */
  record(failure: Failure | undefined, now = Date.now()): number {
    if (!failure) {
      this.reset();
      return 0;
    }
    const key = `${failure.code}\n${failure.message}`;
    if (this.streak?.key !== key) this.streak = { key, count: 0, since: now };
    const streak = this.streak;
    streak.count++;
    const verdict = streak.count >= this.limit || (streak.count >= 2 && now - streak.since >= this.spanMs);
    return verdict ? streak.count : 0;
  }

  reset(): void {
    this.streak = undefined;
  }
}

/** The reason a guarded session ends with: the failure itself, and that it was not a one-off. */
export function repeatedFailure(failure: Failure, attempts: number): Failure {
  return { code: failure.code, message: `${failure.message} (the same on ${attempts} attempts in a row)` };
}
