/**
 * Waiting assertions for playwright-core (its `expect` lives in @playwright/test, which we
 * do not use): each polls the page through vitest's expect.poll, so a wrong value fails
 * with what was last seen.
 */
import type { Locator } from 'playwright-core';
import { expect } from 'vitest';

const T = 10_000;

/** Text content, or '' while the element is not there (never blocks on a missing element). */
async function textOf(l: Locator): Promise<string> {
  return (await l.count()) > 0 ? ((await l.first().textContent()) ?? '') : '';
}

export async function visible(l: Locator, timeout = T): Promise<void> {
  await l.first().waitFor({ state: 'visible', timeout });
}

export async function hidden(l: Locator, timeout = T): Promise<void> {
  await l.first().waitFor({ state: 'hidden', timeout });
}

export async function text(l: Locator, expected: string | RegExp, timeout = T): Promise<void> {
  if (typeof expected === 'string') await expect.poll(() => textOf(l), { timeout }).toContain(expected);
  else await expect.poll(() => textOf(l), { timeout }).toMatch(expected);
}

export async function exactText(l: Locator, expected: string, timeout = T): Promise<void> {
  await expect.poll(async () => (await textOf(l)).trim(), { timeout }).toBe(expected);
}

export async function attribute(l: Locator, name: string, expected: string | null, timeout = T): Promise<void> {
  await expect.poll(async () => ((await l.count()) > 0 ? l.first().getAttribute(name) : '(absent)'), { timeout }).toBe(expected);
}

export async function count(l: Locator, expected: number, timeout = T): Promise<void> {
  await expect.poll(() => l.count(), { timeout }).toBe(expected);
}

export async function focused(l: Locator, timeout = 3_000): Promise<void> {
  await expect.poll(() => l.evaluate((el) => el === el.ownerDocument.activeElement).catch(() => false), { timeout }).toBe(true);
}

/** The accessible description: the text of the elements aria-describedby names. */
export async function description(l: Locator): Promise<string> {
  return l.evaluate((el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id: string) => el.ownerDocument.getElementById(id)?.textContent ?? '')
      .join(' '),
  );
}
