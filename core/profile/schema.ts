/**
 * The client profile: what Ferry knows about one VPN connection. Stored as profile.json
 * (validated by ProfileSchema on every load) next to the PEM files it names. Secrets
 * (password, OTP secret, key passphrase) are never part of it: they live in the keychain.
 */
import { z } from 'zod';
import { hasControlCharacter, lineBudget, quotedBytes } from '../engine/quote.js';
import { hasUnprintable } from '../util/unprintable.js';

export const PROFILE_VERSION = 1;

/**
 * Free text the config builder writes quoted, on a line `${before}"TEXT"${after}`: no
 * control characters (a line break would start a directive of its own, as root in
 * ferry-helper), and short enough once quoted that the line stays within openvpn's limit.
 * `what` names the value in errors; `fix` says what to do about a long one.
 */
export function quotedConfigText(what: string, line: { before: string; after?: string }, fix?: string) {
  const budget = lineBudget(line.before, line.after);
  return z
    .string()
    .refine((s) => !hasControlCharacter(s), `${what} cannot contain control characters (line breaks, tabs, …)`)
    .refine((s) => quotedBytes(s) <= budget, `${what} is too long for openvpn's config: at most ${budget - 2} bytes (UTF-8; each " or \\ counts twice)${fix ? `; ${fix}` : ''}`);
}

/** Profile names are shown to people and used as keychain keys; directory names are derived ids. */
export const ProfileNameSchema = z
  .string()
  .trim()
  .min(1, 'a profile name cannot be empty')
  .max(64, 'a profile name is at most 64 characters')
  .refine((s) => !hasUnprintable(s) && !/[/\\]/.test(s), 'a profile name cannot contain control characters or slashes');

/** Shown on terminals (`ferry profiles`, the password prompt) and sent to the gateway. */
export const UsernameSchema = z.string().max(256).refine((s) => !hasUnprintable(s), 'a username cannot contain control characters or bidi controls');

/**
 * A hostname or IPv4/IPv6 literal: no spaces, quotes or control characters reach openvpn's
 * config. At most 237 characters, what `remote HOST 65535 tcp` leaves of openvpn's line
 * (DNS allows 253; no real gateway comes near either).
 */
const HOST_MAX = lineBudget('remote ', ' 65535 tcp');
export const HostSchema = z
  .string()
  .min(1)
  .max(HOST_MAX, `a gateway host is at most ${HOST_MAX} characters`)
  .regex(/^[A-Za-z0-9._:-]+$/, 'a gateway host is a hostname or an IP address')
  // "-x" would read as an option to tools given the host; ".:." names nothing.
  .refine((s) => !s.startsWith('-') && /[A-Za-z0-9]/.test(s), 'a gateway host is a hostname or an IP address');

export const ProtoSchema = z.enum(['udp', 'tcp']);
export type Proto = z.infer<typeof ProtoSchema>;

export const RemoteSchema = z.object({
  host: HostSchema,
  port: z.number().int().min(1).max(65535),
  proto: ProtoSchema,
});
export type Remote = z.infer<typeof RemoteSchema>;

export const OtpSchema = z.object({
  kind: z.enum(['none', 'totp', 'hotp']),
  digits: z.number().int().min(6).max(8).default(6),
  /** TOTP step in seconds. */
  period: z.number().int().min(10).max(300).default(30),
  algorithm: z.enum(['SHA1', 'SHA256', 'SHA512']).default('SHA1'),
  /** HOTP: the next counter value to use. */
  counter: z.number().int().min(0).default(0),
});
export type OtpSettings = z.infer<typeof OtpSchema>;

/** `static-challenge "text" echo` from an imported .ovpn: the server wants an OTP sent as SCRV1. */
export const StaticChallengeSchema = z.object({
  text: quotedConfigText('the static-challenge text', { before: 'static-challenge ', after: ' 1' }),
  echo: z.boolean(),
});

const KeyNameSchema = z.enum(['ca.crt', 'client.crt', 'client.key', 'tls-auth.key', 'tls-crypt.key', 'tls-crypt-v2.key']);
export type ProfileFileName = z.infer<typeof KeyNameSchema>;

/** A cipher or digest name; OpenSSL's are under 32 characters, so 64 is generous and far inside a line. */
const AlgorithmName = z.string().max(64).regex(/^[A-Za-z0-9-]+$/);
/** openvpn refuses a longer data-ciphers list itself (src/openvpn/ssl_ncp.h MAX_NCP_CIPHERS_LENGTH). */
const MAX_NCP_CIPHERS_LENGTH = 127;

/**
 * The openvpn options Ferry keeps from an imported profile (the allowlist). Everything
 * else in an .ovpn is refused at import; the config builder writes only these. Every
 * string is either a word of a pattern without spaces or controls, capped to fit its
 * line, or quotedConfigText; every list is bounded.
 */
