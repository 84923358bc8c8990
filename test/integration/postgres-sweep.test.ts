/**
 * test/support/postgres.ts's sweeper: an instance whose owner was SIGKILLed (its destroy()
 * never ran) is stopped and its directory removed; one whose owner lives is left alone.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from '../support/until.js';
import { PostgresInstance, postgresSkipReason, sweepStalePostgres } from '../support/postgres.js';
import { Watched } from '../support/processes.js';

const skip = postgresSkipReason();

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe.skipIf(skip)('PostgreSQL instances left by a killed test run', () => {
  const owned: PostgresInstance[] = [];
  afterAll(async () => {
    for (const pgi of owned) await pgi.destroy();
  });

  it('the sweeper stops the instance of a SIGKILLed owner and removes its directory; a live owner keeps its own', async () => {
    const mine = await PostgresInstance.create();
    owned.push(mine);
    // One process (node with tsx's loader, not the tsx CLI, which runs the script in a child): its pid is the owner.
    const owner = new Watched(spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/postgres-owner.ts')], { stdio: ['ignore', 'pipe', 'pipe'] }), 'postgres owner');
    const base = /^base=(.+)$/.exec(await owner.waitFor(/^base=/, 90_000))![1]!;
    const postmaster = Number(readFileSync(path.join(base, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(running(postmaster)).toBe(true);
    owner.child.kill('SIGKILL');
    await owner.exited;
    expect(running(postmaster)).toBe(true); // pg_ctl's daemon outlives its owner: what the sweeper is for

    const removed = await sweepStalePostgres();
    expect(removed).toContain(base);
    expect(removed).not.toContain(mine.base);
    await until(() => !running(postmaster), 'the postmaster of the dead owner to exit', 10_000);
    expect(existsSync(base)).toBe(false);
    // Ours still answers.
    expect((await mine.sql('postgres', 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(existsSync(mine.base)).toBe(true);
  }, 120_000);
});
