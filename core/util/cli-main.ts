/** What both command-line programs share: output channels and the exit-code contract (0 ok, 1 failed, 2 bad usage/input). */
import { describeError, FerryError } from './errors.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** Runs a command and turns any error into one line on stderr and its exit code. */
export async function runCommand(program: string, io: Io, run: () => Promise<number | void>): Promise<number> {
  try {
    return (await run()) ?? 0;
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`${program}: ${(err as Error).message.split('\n')[0]} (see ${program} --help)`);
      return 2;
    }
    io.err(`${program}: ${err instanceof FerryError ? err.localized() : describeError(err)}`);
    return err instanceof FerryError ? err.exitCode : 1;
  }
}
