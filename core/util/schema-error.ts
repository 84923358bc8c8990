/** One line for a value a zod schema refused: the first issue, with where it is. */
import type { z } from 'zod';

export function describeSchemaError(error: z.ZodError, where?: string): string {
  const issue = error.issues[0];
  if (!issue) return where ? `${where}: invalid` : 'invalid';
  const path = issue.path.map(String).join('.');
  const at = [where, path].filter(Boolean).join(': ');
  return at ? `${at}: ${issue.message}` : issue.message;
}
