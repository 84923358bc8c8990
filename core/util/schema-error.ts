/** One line for a value a zod schema refused: the first issue, with where it is. */
import type { z } from 'zod';

export interface SchemaErrorOptions {
  /** What the value as a whole is called, said when the issue is about all of it (an empty path): "profile", "request". */
  whole?: string;
  /** Say the issue's path (default true); false where the schema's messages name the value themselves. */
  withPath?: boolean;
}

/** `WHERE: PATH: MESSAGE`, each part only when there is one ("invalid" for an error without issues). */
export function describeSchemaError(error: z.ZodError, where?: string, options: SchemaErrorOptions = {}): string {
  const issue = error.issues[0];
  if (!issue) return where ? `${where}: invalid` : 'invalid';
  const path = options.withPath === false ? '' : issue.path.map(String).join('.') || (options.whole ?? '');
  const at = [where, path].filter(Boolean).join(': ');
  return at ? `${at}: ${issue.message}` : issue.message;
}
