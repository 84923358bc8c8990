/**
 * What a session publishes: its state, why it failed, and the tunnel's figures. Zod
 * schemas because snapshots cross process boundaries (`ferry status` over the session
 * socket, the desktop app's IPC); the TypeScript types are derived from them.
 */
import { z } from 'zod';
import { FAILURE_CODES, FAILURE_DETAILS } from './failures.js';

export const SessionStateSchema = z.enum(['DISCONNECTED', 'CONNECTING', 'AUTH', 'CONNECTED', 'RECONNECTING', 'FAILED']);
export type SessionState = z.infer<typeof SessionStateSchema>;

/**
 * Why a session failed, as data (failures.ts): the reader's side words it in its language
 * (the window's locales, the CLI's and the main process's failure-text.ts).
 */
export const FailureSchema = z.object({
  code: z.enum(FAILURE_CODES),
  detail: z.enum(FAILURE_DETAILS),
  params: z.record(z.string(), z.union([z.string(), z.number()])),
  repeated: z.number().int().positive().optional(),
  gaveUp: z.object({ seconds: z.number(), wasConnected: z.boolean() }).optional(),
});

export const SessionStatsSchema = z.object({
  virtualIp: z.string().optional(),
  /** The gateway's address as openvpn reached it, `ip:port`. */
  server: z.string().optional(),
  connectedSince: z.string().optional(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  /** Bytes per second over the last BYTECOUNT interval. */
  rateIn: z.number(),
  rateOut: z.number(),
  cipher: z.string().optional(),
});
export type SessionStats = z.infer<typeof SessionStatsSchema>;

/** No tunnel yet: nothing counted. */
export const noStats = (): SessionStats => ({ bytesIn: 0, bytesOut: 0, rateIn: 0, rateOut: 0 });

export const SessionSnapshotSchema = z.object({
  profile: z.string(),
  state: SessionStateSchema,
  /** When the session entered this state. */
  since: z.string(),
  failure: FailureSchema.optional(),
  /** RECONNECTING (and while connecting): when Ferry gives up. */
  deadline: z.string().optional(),
  stats: SessionStatsSchema,
});
export type SessionSnapshot = z.infer<typeof SessionSnapshotSchema>;
