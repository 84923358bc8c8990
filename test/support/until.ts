/** Polling for a condition in tests, with vitest's own waitUntil and a message that names what was awaited. */
import { vi } from 'vitest';

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 3_000): Promise<void> {
  await vi.waitUntil(check, { timeout: timeoutMs, interval: 10 }).catch((err: unknown) => {
    throw new Error(`timed out waiting for ${what}`, { cause: err });
  });
}
