import { z } from 'zod';
import { InputError } from '../core/util/errors.js';
import { isDialableHost, isIpv4Address, networksOverlap, parseIpv4Cidr, poolCapacity } from './net.js';

/** The AEAD data-channel ciphers OpenVPN 2.6 negotiates; CBC ciphers are refused on purpose. */
export const AEAD_CIPHERS = ['AES-256-GCM', 'AES-192-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'] as const;
export const KEY_TYPES = ['ec', 'rsa2048', 'rsa3072'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const MAX_SUBNETS = 5;
export const PORT_MIN = 1024;
export const PORT_MAX = 49151;

/** The SSL server settings of the seed's section 3.4.2, as stored in settings.json. */
export const SettingsSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  host: z.string(),
  port: z.number().int(),
  proto: z.enum(['tcp', 'udp']),
  pool: z.string(),
  subnets: z.array(z.string()),
  dns: z.array(z.string()),
  cipher: z.enum(AEAD_CIPHERS),
  compress: z.boolean(),
  twoFactor: z.boolean(),
  maxClients: z.number().int(),
  keyType: z.enum(KEY_TYPES),
  /** CN of the gateway's certificate; clients pin it with verify-x509-name. */
  serverCommonName: z.string(),
  /** The whole gateway's SSL bandwidth (both directions, Mbit/s); absent = no cap. Applied live. */
  bandwidthMbps: z.number().positive().optional(),
  /** Several gateways: bundles list them in random order (else in the order they were added). */
  remoteRandom: z.boolean().optional(),
  /** Bumped whenever a field that ends up in clients' profiles changes (see PROFILE_FIELDS). */
  profileRevision: z.number().int().nonnegative(),
});
export type Settings = z.infer<typeof SettingsSchema>;

export const DEFAULTS = {
  port: 1194,
  proto: 'tcp',
  pool: '10.8.0.0/24',
  cipher: 'AES-256-GCM',
  compress: false,
  twoFactor: true,
  maxClients: 100,
  keyType: 'ec',
} as const satisfies Partial<Settings>;

/**
 * Fields written into every client's .ovpn. The seed names protocol, compression and
 * two-factor; host, port and cipher change the bundle too, so they count as well.
 */
export const PROFILE_FIELDS = ['host', 'port', 'proto', 'compress', 'twoFactor', 'cipher', 'remoteRandom'] as const;
/** Fields the seed freezes once clients exist. */
export const FROZEN_WITH_ACCOUNTS = ['subnets', 'pool'] as const;

const NAME_RE = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;

/** Checks every rule of section 3.4.2; throws an InputError naming the first broken one. */
export function validateSettings(s: Settings): Settings {
  if (!NAME_RE.test(s.name)) {
    throw new InputError(`server name "${s.name}" must be 1-64 letters, digits, spaces, dots, dashes or underscores`);
  }
  if (!isDialableHost(s.host)) {
    throw new InputError(`--host "${s.host}" is not a hostname or IP address clients can dial`);
  }
  if (!Number.isInteger(s.port) || s.port < PORT_MIN || s.port > PORT_MAX) {
    throw new InputError(`--port ${s.port} is out of range: choose a port from ${PORT_MIN} to ${PORT_MAX} (default ${DEFAULTS.port})`);
  }
  if (s.subnets.length < 1) {
    throw new InputError('at least one --subnet is required: the local (VPC) subnets clients may reach');
  }
  if (s.subnets.length > MAX_SUBNETS) {
    throw new InputError(`${s.subnets.length} local subnets given; at most ${MAX_SUBNETS} are allowed`);
  }
  const subnets = s.subnets.map((cidr) => asInput(() => parseIpv4Cidr(cidr, 'local subnet')));
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      if (networksOverlap(subnets[i]!, subnets[j]!)) {
        throw new InputError(`local subnets ${subnets[i]!.cidr} and ${subnets[j]!.cidr} overlap; list each network once`);
      }
    }
  }
  const pool = asInput(() => parseIpv4Cidr(s.pool, 'client address pool'));
  if (pool.prefix < 16) {
    throw new InputError(`client address pool ${pool.cidr} is too large: OpenVPN hands out at most a /16 (65,533 clients); use a /16 or smaller`);
  }
  if (pool.prefix > 29) {
    throw new InputError(`client address pool ${pool.cidr} is too small: OpenVPN needs at least a /29`);
  }
  for (const subnet of subnets) {
    if (networksOverlap(pool, subnet)) {
      throw new InputError(
        `client address pool ${pool.cidr} overlaps local subnet ${subnet.cidr}; clients could not reach it. Choose a pool outside every local subnet`,
      );
    }
  }
  if (!Number.isInteger(s.maxClients) || s.maxClients < 1) {
    throw new InputError(`--max-clients ${s.maxClients} must be a whole number of at least 1`);
  }
  if (poolCapacity(pool) < s.maxClients) {
    throw new InputError(
      `client address pool ${pool.cidr} holds ${poolCapacity(pool)} client addresses, fewer than --max-clients ${s.maxClients}; use a larger pool or lower --max-clients`,
    );
  }
  for (const dns of s.dns) {
    if (!isIpv4Address(dns)) throw new InputError(`--dns "${dns}" is not an IPv4 address`);
  }
  if (!(AEAD_CIPHERS as readonly string[]).includes(s.cipher)) {
    throw new InputError(`--cipher ${s.cipher} is not supported; choose one of ${AEAD_CIPHERS.join(', ')} (AEAD ciphers only)`);
  }
  return { ...s, pool: pool.cidr, subnets: subnets.map((n) => n.cidr) };
}

export const COMPRESSION_WARNING =
  'warning: compression is on. Compressing encrypted traffic can leak its content to an attacker who can inject data (VORACLE); keep it off unless clients need it.';

/** Which changed fields make existing bundles stale, and which are frozen while accounts exist. */
export function diffSettings(before: Settings, after: Settings): { profileFields: string[]; frozenFields: string[] } {
  const changed = (key: keyof Settings) => JSON.stringify(before[key]) !== JSON.stringify(after[key]);
  return {
    profileFields: PROFILE_FIELDS.filter(changed),
    frozenFields: FROZEN_WITH_ACCOUNTS.filter(changed),
  };
}

function asInput<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}