export const EngineOptionsSchema = z.object({
  dev: z.enum(['tun', 'tap']).default('tun'),
  /** data-ciphers (colon-separated AEAD/CBC names as openvpn spells them). */
  dataCiphers: z.string().max(MAX_NCP_CIPHERS_LENGTH).regex(/^[A-Za-z0-9-]+(:[A-Za-z0-9-]+)*$/).optional(),
  dataCiphersFallback: AlgorithmName.optional(),
  /** HMAC digest for tls-auth / CBC ciphers (`auth SHA256`). */
  auth: AlgorithmName.optional(),
  tlsAuth: z.object({ direction: z.union([z.literal(0), z.literal(1)]).optional() }).optional(),
  tlsCrypt: z.boolean().optional(),
  tlsCryptV2: z.boolean().optional(),
  verifyX509Name: z
    .object({
      // A subject may hold backslash escapes (`CN=a\, b`): quoting keeps them, the cap counts them twice.
      name: quotedConfigText('the verify-x509-name name', { before: 'verify-x509-name ', after: ' name-prefix' }).min(1),
      type: z.enum(['subject', 'name', 'name-prefix']),
    })
    .optional(),
  remoteCertTls: z.enum(['server']).default('server'),
  tlsVersionMin: z.enum(['1.0', '1.1', '1.2', '1.3']).optional(),
  tlsCipher: z.string().max(lineBudget('tls-cipher ')).regex(/^[A-Za-z0-9:+_-]+$/).optional(),
  /** Compression framing the server expects; `undefined` = none. Ferry never compresses itself unless asked. */
  compress: z.enum(['lz4-v2', 'lz4', 'stub-v2', 'stub', 'migrate']).optional(),
  compLzo: z.enum(['no', 'yes', 'adaptive']).optional(),
  tunMtu: z.number().int().min(576).max(65535).optional(),
  mssfix: z.number().int().min(0).max(65535).optional(),
  fragment: z.number().int().min(0).max(65535).optional(),
  renegSec: z.number().int().min(0).max(604800).optional(),
  keepalive: z.object({ interval: z.number().int().min(1).max(3600), timeout: z.number().int().min(2).max(7200) }).optional(),
  remoteRandom: z.boolean().optional(),
  /** Route-related client choices kept from the profile. */
  routeNopull: z.boolean().optional(),
  /** At most the eight flags there are (the importer merges repeats). */
  redirectGateway: z.array(z.enum(['def1', 'bypass-dhcp', 'bypass-dns', 'local', 'autolocal', 'block-local', 'ipv6', '!ipv4'])).max(8).optional(),
  /** Pushed options to ignore (`pull-filter ignore "…"`), e.g. redirect-gateway; bounded, as every list the helper takes. */
  pullFilterIgnore: z.array(z.string().min(1).max(64).regex(/^[A-Za-z0-9 ._-]+$/)).max(32).optional(),
});
export type EngineOptions = z.infer<typeof EngineOptionsSchema>;

/** The longest profile id; the runtime dir is sized for sockets named after it (core/paths.ts). */
export const PROFILE_ID_MAX = 41;

export const ProfileSchema = z.object({
  version: z.literal(PROFILE_VERSION),
  /** Stable id: the profile's directory name and keychain key. Never shown. */
  id: z.string().regex(new RegExp(`^[a-z0-9][a-z0-9-]{0,${PROFILE_ID_MAX - 1}}$`)),
  name: ProfileNameSchema,
  remotes: z.array(RemoteSchema).min(1).max(16),
  /** Username for the server's password check (ferry-server: the account name). */
  username: UsernameSchema.optional(),
  /** The server expects a username/password (openvpn `auth-user-pass`). */
  passwordRequired: z.boolean(),
  staticChallenge: StaticChallengeSchema.optional(),
  otp: OtpSchema.default({ kind: 'none', digits: 6, period: 30, algorithm: 'SHA1', counter: 0 }),
  /** Give up reconnecting after this long (the seed's client: 60 s). */
  reconnectTimeoutSec: z.number().int().min(5).max(86400).default(60),
  autoConnect: z.boolean().default(false),
  minimizeOnConnect: z.boolean().default(false),
  /** The client key is passphrase-protected (openvpn will ask for 'Private Key'). */
  keyEncrypted: z.boolean().default(false),
  /** Which PEM/key files the profile directory holds. */
  files: z.array(KeyNameSchema),
  engine: EngineOptionsSchema,
  createdAt: z.string(),
});
export type Profile = z.infer<typeof ProfileSchema>;
/** What `ferry set` / the profile editor may change. */
export const ProfilePatchSchema = ProfileSchema.pick({
  name: true,
  username: true,
  passwordRequired: true,
  otp: true,
  reconnectTimeoutSec: true,
  autoConnect: true,
  minimizeOnConnect: true,
  remotes: true,
}).partial();
export type ProfilePatch = z.infer<typeof ProfilePatchSchema>;

/** One certificate as `ferry show` and the import dialog present it. */
export const CertificateSummarySchema = z.object({
  role: z.enum(['ca', 'client']),
  subject: z.string(),
  issuer: z.string(),
  validFrom: z.string(),
  validTo: z.string(),
  sha1: z.string(),
  sha256: z.string(),
  keyType: z.string().optional(),
});
export type CertificateSummary = z.infer<typeof CertificateSummarySchema>;
