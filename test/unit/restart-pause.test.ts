/** When a session releases openvpn's hold before a restart (core/session/restart-pause.ts). */
import { describe, expect, it } from 'vitest';
import { restartPauseMs } from '../../core/session/restart-pause.js';

const noJitter = () => 0;
const pause = (restart: number, announcedSeconds: number, downForMs: number, random = noJitter) => restartPauseMs({ restart, announcedSeconds, downForMs, random });

/** openvpn's own pause before restart n (connect-retry 1 8): what it announces in its hold. */
const openvpnPause = (n: number) => Math.min(8, 2 ** Math.max(0, n - 4));

/** Attempt times (ms after the drop) over an outage in which every attempt fails at once. */
function timeline(pauseBefore: (n: number, clock: number) => number, untilMs: number): number[] {
  const at: number[] = [];
  for (let n = 1, clock = 0; clock < untilMs; n++) at.push((clock += pauseBefore(n, clock)));
  return at;
}

describe('restartPauseMs', () => {
  it('starts at once, and retries at once when the tunnel drops', () => {
    expect(pause(0, 0, 0)).toBe(0);
    expect(pause(1, 1, 0)).toBe(0);
  });

  it('retries every quarter second for the first two seconds instead of openvpn\'s 1 s, then backs off by time down', () => {
    expect(pause(2, 1, 10)).toBe(250);
    expect(pause(6, 2, 1_900)).toBe(250); // openvpn's 2 s here comes from counting our quick attempts
    expect(pause(8, 8, 3_000)).toBe(1_000);
    expect(pause(10, 8, 8_000)).toBe(2_000);
    expect(pause(12, 8, 12_000)).toBe(4_000);
    expect(pause(20, 8, 60_000)).toBe(8_000);
  });

  it('never leaves a gateway that came back waiting longer than a plain openvpn client could at that point', () => {
    for (const random of [() => 0, () => 1]) {
      const plain = [0, ...timeline((n) => openvpnPause(n) * 1000, 60_000)];
      const ferry = timeline((n, clock) => pause(n, openvpnPause(n), clock, random), 80_000);
      const next = (attempts: number[], at: number) => attempts.find((t) => t >= at)!;
      for (let back = 1; back <= plain.at(-1)!; back += 25) {
        const k = plain.findIndex((t) => t >= back);
        // The plain client's wait for a gateway back at `back` can be as long as its current pause.
        expect(next(ferry, back) - back).toBeLessThanOrEqual(plain[k]! - plain[k - 1]!);
      }
      expect(ferry.filter((t) => t < 2_000).length).toBeGreaterThan(4 * plain.filter((t) => t > 0 && t < 2_000).length);
    }
  });

  it('keeps a longer pause someone asked for (server back-off, an error), never shortened', () => {
    expect(pause(2, 30, 100)).toBe(30_000);
    expect(pause(3, 10, 600, () => 1)).toBe(10_000);
  });

  it('spreads its own pauses up to 20% shorter, never longer', () => {
    expect(pause(2, 1, 100, () => 1)).toBe(200);
    expect(pause(9, 8, 7_000, () => 0.5)).toBe(1_800);
  });
});
