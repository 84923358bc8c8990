/**
 * Each live session answers on <runtime>/<profile id>.sock (0600, in the 0700 runtime
 * dir; on Windows a named pipe, status-paths.ts), so `ferry status`, `ferry disconnect` and the desktop app see sessions owned by
 * other processes. One JSON request line, then:
 *
 *   {"op":"status"}      one reply line {"ok":true,"result":LiveSession}, then close
 *   {"op":"disconnect"}  the same, once the session has disconnected
 *   {"op":"watch"}       one LiveSession line now and one per change (state, byte counts)
 *                        until the session ends; then the server closes the stream
 *
 * A watcher that reads slowly never grows our memory: past a small backlog only the
 * newest snapshot waits for the socket to drain (a snapshot is the whole truth, so the
 * ones in between can go). A socket nobody answers on is a killed process's leftover
 * and is removed.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import { z } from 'zod';
import { requestJsonSocket } from '../util/json-socket.js';
import { LineFramer } from '../util/line-framer.js';
import type { Session } from './session.js';
import { SessionSnapshotSchema } from './snapshot.js';
import { isSocketFile, publishedIds, statusSocketPath } from './status-paths.js';

export { publishedIds, statusSocketPath };

const StatusRequestSchema = z.object({ op: z.enum(['status', 'disconnect', 'watch']) });

export const LiveSessionSchema = z.object({
  pid: z.number(),
  profileId: z.string(),
  snapshot: SessionSnapshotSchema,
});
export type LiveSession = z.infer<typeof LiveSessionSchema>;

/** A request is one short line. */
const MAX_REQUEST = 1024;
/** A snapshot line is a few hundred bytes; anything near this is not a Ferry session talking. */
export const MAX_WATCH_LINE = 64 * 1024;
/** Bytes a watcher may leave unread before updates are coalesced into the newest one. */
const WATCH_BACKLOG = 16 * 1024;
/** Watchers per session: a window, a tray, a few `ferry status --watch`. */
const MAX_CONNECTIONS = 32;
/** Time to send the request line. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface PublishedSession {
  /** Ends every watch stream (after the session's last snapshot) and removes the socket. */
  close(): Promise<void>;
}

export async function publishSession(runtimeDir: string, profileId: string, session: Session): Promise<PublishedSession> {
  const socketPath = await statusSocketPath(runtimeDir, profileId);
  const current = (): LiveSession => ({ pid: process.pid, profileId, snapshot: session.snapshot() });
  const sockets = new Set<Socket>();
  /** Per watch stream: writes the snapshot held back for a slow reader (before the stream ends). */
  const pendingWrites = new Map<Socket, () => void>();
  /** Connections with a status or disconnect request in flight: they get their reply before the end. */
  const inFlight = new Set<Socket>();

  const server: Server = createServer((socket) => {
    if (sockets.size >= MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
    let answered = false;
    const framer = new LineFramer(
      (line) => {
        if (answered) return; // one request per connection; a watcher has nothing more to say
        answered = true;
        socket.setTimeout(0);
        void answer(socket, line);
      },
      { maxLineLength: MAX_REQUEST, onOverflow: () => reply(socket, { ok: false, error: 'request too long' }) },
    );
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
  });

  async function answer(socket: Socket, line: string): Promise<void> {
    let op: z.infer<typeof StatusRequestSchema>['op'];
    try {
      op = StatusRequestSchema.parse(JSON.parse(line)).op;
    } catch {
      return reply(socket, { ok: false, error: 'malformed request' });
    }
    if (op === 'watch') return watch(socket);
    inFlight.add(socket);
    try {
      if (op === 'disconnect') await session.disconnect();
      reply(socket, { ok: true, result: current() });
    } catch (err) {
      reply(socket, { ok: false, error: (err as Error).message });
    } finally {
      inFlight.delete(socket);
    }
  }

  function watch(socket: Socket): void {
    let waiting: string | undefined; // the newest line, held while the socket drains
    const send = () => {
      const line = `${JSON.stringify(current())}\n`;
      if (socket.destroyed) return;
      if (socket.writableLength > WATCH_BACKLOG) {
        waiting = line;
        return;
      }
      socket.write(line);
    };
    const drained = () => {
      if (waiting === undefined || socket.destroyed) return;
      const line = waiting;
      waiting = undefined;
      socket.write(line);
    };
    socket.on('drain', drained);
    pendingWrites.set(socket, drained);
    session.on('state', send);
    session.on('stats', send);
    socket.on('close', () => {
      pendingWrites.delete(socket);
      session.off('state', send);
      session.off('stats', send);
    });
    send();
  }

  const file = isSocketFile(socketPath);
  if (file) await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  if (file) await chmod(socketPath, 0o600);
  return {
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Watchers get what is already queued (the final state), then the end of the stream;
      // a disconnect request (often what ended the session) still gets its reply.
      for (const socket of sockets) {
        if (inFlight.has(socket)) continue;
        pendingWrites.get(socket)?.();
        socket.end();
      }
      await closed;
      if (file) await rm(socketPath, { force: true });
    },
  };
}

