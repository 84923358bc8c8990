/**
 * A process that owns a PostgreSQL instance and then waits to be killed: the sweeper test
 * (test/integration/postgres-sweep.test.ts) SIGKILLs it, as a test run killed mid-way.
 * Prints the instance's base directory once it runs.
 */
import { PostgresInstance } from './postgres.js';

const pgi = await PostgresInstance.create();
process.stdout.write(`base=${pgi.base}\n`);
setInterval(() => {}, 1 << 30);
