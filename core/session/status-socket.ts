/**
 * Each live session answers `status` on <runtime>/<profile id>.sock (0600, in the 0700
 * runtime dir), so `ferry status` — or a second window — sees sessions owned by other
 * processes. A socket nobody answers on is a leftover of a killed process and is removed.
 */
import { readdir, rm } from 'node:fs/promises';
import type { Server } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { requestJsonSocket, serveJsonSocket } from '../util/json-socket.js';
import type { Session } from './session.js';
import { SessionSnapshotSchema, type SessionSnapshot } from './snapshot.js';

const StatusRequestSchema = z.object({ op: z.enum(['status', 'disconnect']) });

const LiveSessionSchema = z.object({
  pid: z.number(),
  profileId: z.string(),
  snapshot: SessionSnapshotSchema,
});
export type LiveSession = z.infer<typeof LiveSessionSchema>;

export function statusSocketPath(runtimeDir: string, profileId: string): string {
  return path.join(runtimeDir, `${profileId}.sock`);
}

export async function publishSession(runtimeDir: string, profileId: string, session: Session): Promise<{ close(): Promise<void> }> {
  const socketPath = statusSocketPath(runtimeDir, profileId);
  const server: Server = await serveJsonSocket(socketPath, StatusRequestSchema, async (req) => {
    if (req.op === 'disconnect') await session.disconnect();
    const snapshot: SessionSnapshot = session.snapshot();
    return { pid: process.pid, profileId, snapshot } satisfies LiveSession;
  });
  return {
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}

/** The session another process runs for this profile, if any. */
export async function liveSession(runtimeDir: string, profileId: string): Promise<LiveSession | undefined> {
  const socketPath = statusSocketPath(runtimeDir, profileId);
  let reply: unknown;
  try {
    reply = await requestJsonSocket(socketPath, { op: 'status' }, 3_000);
  } catch {
    return undefined; // someone listens but is slow or odd: not ours to delete
  }
  if (reply === undefined) {
    // Nobody listens: a killed process's leftover.
    await rm(socketPath, { force: true }).catch(() => {});
    return undefined;
  }
  const parsed = LiveSessionSchema.safeParse(reply);
  return parsed.success ? parsed.data : undefined;
}

export async function liveSessions(runtimeDir: string): Promise<LiveSession[]> {
  const entries = await readdir(runtimeDir).catch(() => [] as string[]);
  const found = await Promise.all(entries.filter((e) => e.endsWith('.sock')).map((e) => liveSession(runtimeDir, e.slice(0, -'.sock'.length))));
  return found.filter((s): s is LiveSession => s !== undefined);
}