function reply(socket: Socket, msg: { ok: true; result: unknown } | { ok: false; error: string }): void {
  if (!socket.destroyed) socket.end(`${JSON.stringify(msg)}\n`);
}

/** The session another process runs for this profile, if any. */
export async function liveSession(runtimeDir: string, profileId: string): Promise<LiveSession | undefined> {
  const socketPath = await statusSocketPath(runtimeDir, profileId);
  let reply: unknown;
  try {
    reply = await requestJsonSocket(socketPath, { op: 'status' }, 3_000);
  } catch {
    return undefined; // someone listens but is slow or odd: not ours to delete
  }
  if (reply === undefined) {
    // Nobody listens: a killed process's leftover.
    if (isSocketFile(socketPath)) await rm(socketPath, { force: true }).catch(() => {});
    return undefined;
  }
  const parsed = LiveSessionSchema.safeParse(reply);
  return parsed.success ? parsed.data : undefined;
}

/** Asks the process that runs this profile's session to disconnect it; its last snapshot, or undefined when nobody runs it. */
export async function disconnectLiveSession(runtimeDir: string, profileId: string, timeoutMs = 15_000): Promise<LiveSession | undefined> {
  const reply = await requestJsonSocket(await statusSocketPath(runtimeDir, profileId), { op: 'disconnect' }, timeoutMs);
  if (reply === undefined) return undefined;
  const parsed = LiveSessionSchema.safeParse(reply);
  return parsed.success ? parsed.data : undefined;
}

export async function liveSessions(runtimeDir: string): Promise<LiveSession[]> {
  const found = await Promise.all((await publishedIds(runtimeDir)).map((id) => liveSession(runtimeDir, id)));
  return found.filter((s): s is LiveSession => s !== undefined);
}

export interface SessionWatchHandle {
  close(): void;
}

/**
 * Follows another process's session: `onUpdate` for each snapshot, then `onEnd` once
 * (`'gone'`: nobody listens there, a leftover socket, now removed; `'ended'`: the stream
 * closed, normally after the final state; `'garbage'`: the peer broke the protocol).
 */
export function watchSession(runtimeDir: string, profileId: string, onUpdate: (live: LiveSession) => void, onEnd: (why: 'gone' | 'ended' | 'garbage') => void): SessionWatchHandle {
  let ended = false;
  let socket: Socket | undefined;
  const end = (why: 'gone' | 'ended' | 'garbage') => {
    if (ended) return;
    ended = true;
    onEnd(why);
  };
  statusSocketPath(runtimeDir, profileId).then(
    (socketPath) => {
      if (!ended) socket = followSocket(socketPath, onUpdate, end);
    },
    () => end('gone'),
  );
  return {
    close: () => {
      ended = true;
      socket?.destroy();
    },
  };
}

function followSocket(socketPath: string, onUpdate: (live: LiveSession) => void, end: (why: 'gone' | 'ended' | 'garbage') => void): Socket {
  const socket = createConnection(socketPath);
  let why: 'gone' | 'ended' | 'garbage' = 'ended';
  const framer = new LineFramer(
    (line) => {
      let parsed: LiveSession;
      try {
        parsed = LiveSessionSchema.parse(JSON.parse(line));
      } catch {
        why = 'garbage';
        socket.destroy();
        return;
      }
      onUpdate(parsed);
    },
    {
      maxLineLength: MAX_WATCH_LINE,
      onOverflow: () => {
        why = 'garbage';
        socket.destroy();
      },
    },
  );
  socket.on('connect', () => socket.write(`${JSON.stringify({ op: 'watch' })}\n`));
  socket.on('data', (chunk: Buffer) => framer.push(chunk));
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      why = 'gone';
      // Nobody listens: a killed process's leftover (removed so the next scan skips it).
      if (err.code === 'ECONNREFUSED' && isSocketFile(socketPath)) void rm(socketPath, { force: true }).catch(() => {});
    }
  });
  socket.on('close', () => end(why));
  return socket;
}
