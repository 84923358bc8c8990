/**
 * The client profile: what Ferry knows about one VPN connection. Stored as profile.json
 * (validated on every load: by ProfileSchema, or, for the canonical form ProfileSchema
 * writes, by stored-profile.ts with the same rules and without loading zod) next to the PEM
 * files it names. Secrets
 * (password, OTP secret, key passphrase) are never part of it: they live in the keychain.
 */
import { z } from 'zod';
import { lineBudget, MAX_LINE_BYTES, quotedBytes, utf8Bytes } from '../engine/quote.js';
import { hasUnprintable } from '../util/unprintable.js';
import { MAX_DIRECTIVE_BYTES, MAX_DIRECTIVES, PROFILE_ID_MAX } from './limits.js';
import { checkArgs, directiveLine, MAX_ARGS } from './option-args.js';
import { passThrough } from './option-policy.js';

export { MAX_DIRECTIVE_BYTES, MAX_DIRECTIVES, PROFILE_ID_MAX };

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
    .refine((s) => !hasUnprintable(s), `${what} cannot contain control characters (line breaks, tabs, …)`)
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
 * One option of the profile that Ferry writes back exactly as the profile gave it: a kept
 * row of the option table (option-policy.ts) with arguments within that row's bounds
 * (openvpn's own), no control character anywhere, and a line within openvpn's limit.
 */
export const DirectiveSchema = z
  .object({ name: z.string().max(64), args: z.array(z.string().max(MAX_LINE_BYTES)).max(MAX_ARGS) })
  .strict()
  .superRefine((d, ctx) => {
    const row = passThrough(d.name);
    const problem = !row ? 'is not an option Ferry writes as given' : (row.refuse?.(d.args) ?? checkArgs(row.args!, d.args));
    if (problem) return void ctx.addIssue({ code: 'custom', message: `${row ? d.name : 'this option'}: ${problem}` });
    const bytes = utf8Bytes(directiveLine(d.name, d.args));
    if (bytes > MAX_LINE_BYTES) ctx.addIssue({ code: 'custom', message: `${d.name}: ${bytes} bytes is over openvpn's limit of ${MAX_LINE_BYTES} for a line` });
  });
export type Directive = z.infer<typeof DirectiveSchema>;

/**
 * Fields of profiles stored before the option table (and of older helper callers), each
 * with the bounds it had then. They are read, never written: engineOptions() turns them
 * into the directives the old builder wrote for them, so such a profile connects as before.
 */
const LEGACY_FIELDS = {
  dataCiphers: z.string().max(MAX_NCP_CIPHERS_LENGTH).regex(/^[A-Za-z0-9-]+(:[A-Za-z0-9-]+)*$/).optional(),
  dataCiphersFallback: AlgorithmName.optional(),
  auth: AlgorithmName.optional(),
  verifyX509Name: z
    .object({
      name: quotedConfigText('the verify-x509-name name', { before: 'verify-x509-name ', after: ' name-prefix' }).min(1),
      type: z.enum(['subject', 'name', 'name-prefix']),
    })
    .optional(),
  remoteCertTls: z.enum(['server']).optional(),
  tlsVersionMin: z.enum(['1.0', '1.1', '1.2', '1.3']).optional(),
  tlsCipher: z.string().max(lineBudget('tls-cipher ')).regex(/^[A-Za-z0-9:+_-]+$/).optional(),
  compress: z.enum(['lz4-v2', 'lz4', 'stub-v2', 'stub', 'migrate']).optional(),
  compLzo: z.enum(['no', 'yes', 'adaptive']).optional(),
  tunMtu: z.number().int().min(576).max(65535).optional(),
  mssfix: z.number().int().min(0).max(65535).optional(),
  fragment: z.number().int().min(0).max(65535).optional(),
  renegSec: z.number().int().min(0).max(604800).optional(),
  keepalive: z.object({ interval: z.number().int().min(1).max(3600), timeout: z.number().int().min(2).max(7200) }).optional(),
  remoteRandom: z.boolean().optional(),
  routeNopull: z.boolean().optional(),
  redirectGateway: z.array(z.enum(['def1', 'bypass-dhcp', 'bypass-dns', 'local', 'autolocal', 'block-local', 'ipv6', '!ipv4'])).max(8).optional(),
  pullFilterIgnore: z.array(z.string().min(1).max(64).regex(/^[A-Za-z0-9 ._-]+$/)).max(32).optional(),
};

/**
 * The openvpn options Ferry keeps from an imported profile. The importer decides each
 * option from the option table; what it keeps as written is `directives`, in the profile's
 * order (openvpn's last-wins and first-match rules then apply as they would to the
 * profile). The device type and which TLS key file goes with the profile are its own fields.
 */
const EngineOptionsObject = z.object({
  dev: z.enum(['tun', 'tap']).default('tun'),
  /** The tls-auth line's own direction argument (a key-direction line is a directive). */
  tlsAuth: z.object({ direction: z.union([z.literal(0), z.literal(1)]).optional() }).optional(),
  tlsCrypt: z.boolean().optional(),
  tlsCryptV2: z.boolean().optional(),
  directives: z
    .array(DirectiveSchema)
    .max(MAX_DIRECTIVES)
    .refine((list) => list.reduce((sum, d) => sum + utf8Bytes(directiveLine(d.name, d.args)) + 1, 0) <= MAX_DIRECTIVE_BYTES, `the profile's options take more than ${MAX_DIRECTIVE_BYTES / 1024} KiB; remove some`)
    .optional(),
  ...LEGACY_FIELDS,
});

type EngineInput = z.infer<typeof EngineOptionsObject>;

/** Only the current fields; legacy ones become directives, in the order the old builder wrote them. */
function engineOptions(input: EngineInput) {
  const { dev, tlsAuth, tlsCrypt, tlsCryptV2, directives, ...old } = input;
  const d = (name: string, ...args: (string | number)[]): Directive => ({ name, args: args.map(String) });
  // Before the option table every engine had remote-cert-tls server (the schema's default).
  const remoteCertTls = old.remoteCertTls ?? (directives === undefined ? 'server' : undefined);
  const legacy: Directive[] = [
    ...(old.remoteRandom ? [d('remote-random')] : []),
    ...(remoteCertTls ? [d('remote-cert-tls', remoteCertTls)] : []),
    ...(old.verifyX509Name ? [d('verify-x509-name', old.verifyX509Name.name, old.verifyX509Name.type)] : []),
    ...(old.tlsVersionMin ? [d('tls-version-min', old.tlsVersionMin)] : []),
    ...(old.tlsCipher ? [d('tls-cipher', old.tlsCipher)] : []),
    ...(old.dataCiphers ? [d('data-ciphers', old.dataCiphers)] : []),
    ...(old.dataCiphersFallback ? [d('data-ciphers-fallback', old.dataCiphersFallback)] : []),
    ...(old.auth ? [d('auth', old.auth)] : []),
    // The old builder allowed asymmetric compression whenever it wrote a compression option.
    ...(old.compress !== undefined ? [d('allow-compression', 'asym'), d('compress', old.compress)] : []),
    ...(old.compLzo !== undefined ? [d('allow-compression', 'asym'), d('comp-lzo', old.compLzo)] : []),
    ...(old.tunMtu !== undefined ? [d('tun-mtu', old.tunMtu)] : []),
    ...(old.mssfix !== undefined ? [d('mssfix', old.mssfix)] : []),
    ...(old.fragment !== undefined ? [d('fragment', old.fragment)] : []),
    ...(old.renegSec !== undefined ? [d('reneg-sec', old.renegSec)] : []),
    ...(old.keepalive ? [d('keepalive', old.keepalive.interval, old.keepalive.timeout)] : []),
    ...(old.routeNopull ? [d('route-nopull')] : []),
    ...(old.redirectGateway ? [d('redirect-gateway', ...old.redirectGateway)] : []),
    ...(old.pullFilterIgnore ?? []).map((f) => d('pull-filter', 'ignore', f)),
  ];
  return {
    dev,
    ...(tlsAuth ? { tlsAuth } : {}),
    ...(tlsCrypt !== undefined ? { tlsCrypt } : {}),
    ...(tlsCryptV2 !== undefined ? { tlsCryptV2 } : {}),
    directives: [...legacy, ...(directives ?? [])],
  };
}

export const EngineOptionsSchema = EngineOptionsObject.transform(engineOptions);
/** The same, refusing any field it does not know (the privileged helper's requests). */
export const StrictEngineOptionsSchema = EngineOptionsObject.strict().transform(engineOptions);
export type EngineOptions = z.output<typeof EngineOptionsSchema>;

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
