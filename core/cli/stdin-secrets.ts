/**
 * Secrets piped on stdin, never taken from argv (where every local user reads them in
 * `ps`) or the environment. One secret per line, in a fixed order: with
 * `--password-stdin --otp-stdin` the first line is the password and the second the
 * one-time code (`printf '%s\n%s\n' "$PASSWORD" "$CODE" | ferry connect NAME
 * --password-stdin --otp-stdin`). Exactly one non-empty line per secret is accepted (a
 * final newline and trailing blank lines aside): anything else is refused rather than
 * guessed at, since a wrong guess sends the code as the password, or a password in the clear
 * as a code. Error messages never repeat what was read.
 */
import { InputError } from '../util/errors.js';

export interface StdinSecret {
  /** The option that asks for it, e.g. --password-stdin. */
  flag: string;
  /** What the line holds, for errors: "the password". */
  what: string;
}

export const PASSWORD_LINE: StdinSecret = { flag: '--password-stdin', what: 'the password' };
export const OTP_CODE_LINE: StdinSecret = { flag: '--otp-stdin', what: 'the one-time code' };
export const OTP_SECRET_LINE: StdinSecret = { flag: '--otp-secret-stdin', what: "the token's secret" };

/** `text` split into exactly one line per secret, in the order given; InputError otherwise. */
export function splitSecretLines(text: string, secrets: readonly StdinSecret[]): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const flags = secrets.map((s) => s.flag).join(' ');
  const layout = secrets.length === 1 ? secrets[0]!.what : secrets.map((s, i) => `line ${i + 1}: ${s.what}`).join(', ');
  if (lines.length !== secrets.length) {
    const expected = `${secrets.length} line${secrets.length === 1 ? '' : 's'}`;
    throw new InputError(`${flags} read${secrets.length === 1 ? 's' : ''} ${expected} from stdin (${layout}), and stdin had ${lines.length}: pipe one secret per line, in that order`);
  }
  const empty = lines.indexOf('');
  if (empty >= 0) throw new InputError(`line ${empty + 1} of stdin, ${secrets[empty]!.what} for ${secrets[empty]!.flag}, is empty`);
  return lines;
}

/** Reads stdin to its end and splits it as splitSecretLines does. */
export async function readSecretLines(secrets: readonly StdinSecret[]): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return splitSecretLines(Buffer.concat(chunks).toString('utf8'), secrets);
}
