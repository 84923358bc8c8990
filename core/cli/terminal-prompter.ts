/**
 * The CLI's Prompter: asks on the terminal with input hidden. Without a terminal it
 * answers "nobody can ask" at once (and says why), so `ferry connect` never hangs
 * waiting for input that cannot come.
 */
import { read } from 'read';
import type { PasswordRequest, PromptAnswer, Prompter } from '../session/credentials.js';

/** The password prompt: a rejected password is said to be one; an expired session is not. */
export function passwordPrompt(req: PasswordRequest): string {
  const prefix = req.rejected !== undefined ? 'The gateway rejected the password. ' : req.expired ? 'Your session on the gateway expired; log in again. ' : '';
  return `${prefix}Password for ${req.username || req.profile}: `;
}

export class TerminalPrompter implements Prompter {
  /** Why nothing could be asked, for the error the CLI prints. */
  refused: string | undefined;

  constructor(private readonly interactive: boolean) {}

  password(req: PasswordRequest) {
    if (req.rejected !== undefined && !this.interactive) return Promise.resolve(undefined);
    return this.ask(passwordPrompt(req), true, req.expired ? 'the session on the gateway expired and a password is needed to log in again' : 'a password is needed');
  }

  otp(req: { text: string; echo: boolean }) {
    return this.ask(`${req.text || 'One-time code'}: `, !req.echo, 'a one-time code is needed (pipe it with --otp-stdin)');
  }

  challenge(req: { text: string; echo: boolean }) {
    return this.ask(`The gateway asks: ${req.text} `, !req.echo, `the gateway asks "${req.text}" (pipe the answer with --otp-stdin)`);
  }

  keyPassphrase(req: { profile: string }) {
    return this.ask(`Passphrase for the private key of ${req.profile}: `, true, 'the private key needs its passphrase');
  }

  private async ask(prompt: string, silent: boolean, what: string): Promise<PromptAnswer | undefined> {
    if (!this.interactive) {
      this.refused = `${what}, and there is no terminal to ask on`;
      return undefined;
    }
    try {
      // Remembering is --save-password's business on the command line: nothing asked here.
      return { value: String(await read({ prompt, silent, replace: '', input: process.stdin, output: process.stderr })) };
    } catch {
      this.refused = `${what}, and the prompt was cancelled`;
      return undefined;
    }
  }
}
