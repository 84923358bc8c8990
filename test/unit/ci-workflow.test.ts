/**
 * .github/workflows/ci.yml, as far as it can be checked here: it parses, has the Linux,
 * Windows and macOS jobs the README describes, and every `npm run` it calls exists.
 * (Its schema was checked with @action-validator/cli 0.6.0 when written; see README.)
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const require = createRequire(import.meta.url);
type Step = { name?: string; run?: string; uses?: string };
type Job = { 'runs-on': string; steps: Step[]; needs?: string };

async function workflow() {
  const yaml = require('js-yaml') as { load(text: string): unknown };
  return yaml.load(await readFile(path.join(ROOT, '.github/workflows/ci.yml'), 'utf8')) as { jobs: Record<string, Job> };
}
const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

describe('.github/workflows/ci.yml', () => {
  it('Linux runs .ci/run as root, and the unit tests and real Electron under xvfb-run', async () => {
    const { jobs } = await workflow();
    expect(jobs.linux!['runs-on']).toMatch(/^ubuntu-/);
    expect(runs(jobs.linux!)).toContain('bash .ci/run');
    expect(runs(jobs['linux-electron']!)).toContain('npm run test:unit');
    expect(runs(jobs['linux-electron']!)).toMatch(/xvfb-run -a .*npm run test:electron/);
  });

  it('Windows and macOS run the unit tests and real Electron; Windows also the launcher against the real service', async () => {
    const { jobs } = await workflow();
    expect(jobs.windows!['runs-on']).toMatch(/^windows-/);
    expect(jobs.macos!['runs-on']).toMatch(/^macos-/);
    for (const job of [jobs.windows!, jobs.macos!]) {
      expect(runs(job)).toContain('npm run test:unit');
      expect(runs(job)).toContain('npm run test:electron');
      expect(runs(job)).not.toContain('ELECTRON_SKIP_BINARY_DOWNLOAD');
    }
    const service = jobs.windows!.steps.find((s) => s.name === 'Windows launcher against the real interactive service');
    expect(service?.run).toBe('npm run test:interactive-service');
    // OpenVPN goes on the runner from the same pinned MSI the installer carries, before that step.
    const names = jobs.windows!.steps.map((s) => s.name);
    expect(names.indexOf('Install OpenVPN 2.6 (service and drivers, no GUI) from the pinned MSI')).toBeLessThan(names.indexOf(service!.name));
    expect(names.indexOf('Real Electron')).toBeLessThan(names.indexOf('Install OpenVPN 2.6 (service and drivers, no GUI) from the pinned MSI'));
  });

  it('every npm script it runs exists; the Windows-only ones are not in npm test', async () => {
    const { jobs } = await workflow();
    const scripts = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const called = new Set([...Object.values(jobs).map(runs).join('\n').matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]!));
    const missing = [...called].filter((name) => !(name in scripts));
    expect(missing).toEqual([]);
    expect(scripts['test:electron']).toMatch(/app\.e2e\.ts/);
    expect(scripts['test:interactive-service']).toMatch(/test\/windows\/interactive-service\.e2e\.ts/);
    // npm test runs vitest over *.test.ts only: the e2e files stay out of it.
    expect(scripts.test).not.toMatch(/e2e/);
  });
});
