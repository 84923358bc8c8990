/** The window's login prompts (electron/prompts.ts): what the core's questions become. */
import { describe, expect, it } from 'vitest';
import { PromptSchema, type FerryEvent } from '../../electron/contract.js';
import { PromptBroker } from '../../electron/prompts.js';

function ask(req: { rejected?: string; expired?: boolean }) {
  const events: FerryEvent[] = [];
  const broker = new PromptBroker((e) => events.push(e));
  void broker.prompterFor({ id: 'p1', name: 'Office' }).password({ profile: 'Office', username: 'alice', ...req });
  const event = events.find((e) => e.type === 'prompt') as { prompt: unknown } | undefined;
  return PromptSchema.parse(event?.prompt);
}

describe('PromptBroker password prompts', () => {
  it('a first login says nothing more; a wrong password says it was refused; a re-login after the gateway ended the session says that, not "wrong password"', () => {
    const first = ask({});
    expect(first).toMatchObject({ kind: 'password', text: 'alice', profile: 'Office' });
    expect(first.rejected).toBeUndefined();
    expect(first.expired).toBeUndefined();

    expect(ask({ rejected: 'wrong password' })).toMatchObject({ rejected: 'wrong password' });
    expect(ask({ rejected: 'wrong password' }).expired).toBeUndefined();

    const relogin = ask({ expired: true });
    expect(relogin.expired).toBe(true);
    expect(relogin.rejected).toBeUndefined();
  });
});
