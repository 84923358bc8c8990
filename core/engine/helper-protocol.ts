/**
 * The privileged helper's wire protocol (native/helper): one JSON request per line on a
 * unix socket; one JSON reply line; `start` and `watch` then stream the session's events
 * on the same connection until openvpn exits. The command set is closed: these schemas
 * are all the helper accepts, and it parses every request with them before acting. The
 * caller's identity is never in a request: the helper asks the kernel (SO_PEERCRED).
 *
 * The request carries structured fields and the certificate/key *contents*, never paths
 * or config text: the helper writes the files into its own root-only directory and
 * builds the config with the same builder the core uses (engine/config.ts).
 */
import { z } from 'zod';
import { KEY_LABELS } from '../profile/pem.js';
import { RemoteSchema, StrictEngineOptionsSchema } from '../profile/schema.js';
import { EngineSpecSchema } from './config.js';

export const DEFAULT_HELPER_SOCKET = '/run/ferry/helper.sock';
/**
 * macOS has no /run, and its /var/run is root:daemon 0775, which the helper refuses (a
 * daemon-group process could swap the socket's directory). /var/db is root:wheel 0755, kept
 * so by launchd at every boot; the launchd plist (native/darwin/com.ferry.helper.plist)
 * names the same path. It outlives a reboot: the helper removes a stale socket at start.
 */
export const DARWIN_HELPER_SOCKET = '/var/db/ferry/helper.sock';

export function defaultHelperSocket(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? DARWIN_HELPER_SOCKET : DEFAULT_HELPER_SOCKET;
}

export function helperSocketPath(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  return env.FERRY_HELPER_SOCKET || defaultHelperSocket(platform);
}

/** Largest request line the helper reads; a CA, a certificate, a key and a TLS key fit easily. */
export const MAX_HELPER_REQUEST = 256 * 1024;

const MAX_FILE = 64 * 1024;

/**
 * True when `text` is only PEM blocks of the given labels (and comment lines between
 * them, which `openvpn --genkey` writes). A line scanner, not one big regex: this runs
 * as root on input from any local user, so it must stay linear on hostile input.
 */
export function isPemOf(text: string, labels: readonly string[]): boolean {
  let inside: string | undefined;
  let blocks = 0;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (inside === undefined) {
      if (line === '' || line.startsWith('#')) continue;
      const begin = /^-----BEGIN ([A-Za-z0-9 -]{1,60})-----$/.exec(line);
      if (!begin || !labels.includes(begin[1]!)) return false;
      inside = begin[1];
    } else if (line === `-----END ${inside}-----`) {
      inside = undefined;
      blocks++;
    } else if (!/^[A-Za-z0-9+/=:, -]{0,200}$/.test(line)) {
      return false;
    }
  }
  return inside === undefined && blocks > 0;
}

function pem(...labels: string[]) {
  return z
    .string()
    .max(MAX_FILE)
    .refine((text) => isPemOf(text, labels), `must be PEM (${labels.join(', ')}) and nothing else`);
}

export const HelperFilesSchema = z
  .object({
    ca: pem('CERTIFICATE'),
    cert: pem('CERTIFICATE').optional(),
    key: pem(...KEY_LABELS).optional(),
    tlsAuth: pem('OpenVPN Static key V1').optional(),
    tlsCrypt: pem('OpenVPN Static key V1').optional(),
    tlsCryptV2: pem('OpenVPN tls-crypt-v2 client key').optional(),
  })
  .strict();
export type HelperFiles = z.infer<typeof HelperFilesSchema>;

/**
 * What a caller may choose about its session: everything but files and the management
 * socket. Strict at every level: an unknown field is refused, not silently dropped.
 */
export const HelperSpecSchema = EngineSpecSchema.omit({ files: true, managementSocket: true, managementTcp: true })
  .extend({ remotes: z.array(RemoteSchema.strict()).min(1).max(16), engine: StrictEngineOptionsSchema })
  .strict();

/** The caller's own name for a session (the profile id), so a restarted app finds it again. */
export const SessionLabelSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/);
const SessionIdSchema = z.string().regex(/^[0-9a-f]{16}$/);

export const HelperRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('start'), label: SessionLabelSchema, spec: HelperSpecSchema, files: HelperFilesSchema }).strict(),
  z.object({ op: z.literal('stop'), id: SessionIdSchema, signal: z.enum(['SIGTERM', 'SIGKILL']).default('SIGTERM') }).strict(),
  z.object({ op: z.literal('watch'), id: SessionIdSchema }).strict(),
  z.object({ op: z.literal('list') }).strict(),
  z.object({ op: z.literal('status') }).strict(),
]);
export type HelperRequest = z.input<typeof HelperRequestSchema>;

export const HelperSessionSchema = z.object({
  id: SessionIdSchema,
  label: SessionLabelSchema,
  pid: z.number().int(),
  /** Owned by the caller, in a directory only the caller can enter. */
  managementSocket: z.string(),
  startedAt: z.string(),
});
export type HelperSession = z.infer<typeof HelperSessionSchema>;

export const HelperStatusSchema = z.object({
  version: z.string(),
  sessions: z.number().int(),
  dns: z.string(),
  /** Whether the asking user may start sessions (see native/helper/policy.ts). */
  mayStart: z.boolean(),
});

export const HelperReplySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

/** Streamed after a successful `start` or `watch`, one per line. */
export const HelperEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('output'), line: z.string() }),
  z.object({ event: z.literal('exit'), code: z.number().int().nullable(), signal: z.string().nullable() }),
]);
export type HelperEvent = z.infer<typeof HelperEventSchema>;
