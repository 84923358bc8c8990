/**
 * Errors a person can act on. `exitCode` follows the CLI contract:
 * 2 = bad usage or bad input (the command changed nothing), 1 = the operation failed.
 */
export class FerryError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'FerryError';
  }

  /** The message in the reader's language where the error knows it (a coded one: the terminal's); else as written. */
  localized(): string {
    return this.message;
  }
}

/** Bad usage or bad input: exit code 2. */
export class InputError extends FerryError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'InputError';
  }
}

/** One line for stderr: FerryErrors as written, anything else with its system code. */
export function describeError(err: unknown): string {
  if (err instanceof FerryError) return err.message;
  if (err instanceof Error) {
    // Not NodeJS.ErrnoException: the schemas the renderer type-checks reach this module.
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOSPC') return `disk full while writing (${err.message}); free some space and run the command again`;
    if (code === 'EACCES' || code === 'EPERM') return `permission denied (${err.message}); run as the owner of the state directory (usually root)`;
    return err.message.split('\n')[0] ?? String(err);
  }
  return String(err);
}
