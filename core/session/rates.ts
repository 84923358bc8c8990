/** Transfer rates from openvpn's running byte counts (`>BYTECOUNT`, once a second). */
import type { SessionStats } from './snapshot.js';

export interface ByteSample {
  at: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * The stats after one count, and the sample to measure the next against. After a restart
 * openvpn counts from zero again: a count below the last one is not a (negative) rate.
 */
export function withByteCount(stats: SessionStats, last: ByteSample | undefined, sample: ByteSample): { stats: SessionStats; last: ByteSample } {
  const seconds = last ? (sample.at - last.at) / 1000 : 0;
  const rate = (now: number, before: number | undefined) => (before !== undefined && seconds > 0 && now >= before ? Math.round((now - before) / seconds) : 0);
  return {
    stats: { ...stats, bytesIn: sample.bytesIn, bytesOut: sample.bytesOut, rateIn: rate(sample.bytesIn, last?.bytesIn), rateOut: rate(sample.bytesOut, last?.bytesOut) },
    last: sample,
  };
}

/** The data-channel cipher, from the log line openvpn 2.6 (or 2.5) writes when it sets it up. */
export function cipherFromLog(message: string): string | undefined {
  const m = /Data Channel: cipher '([^']+)'|Outgoing Data Channel: Cipher '([^']+)' initialized/.exec(message);
  return m ? (m[1] ?? m[2]) : undefined;
}
