import { beforeAll, describe, expect, it } from 'vitest';
import { decideAdmission } from '../../server/admission.js';
import { hashPassword } from '../../server/password.js';
import type { Settings } from '../../server/settings.js';
import type { Index } from '../../server/store.js';

const settings = { twoFactor: true, maxClients: 2 } as Settings;
let index: Index;

beforeAll(async () => {
  const account = (name: string, serial: string, passwordHash?: string) => ({
    name,
    state: 'active' as const,
    serial,
    keyType: 'ec' as const,
    createdAt: '',
    notAfter: '',
    bundleRevision: 0,
    ...(passwordHash ? { passwordHash } : {}),
  });
  index = {
    version: 1,
    crlNumber: 1,
    accounts: [account('alice', '4a01', await hashPassword('alice-pw')), { ...account('zed', '4a02'), state: 'revoked' }],
    revoked: [],
  };
});

function env(values: Record<string, string>) {
  return new Map(Object.entries({ common_name: 'alice', tls_serial_hex_0: '4a:01', ...values }));
}

async function decide(values: Record<string, string>, opts: { twoFactor?: boolean; others?: string[] } = {}) {
  return decideAdmission({
    env: env(values),
    settings: { ...settings, twoFactor: opts.twoFactor ?? true },
    index,
    otherConnectedAccounts: new Set(opts.others ?? []),
  });
}

describe('decideAdmission', () => {
  it('admits the right password for the certificate account', async () => {
    expect(await decide({ username: 'alice', password: 'alice-pw' })).toEqual({ allow: true, account: 'alice' });
  });

  it.each([
    [{ username: 'alice', password: 'wrong' }, 'wrong password'],
    [{ username: 'alice', password: '' }, 'password required'],
    [{ username: 'bob', password: 'alice-pw' }, 'username does not match'],
    [{ common_name: 'mallory', password: 'x' }, 'unknown account'],
    [{ common_name: 'zed', tls_serial_hex_0: '4a:02', password: 'x' }, 'certificate revoked'],
    [{ tls_serial_hex_0: '99:99', password: 'alice-pw' }, 'certificate replaced'],
    [{ tls_serial_hex_0: '', password: 'alice-pw' }, 'certificate not recognised'],
    [{ session_state: 'Expired', password: 'token' }, 'session expired'],
  ])('refuses %o (%s)', async (values, clientReason) => {
    const result = await decide(values);
    expect(result.allow).toBe(false);
    if (!result.allow) expect(result.clientReason).toContain(clientReason);
  });

  it('accepts a valid auth token without a password check', async () => {
    expect((await decide({ session_state: 'Authenticated', password: 'SESS_ID_AT_x' })).allow).toBe(true);
  });

  it('two-factor off: the certificate alone is enough', async () => {
    expect((await decide({}, { twoFactor: false })).allow).toBe(true);
  });

  it('enforces the connection limit, but lets an account replace its own session', async () => {
    const full = await decide({ password: 'alice-pw' }, { others: ['bob', 'carol'] });
    expect(full.allow).toBe(false);
    if (!full.allow) expect(full.clientReason).toBe('connection limit reached (2 clients)');
    expect((await decide({ password: 'alice-pw' }, { others: ['bob'] })).allow).toBe(true);
  });
});
