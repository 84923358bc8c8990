/**
 * The core's Prompter for the desktop: each question the core asks while connecting
 * (password, one-time code, challenge, key passphrase) becomes a `prompt` event the window
 * shows, and waits for `answer`. The answer carries the login dialog's "remember" box
 * back to the core as part of the answer, so nothing here reaches into a session.
 *
 * Open questions are bounded: one per profile and kind at a time (a newer one replaces
 * the older, which is answered "nobody"), and all of a profile's close when its session ends.
 */
import { randomUUID } from 'node:crypto';
import type { Profile } from '../core/profile/schema.js';
import type { PromptAnswer, Prompter } from '../core/session/credentials.js';
import type { FerryEvent, Prompt } from './contract.js';

interface Pending {
  prompt: Prompt;
  profileId: string;
  resolve: (answer: PromptAnswer | undefined) => void;
}

export class PromptBroker {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly emit: (event: FerryEvent) => void) {}

  /** The Prompter a connect of `profile` uses. */
  prompterFor(profile: Pick<Profile, 'id' | 'name'>): Prompter {
    const ask = (kind: Prompt['kind'], text: string, echo: boolean, rejected?: string, expired?: boolean) =>
      new Promise<PromptAnswer | undefined>((resolve) => {
        for (const [id, p] of this.pending) if (p.profileId === profile.id && p.prompt.kind === kind) this.close(id);
        const prompt: Prompt = { id: randomUUID(), profile: profile.name, kind, text, echo, ...(rejected !== undefined ? { rejected: rejected || 'the gateway refused the password' } : expired ? { expired: true } : {}) };
        this.pending.set(prompt.id, { prompt, profileId: profile.id, resolve });
        this.emit({ type: 'prompt', prompt });
      });
    return {
      password: (req) => ask('password', req.username, false, req.rejected, req.expired),
      otp: (req) => ask('otp', req.text, req.echo),
      challenge: (req) => ask('challenge', req.text, req.echo),
      keyPassphrase: () => ask('key-passphrase', '', false),
    };
  }

  /** The window answered (`value` undefined: cancelled). False when the question is no longer open. */
  answer(id: string, value: string | undefined, remember: boolean | undefined): boolean {
    const pending = this.pending.get(id);
    if (!pending) return false;
    this.pending.delete(id);
    this.emit({ type: 'prompt-closed', id });
    // "remember" means something for a password only; the core saves it once the gateway accepts it.
    pending.resolve(value === undefined ? undefined : { value, ...(pending.prompt.kind === 'password' && remember !== undefined ? { remember } : {}) });
    return true;
  }

  /** Questions of a session that ended have no one to go to. */
  closeFor(profileId: string): void {
    for (const [id, pending] of this.pending) if (pending.profileId === profileId) this.close(id);
  }

  closeAll(): void {
    for (const id of [...this.pending.keys()]) this.close(id);
  }

  private close(id: string): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    this.emit({ type: 'prompt-closed', id });
    pending.resolve(undefined);
  }
}
