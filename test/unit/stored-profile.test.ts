/**
 * stored-profile.ts reads the canonical profile.json without zod; ProfileSchema stays the
 * definition. Held here: whatever the fast reader accepts, ProfileSchema accepts with the
 * same result (keys and their order included), over a profile Ferry writes and many
 * variants of it (each field removed, replaced by odd values, extra fields, legacy fields).
 */
import { describe, expect, it } from 'vitest';
import { ProfileSchema } from '../../core/profile/schema.js';
import { readStoredProfile } from '../../core/profile/stored-profile.js';

const canonical = {
  version: 1,
  id: 'office-6a0d59',
  name: 'office',
  remotes: [{ host: '198.18.0.1', port: 1194, proto: 'tcp' }],
  username: 'alice',
  passwordRequired: true,
  otp: { kind: 'none', digits: 6, period: 30, algorithm: 'SHA1', counter: 0 },
  reconnectTimeoutSec: 60,
  autoConnect: false,
  minimizeOnConnect: false,
  keyEncrypted: false,
  files: ['ca.crt', 'client.crt', 'client.key'],
  engine: {
    dev: 'tun',
    directives: [
      { name: 'remote-cert-tls', args: ['server'] },
      { name: 'verify-x509-name', args: ['ferry-gateway-baae82c5', 'name'] },
      { name: 'tls-version-min', args: ['1.2'] },
      { name: 'data-ciphers', args: ['AES-256-GCM'] },
    ],
  },
  createdAt: '2026-12-01T08:18:55.175Z',
};

const ODD: unknown[] = [
  undefined, null, true, false, 0, 1, -1, 1.5, 5, 6, 8, 9, 10, 300, 301, 65535, 65536, 86400, 86401, 2 ** 53, '',
  ' ', 'x', ' office ', 'a/b', 'a\u0007b', 'a\u202eb', '-host', '.:.', 'h'.repeat(238), 'n'.repeat(65), 'u'.repeat(257),
  'tun', 'tap', 'tcp', 'udp', 'none', 'totp', 'hotp', 'SHA1', 'SHA512', 'MD5', 'ca.crt', 'secret.txt', [], [1], ['ca.crt'], {},
  { direction: 1 }, { direction: 2 }, { host: 'h', port: 1, proto: 'udp' },
];

/** Every path to a value in `value`, as key lists. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const here = prefix.length ? [prefix] : [];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => paths(v, [...prefix, i]))];
  if (value && typeof value === 'object') return [...here, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  return here;
}

function withValue(base: unknown, at: (string | number)[], value: unknown, remove = false): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = at[at.length - 1]!;
  if (remove) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else parent[last] = value;
  return copy;
}

function variants(): unknown[] {
  const out: unknown[] = [canonical];
  for (const at of paths(canonical)) {
    out.push(withValue(canonical, at, undefined, true));
    for (const odd of ODD) out.push(withValue(canonical, at, odd));
  }
  const extra: [string[], unknown][] = [
    [['extra'], 1],
    [['staticChallenge'], { text: 'code', echo: true }],
    [['engine', 'tlsAuth'], { direction: 1 }],
    [['engine', 'tlsAuth'], {}],
    [['engine', 'tlsAuth'], { direction: 1, more: 1 }],
    [['engine', 'tlsCrypt'], true],
    [['engine', 'tlsCryptV2'], false],
    [['engine', 'dataCiphers'], 'AES-256-GCM'],
    [['engine', 'remoteCertTls'], 'server'],
    [['engine', 'unknown'], 1],
    [['remotes', '0', 'extra'], 1],
    [['otp', 'extra'], 1],
    [['engine', 'directives', '0', 'extra'], 1],
    [['engine', 'directives', '4'], { name: 'up', args: ['/bin/sh'] }],
    [['engine', 'directives', '4'], { name: 'cipher', args: ['none'] }],
    [['engine', 'directives', '4'], { name: 'verb', args: ['3'] }],
    [['engine', 'directives', '4'], { name: 'remote-cert-tls', args: ['server', 'extra'] }],
    [['engine', 'directives', '4'], { name: 'data-ciphers', args: ['x'.repeat(300)] }],
    [['engine', 'directives', '4'], { name: 'route', args: ['198.18.3.0', '255.255.255.0'] }],
  ];
  for (const [at, value] of extra) out.push(withValue(canonical, at, value));
  out.push({ ...canonical, engine: { ...canonical.engine, directives: Array.from({ length: 2001 }, () => ({ name: 'remote-cert-tls', args: ['server'] })) } });
  // The store hands both readers what JSON.parse made of the file: JSON values only.
  return out.map((v) => JSON.parse(JSON.stringify(v)) as unknown);
}

describe('readStoredProfile', () => {
  it('reads the profile Ferry writes, as ProfileSchema does', () => {
    const fast = readStoredProfile(structuredClone(canonical));
    expect(fast).toBeDefined();
    expect(fast).toStrictEqual(ProfileSchema.parse(structuredClone(canonical)));
    expect(JSON.stringify(fast)).toBe(JSON.stringify(ProfileSchema.parse(structuredClone(canonical))));
  });

  it('accepts only what ProfileSchema accepts, with the same result', () => {
    let accepted = 0;
    for (const v of variants()) {
      const fast = readStoredProfile(structuredClone(v));
      const slow = ProfileSchema.safeParse(structuredClone(v));
      if (fast === undefined) continue;
      accepted++;
      expect(slow.success, JSON.stringify(v)).toBe(true);
      expect(fast, JSON.stringify(v)).toStrictEqual(slow.data);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(slow.data));
    }
    expect(accepted).toBeGreaterThan(20); // the fast path is exercised, not only refused
  });
});
