/**
 * The importer's fuzz run (test/fuzz, also `npm run fuzz`) in a smaller budget: a fixed
 * seed, ~15 s of mutated inputs, no crash other than ImportError/InputError and no input
 * over 1 s of CPU. A failure names the seed and iteration; the input is under
 * test-artifacts/fuzz/.
 */
import { expect, it } from 'vitest';
import { describeReport, fuzzImporter } from '../fuzz/engine.js';

const SECONDS = 15;

it(`survives ${SECONDS} s of mutated inputs (seed 1)`, { timeout: (SECONDS + 45) * 1000 }, async () => {
  const report = await fuzzImporter({ seed: 1, seconds: SECONDS });
  console.log(describeReport(report, SECONDS).join('\n'));
  expect(report.failures).toEqual([]);
  expect(report.inputs).toBeGreaterThan(0);
});
