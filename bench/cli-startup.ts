/**
 * CLI start-up: `ferry profiles` and `ferry status` against `node -e 0`, each timed from
 * spawn to exit, in alternating order, in turns (each kind first, second and last), one warm-up round not counted. bench:connect prints it
 * with its other rows (a profile imported, as there); `tsx bench/cli-startup.ts` runs it alone
 * on a throw-away profile made with ferry-server (no lab, no root).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const FERRY = fileURLToPath(new URL('../bin/ferry.js', import.meta.url));
const FERRY_SERVER = fileURLToPath(new URL('../bin/ferry-server.js', import.meta.url));

export type StartupKind = 'node' | 'profiles' | 'status';

const ARGV: Record<StartupKind, string[]> = {
  node: ['-e', '0'],
  profiles: [FERRY, 'profiles'],
  status: [FERRY, 'status'],
};

/** Wall times in ms, `runs` of each. */
export function measureCliStartup(env: NodeJS.ProcessEnv, runs: number): Record<StartupKind, number[]> {
  const times: Record<StartupKind, number[]> = { node: [], profiles: [], status: [] };
  const kinds = Object.keys(ARGV) as StartupKind[];
  for (let round = 0; round <= runs; round++) {
    // Each kind goes first, second and third in turn.
    const order = [...kinds.slice(round % 3), ...kinds.slice(0, round % 3)];
    for (const kind of order) {
      const t0 = performance.now();
      const result = spawnSync(process.execPath, ARGV[kind], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      const took = performance.now() - t0;
      if (result.status !== 0) throw new Error(`${kind}: exit ${result.status}: ${result.stderr.trim()}`);
      if (round > 0) times[kind].push(took);
    }
  }
  return times;
}

/** Alone: a profile imported from a bundle that ferry-server makes, then the measurement. */
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { median, ms, spread } = await import('./lab-setup.js');
  const runs = Number(process.env.FERRY_BENCH_RUNS ?? 20);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-startup-'));
  try {
    const env = { ...process.env, FERRY_HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: dir };
    const run = (bin: string, args: string[]) => {
      const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args[0]}: ${r.stderr.trim()}`);
    };
    const srv = path.join(dir, 'server');
    run(FERRY_SERVER, ['init', '--dir', srv, '--host', '198.18.0.1', '--subnet', '198.18.2.0/24']);
    run(FERRY_SERVER, ['client', 'add', 'alice', '--dir', srv]);
    run(FERRY_SERVER, ['client', 'bundle', 'alice', '--out', path.join(dir, 'alice.zip'), '--dir', srv]);
    run(FERRY, ['import', path.join(dir, 'alice.zip'), '--name', 'office']);
    const t = measureCliStartup(env, runs);
    const base = median(t.node);
    console.log(`CLI start-up, ${runs} runs each, alternating (median [min – max]; ratio to node -e 0; target ≤ 1.5×)`);
    for (const kind of ['node', 'profiles', 'status'] as const) {
      const label = kind === 'node' ? 'node -e 0' : `ferry ${kind}`;
      console.log(`  ${label.padEnd(15)} ${ms(median(t[kind])).padStart(8)} [${spread(t[kind], ms)}]  ${(median(t[kind]) / base).toFixed(2)}×`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
