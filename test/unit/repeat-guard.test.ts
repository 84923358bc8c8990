/** The repeat guard: when the same failure, attempt after attempt, is a verdict. */
import { describe, expect, it } from 'vitest';
import type { Failure } from '../../core/session/failures.js';
import { REPEAT_LIMIT, REPEAT_SPAN_MS, RepeatGuard, repeatedFailure } from '../../core/session/repeat-guard.js';

const compression: Failure = { code: 'config', detail: 'pushed-compression', params: {} };
const cipher: Failure = { code: 'config', detail: 'cipher-not-allowed', params: { cipher: 'AES-128-CBC', allowed: 'AES-256-GCM' } };

describe('RepeatGuard', () => {
  it('is a verdict on the REPEAT_LIMIT-th attempt in a row, not before', () => {
    const guard = new RepeatGuard();
    for (let i = 1; i < REPEAT_LIMIT; i++) expect(guard.record(compression, 1000 + i)).toBe(0);
    expect(guard.record(compression, 1000 + REPEAT_LIMIT)).toBe(REPEAT_LIMIT);
  });

  it('another failure, or an attempt without one, starts the count over', () => {
    const guard = new RepeatGuard(3);
    guard.record(compression, 0);
    guard.record(compression, 1);
    expect(guard.record(cipher, 2)).toBe(0);
    expect(guard.record(compression, 3)).toBe(0);
    expect(guard.record(undefined, 4)).toBe(0);
    expect(guard.record(compression, 5)).toBe(0);
    expect(guard.record(compression, 6)).toBe(0);
    expect(guard.record(compression, 7)).toBe(3);
  });

  it('reset() (CONNECTED in between) starts the count over', () => {
    const guard = new RepeatGuard(3);
    guard.record(compression, 0);
    guard.record(compression, 1);
    guard.reset();
    expect(guard.record(compression, 2)).toBe(0);
  });

  it('the same code with another explanation, or other params, is another failure', () => {
    const guard = new RepeatGuard(2);
    guard.record(compression, 0);
    expect(guard.record({ ...compression, detail: 'push-options' }, 1)).toBe(0);
    expect(guard.record({ ...cipher, params: { cipher: 'BF-CBC', allowed: 'AES-256-GCM' } }, 2)).toBe(0);
  });

  it('is bounded in time too: two in a row REPEAT_SPAN_MS apart are a verdict (slow attempts)', () => {
    const guard = new RepeatGuard();
    expect(guard.record(compression, 0)).toBe(0);
    expect(guard.record(compression, REPEAT_SPAN_MS - 1)).toBe(0);
    const slow = new RepeatGuard();
    slow.record(compression, 0);
    expect(slow.record(compression, REPEAT_SPAN_MS)).toBe(2);
  });

  it('says how often in the reason, after the failure\'s own words', () => {
    expect(repeatedFailure(compression, 3)).toEqual({ ...compression, repeated: 3 });
  });
});
