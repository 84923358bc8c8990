/**
 * Reads a profile.json as Ferry writes it without loading zod: `ferry profiles` and
 * `ferry status` read every profile on each run, and zod with ProfileSchema built costs
 * more than Node's own start.
 *
 * This is not a second schema. ProfileSchema (schema.ts) stays the one definition of a
 * profile and of its type; this recognises only the canonical form ProfileSchema itself
 * writes (every default present, no legacy fields, no static challenge, no name to trim)
 * and checks it with the same rules and the same helpers (the option table's row for each
 * directive, openvpn's line limit). Anything else — a hand-edited, older or damaged file —
 * returns undefined, and the store parses it with ProfileSchema, which accepts it or says
 * what is wrong. So whatever this accepts, ProfileSchema accepts with the same result:
 * test/unit/stored-profile.test.ts holds it to that over many variants of a profile.
 */
import { lineBudget, MAX_LINE_BYTES, utf8Bytes } from '../engine/quote.js';
import { hasUnprintable } from '../util/unprintable.js';
import { MAX_DIRECTIVE_BYTES, MAX_DIRECTIVES, PROFILE_ID_MAX } from './limits.js';
import { checkArgs, directiveLine, MAX_ARGS } from './option-args.js';
import { passThrough } from './option-policy.js';
import type { Directive, EngineOptions, OtpSettings, Profile, ProfileFileName, Remote } from './schema.js';

type Json = Record<string, unknown>;

const ID = new RegExp(`^[a-z0-9][a-z0-9-]{0,${PROFILE_ID_MAX - 1}}$`);
const HOST = /^[A-Za-z0-9._:-]+$/;
const HOST_MAX = lineBudget('remote ', ' 65535 tcp');
const FILES: ReadonlySet<string> = new Set(['ca.crt', 'client.crt', 'client.key', 'tls-auth.key', 'tls-crypt.key', 'tls-crypt-v2.key']);
const OTP_KEYS = new Set(['kind', 'digits', 'period', 'algorithm', 'counter']);
const ENGINE_KEYS = new Set(['dev', 'tlsAuth', 'tlsCrypt', 'tlsCryptV2', 'directives']);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const onlyKeys = (o: Json, keys: ReadonlySet<string>) => Object.keys(o).every((k) => keys.has(k));

/** The profile, when `json` is in the canonical form and valid; undefined: ask ProfileSchema. */
export function readStoredProfile(json: unknown): Profile | undefined {
  if (!isObject(json) || json.version !== 1) return undefined;
  const { id, name, username, passwordRequired, reconnectTimeoutSec, autoConnect, minimizeOnConnect, keyEncrypted, createdAt } = json;
  if (typeof id !== 'string' || !ID.test(id)) return undefined;
  if (typeof name !== 'string' || name !== name.trim() || name.length < 1 || name.length > 64 || hasUnprintable(name) || /[/\\]/.test(name)) return undefined;
  if (username !== undefined && (typeof username !== 'string' || username.length > 256 || hasUnprintable(username))) return undefined;
  if (!isBool(passwordRequired) || !isBool(autoConnect) || !isBool(minimizeOnConnect) || !isBool(keyEncrypted)) return undefined;
  if ('staticChallenge' in json || !isInt(reconnectTimeoutSec, 5, 86400) || typeof createdAt !== 'string') return undefined;
  const remotes = readRemotes(json.remotes);
  const otp = readOtp(json.otp);
  const files = readFiles(json.files);
  const engine = readEngine(json.engine);
  if (!remotes || !otp || !files || !engine) return undefined;
  return {
    version: 1,
    id,
    name,
    remotes,
    ...(username !== undefined ? { username } : {}),
    passwordRequired,
    otp,
    reconnectTimeoutSec,
    autoConnect,
    minimizeOnConnect,
    keyEncrypted,
    files,
    engine,
    createdAt,
  };
}

