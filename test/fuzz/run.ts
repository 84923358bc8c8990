/**
 * `npm run fuzz [-- --seconds N --seed S]` (or FUZZ_SECONDS / FUZZ_SEED): the importer's
 * fuzz run, 25 s with seed 1 by default (CI-sized). Exits 1 on any crash or slow input.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { describeReport, fuzzImporter } from './engine.js';

const Options = z.object({
  seconds: z.coerce.number().positive().max(86_400),
  seed: z.coerce.number().int().min(0).max(0xffffffff),
});

const { values } = parseArgs({ options: { seconds: { type: 'string' }, seed: { type: 'string' } } });
const parsed = Options.safeParse({ seconds: values.seconds ?? process.env.FUZZ_SECONDS ?? 25, seed: values.seed ?? process.env.FUZZ_SEED ?? 1 });
if (!parsed.success) {
  console.error(`fuzz: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message} — use --seconds N (> 0) and --seed S (0 to 2^32-1)`);
  process.exit(2);
}
const report = await fuzzImporter({ ...parsed.data, log: (line) => console.log(line) });
for (const line of describeReport(report, parsed.data.seconds)) console.log(line);
process.exit(report.failures.length === 0 ? 0 : 1);
