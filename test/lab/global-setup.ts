/**
 * Vitest globalSetup: remove labs and PostgreSQL instances left behind by a run that was
 * SIGKILLed (its exit handlers never ran), before and after the whole run. The sweepers only
 * remove what belongs to a dead owner pid, so they never touch a lab or a database a live
 * worker (or a parallel run) is using.
 */
import { sweepStalePostgres } from '../support/postgres.js';
import { sweepStaleLabs } from './lab.js';

export default async function globalSetup(): Promise<() => Promise<void>> {
  sweepStaleLabs();
  await sweepStalePostgres();
  return async () => {
    sweepStaleLabs();
    await sweepStalePostgres();
  };
}
