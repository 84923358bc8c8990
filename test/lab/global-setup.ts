/**
 * Vitest globalSetup: remove labs left behind by a run that was SIGKILLed (its exit handlers
 * never ran), before and after the whole run. The sweeper only removes labs whose owner pid is
 * dead, so it never touches a lab a live worker (or a parallel run) is using.
 */
import { sweepStaleLabs } from './lab.js';

export default async function globalSetup(): Promise<() => Promise<void>> {
  sweepStaleLabs();
  return async () => sweepStaleLabs();
}