function readRemotes(value: unknown): Remote[] | undefined {
  if (!Array.isArray(value) || value.length < 1 || value.length > 16) return undefined;
  const remotes: Remote[] = [];
  for (const r of value) {
    if (!isObject(r)) return undefined;
    const { host, port, proto } = r;
    if (typeof host !== 'string' || host.length < 1 || host.length > HOST_MAX || !HOST.test(host) || host.startsWith('-') || !/[A-Za-z0-9]/.test(host)) return undefined;
    if (!isInt(port, 1, 65535) || (proto !== 'udp' && proto !== 'tcp')) return undefined;
    remotes.push({ host, port, proto });
  }
  return remotes;
}

function readOtp(value: unknown): OtpSettings | undefined {
  if (!isObject(value) || !onlyKeys(value, OTP_KEYS)) return undefined;
  const { kind, digits, period, algorithm, counter } = value;
  if (kind !== 'none' && kind !== 'totp' && kind !== 'hotp') return undefined;
  if (!isInt(digits, 6, 8) || !isInt(period, 10, 300) || !isInt(counter, 0, Number.MAX_SAFE_INTEGER)) return undefined;
  if (algorithm !== 'SHA1' && algorithm !== 'SHA256' && algorithm !== 'SHA512') return undefined;
  return { kind, digits, period, algorithm, counter };
}

function readFiles(value: unknown): ProfileFileName[] | undefined {
  if (!Array.isArray(value) || !value.every((f) => typeof f === 'string' && FILES.has(f))) return undefined;
  return [...(value as ProfileFileName[])];
}

/** Only the current fields, directives present: then ProfileSchema's transform keeps them as they are. */
function readEngine(value: unknown): EngineOptions | undefined {
  if (!isObject(value) || !onlyKeys(value, ENGINE_KEYS)) return undefined;
  const { dev, tlsAuth, tlsCrypt, tlsCryptV2 } = value;
  if (dev !== 'tun' && dev !== 'tap') return undefined;
  if (tlsCrypt !== undefined && !isBool(tlsCrypt)) return undefined;
  if (tlsCryptV2 !== undefined && !isBool(tlsCryptV2)) return undefined;
  let auth: { direction?: 0 | 1 } | undefined;
  if (tlsAuth !== undefined) {
    if (!isObject(tlsAuth) || !onlyKeys(tlsAuth, new Set(['direction']))) return undefined;
    const { direction } = tlsAuth;
    if (direction !== undefined && direction !== 0 && direction !== 1) return undefined;
    auth = direction !== undefined ? { direction } : {};
  }
  const directives = readDirectives(value.directives);
  if (!directives) return undefined;
  return {
    dev,
    ...(auth ? { tlsAuth: auth } : {}),
    ...(tlsCrypt !== undefined ? { tlsCrypt } : {}),
    ...(tlsCryptV2 !== undefined ? { tlsCryptV2 } : {}),
    directives,
  };
}

/** Each a kept row of the option table, within its bounds and openvpn's line limit (DirectiveSchema's rules). */
function readDirectives(value: unknown): Directive[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_DIRECTIVES) return undefined;
  const directives: Directive[] = [];
  let total = 0;
  for (const d of value) {
    if (!isObject(d) || Object.keys(d).length !== 2 || !('name' in d) || !('args' in d)) return undefined;
    const { name, args } = d;
    if (typeof name !== 'string' || name.length > 64 || !Array.isArray(args) || args.length > MAX_ARGS) return undefined;
    if (!args.every((a): a is string => typeof a === 'string' && a.length <= MAX_LINE_BYTES)) return undefined;
    const row = passThrough(name);
    if (!row || (row.refuse?.(args) ?? checkArgs(row.args!, args)) !== undefined) return undefined;
    const bytes = utf8Bytes(directiveLine(name, args));
    if (bytes > MAX_LINE_BYTES) return undefined;
    total += bytes + 1;
    directives.push({ name, args: [...args] });
  }
  return total <= MAX_DIRECTIVE_BYTES ? directives : undefined;
}
