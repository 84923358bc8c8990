/**
 * A time-boxed fuzz run of `ferry import`: mutated valid inputs go through the importer's
 * entry point (importFiles, on real files) and, when accepted, into a real profile store.
 * Two rules: every refusal is an ImportError/InputError of one line (anything else is a
 * crash), and no input costs more than 1 s of CPU (process.cpuUsage, not the wall clock,
 * so a busy machine does not make it flaky). A failing input is saved under
 * test-artifacts/fuzz/ with the seed and iteration that made it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { importFiles } from '../../core/profile/import.js';
import { ProfileStore } from '../../core/profile/store.js';
import { InputError } from '../../core/util/errors.js';
import { NOW } from '../fixtures/import/generate.js';
import { ROOT } from '../support/cli.js';
import { buildCorpus, PASSPHRASE, type Seed } from './corpus.js';
import { mutate } from './mutators.js';
import { Random } from './random.js';

/** The longest one input may take, in CPU time. */
export const CPU_LIMIT_MS = 1000;
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'fuzz');

export interface FuzzOptions {
  seed: number;
  seconds: number;
  log?: (line: string) => void;
}

export interface FuzzFailure {
  seed: number;
  iteration: number;
  input: string;
  problem: string;
  /** Where the input was saved. */
  saved: string;
}

export interface FuzzReport {
  inputs: number;
  accepted: number;
  perSeed: Record<string, number>;
  slowest: { cpuMs: number; iteration: number; input: string };
  failures: FuzzFailure[];
}

/** What a run of one input did: accepted, refused properly, or a problem to report. */
type Outcome = { kind: 'accepted' | 'refused' } | { kind: 'problem'; problem: string };

export async function fuzzImporter(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? (() => {});
  const rnd = new Random(opts.seed);
  const corpus = await buildCorpus();
  const work = path.join(ARTIFACTS, `work-${process.pid}`);
  const store = new ProfileStore(path.join(work, 'home'));
  log(`fuzz: seed ${opts.seed}, ${opts.seconds} s; the input being tried is always in ${work}`);

  const report: FuzzReport = { inputs: 0, accepted: 0, perSeed: {}, slowest: { cpuMs: 0, iteration: -1, input: '' }, failures: [] };
  const record = async (iteration: number, input: string, files: Record<string, Buffer>, problem: string) => {
    const saved = path.join(ARTIFACTS, `seed${opts.seed}-iteration${iteration}`);
    await writeInputs(saved, files);
    await writeFile(path.join(saved, 'PROBLEM.txt'), `seed ${opts.seed} iteration ${iteration} (${input})\n${problem}\n`);
    report.failures.push({ seed: opts.seed, iteration, input, problem: problem.split('\n')[0]!, saved });
    log(`FAIL seed ${opts.seed} iteration ${iteration} (${input}): ${problem.split('\n')[0]} — saved in ${saved}`);
  };

  // The unmutated corpus must import: otherwise every mutation tests only the first refusal.
  for (const seed of corpus) {
    const outcome = await attempt(seed, seed.files, path.join(work, 'in'), store);
    if (outcome.kind !== 'accepted') throw new Error(`fuzz corpus: ${seed.name} does not import: ${outcome.kind === 'problem' ? outcome.problem : 'refused'}`);
  }

  const donors = corpus.flatMap((s) => Object.values(s.files));
  const deadline = Date.now() + opts.seconds * 1000;
  for (let iteration = 0; Date.now() < deadline; iteration++) {
    const seed = rnd.pick(corpus);
    const names = Object.keys(seed.files);
    const target = rnd.pick(names);
    const kind = target.endsWith('.zip') ? 'zip' : /\.(p12|pfx)$/.test(target) ? 'p12' : 'text';
    const mutated = mutate(seed.files[target]!, kind, rnd, donors);
    const files = { ...seed.files, [target]: mutated.data };
    const input = `${seed.name}/${target}: ${mutated.how.join(', ')}`;

    const before = process.cpuUsage();
    const outcome = await attempt(seed, files, path.join(work, 'in'), store);
    const spent = process.cpuUsage(before);
    const cpuMs = (spent.user + spent.system) / 1000;

    report.inputs++;
    report.perSeed[seed.name] = (report.perSeed[seed.name] ?? 0) + 1;
    if (outcome.kind === 'accepted') report.accepted++;
    if (cpuMs > report.slowest.cpuMs) report.slowest = { cpuMs, iteration, input };
    if (outcome.kind === 'problem') await record(iteration, input, files, outcome.problem);
    else if (cpuMs > CPU_LIMIT_MS) await record(iteration, input, files, `took ${cpuMs.toFixed(0)} ms of CPU (limit ${CPU_LIMIT_MS} ms)`);
  }
  await rm(work, { recursive: true, force: true });
  return report;
}

async function writeInputs(dir: string, files: Record<string, Buffer>): Promise<string[]> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const [name, data] of Object.entries(files)) {
    const full = path.join(dir, name);
    await writeFile(full, data);
    paths.push(full);
  }
  return paths;
}

/** Imports the files as `ferry import` would; an accepted profile is stored and removed again. */
async function attempt(seed: Seed, files: Record<string, Buffer>, dir: string, store: ProfileStore): Promise<Outcome> {
  // An .ovpn names its files beside it: give importFiles the profile alone, as a user would.
  const paths = (await writeInputs(dir, files)).filter((p, i, all) => !(all.some((q) => q.endsWith('.ovpn')) && !p.endsWith('.ovpn')));
  try {
    const imported = await importFiles(paths, {
      now: NOW,
      askPassphrase: async () => PASSPHRASE,
      ...(seed.needsGateway ? { gateway: { host: 'vpn.example.com' } } : {}),
    });
    const profile = await store.add(imported);
    await store.remove(profile.name);
    return { kind: 'accepted' };
  } catch (err) {
    if (!(err instanceof InputError)) return { kind: 'problem', problem: `crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
    if (err.message === '' || /[\r\n]/.test(err.message)) return { kind: 'problem', problem: `refusal is not one line: ${JSON.stringify(err.message)}` };
    return { kind: 'refused' };
  }
}

/** The report as a few lines for people. */
export function describeReport(report: FuzzReport, seconds: number): string[] {
  const perSeed = Object.entries(report.perSeed)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ');
  return [
    `fuzz: ${report.inputs} inputs in ${seconds} s (${report.accepted} accepted, the rest refused): ${perSeed}`,
    `fuzz: slowest input ${report.slowest.cpuMs.toFixed(0)} ms CPU (iteration ${report.slowest.iteration}: ${report.slowest.input})`,
    report.failures.length === 0 ? 'fuzz: no crash, no input over the CPU limit' : `fuzz: ${report.failures.length} FAILURE(S), inputs saved under ${ARTIFACTS}`,
  ];
}
