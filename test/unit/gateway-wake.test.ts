/** Which clients the gateway wakes with client-pending-auth before admitting (server/gateway.ts admitAndWake). */
import { describe, expect, it } from 'vitest';
import { takesPushUnasked } from '../../server/gateway.js';

const env = (ivProto?: string) => new Map(ivProto === undefined ? [] : [['IV_PROTO', ivProto]]);

describe('takesPushUnasked', () => {
  it('is true for a client announcing IV_PROTO_REQUEST_PUSH and IV_PROTO_AUTH_PENDING_KW (OpenVPN 2.5+)', () => {
    expect(takesPushUnasked(env('990'))).toBe(true); // OpenVPN 2.6.14's own IV_PROTO
    expect(takesPushUnasked(env(String((1 << 2) | (1 << 4))))).toBe(true);
  });

  it('is false when either bit is missing, or IV_PROTO is absent or not a number', () => {
    expect(takesPushUnasked(env(String(1 << 1)))).toBe(false); // 2.4: DATA_V2 only
    expect(takesPushUnasked(env(String((1 << 1) | (1 << 2))))).toBe(false); // no AUTH_PENDING keywords
    expect(takesPushUnasked(env(String((1 << 1) | (1 << 4))))).toBe(false); // waits to be asked
    expect(takesPushUnasked(env())).toBe(false);
    expect(takesPushUnasked(env('lots'))).toBe(false);
    expect(takesPushUnasked(env('1e400'))).toBe(false);
  });
});
