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
import { failureKey, type Failure } from './failures.js';

/** The same failure on this many attempts in a row is a verdict. */
export const REPEAT_LIMIT = 3;
/** …or on two in a row this far apart: slow attempts must not run out the whole reconnect timeout. */
export const REPEAT_SPAN_MS = 20_000;

/** The run of identical failures so far; undefined = none. Plain data, so the session machine can hold it. */
export interface RepeatStreak {
  key: string;
  count: number;
  since: number;
}

/**
 * One attempt ended, with `failure` if it is one that repeats (undefined breaks the streak).
 * Returns the new streak and, once it is a verdict, how many attempts in a row failed this way (else 0).
 */
export function recordRepeat(
  streak: RepeatStreak | undefined,
  failure: Failure | undefined,
  now: number,
  limit = REPEAT_LIMIT,
  spanMs = REPEAT_SPAN_MS,
): { streak: RepeatStreak | undefined; verdict: number } {
  if (!failure) return { streak: undefined, verdict: 0 };
  const key = failureKey(failure);
  const next = streak?.key === key ? { ...streak, count: streak.count + 1 } : { key, count: 1, since: now };
  const verdict = next.count >= limit || (next.count >= 2 && now - next.since >= spanMs);
  return { streak: next, verdict: verdict ? next.count : 0 };
}

/** recordRepeat with the streak kept inside. */
export class RepeatGuard {
  private streak: RepeatStreak | undefined;

  constructor(
    private readonly limit = REPEAT_LIMIT,
    private readonly spanMs = REPEAT_SPAN_MS,
  ) {}

  record(failure: Failure | undefined, now = Date.now()): number {
    const { streak, verdict } = recordRepeat(this.streak, failure, now, this.limit, this.spanMs);
    this.streak = streak;
    return verdict;
  }

  reset(): void {
    this.streak = undefined;
  }
}

/** The reason a guarded session ends with: the failure itself, and that it was not a one-off. */
export function repeatedFailure(failure: Failure, attempts: number): Failure {
  return { ...failure, repeated: attempts };
}
