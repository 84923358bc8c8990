/**
 * A tiny request/reply protocol on a private unix socket (0600): one JSON request per
 * line, one JSON reply per line, then the server closes. Used by `ferry-server run`'s
 * control socket and by each `ferry connect` session (for `ferry status`). Requests are
 * schema-checked; garbage gets an error reply and never reaches the handler.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import { z } from 'zod';
import { LineFramer } from './line-framer.js';

const ReplySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

/** Bytes in a request line, and in a reply (a gateway's status lists every connected client). */
const MAX_REQUEST = 64 * 1024;
const MAX_REPLY = 16 * 1024 * 1024;

/**
 * A request must arrive whole within this time of connecting (an idle timeout alone lets a
 * client trickle a byte now and then and hold the connection for ever), and only so many
 * connections are served at once: more are closed at once, so a local flood cannot take
 * the process's file descriptors (its database and openvpn connections need them).
 */
const REQUEST_DEADLINE_MS = 10_000;
const MAX_CONNECTIONS = 64;

export interface ServeOptions {
  requestDeadlineMs?: number;
  maxConnections?: number;
}

export async function serveJsonSocket<Req>(
  socketPath: string,
  schema: z.ZodType<Req>,
  handler: (req: Req) => Promise<unknown>,
  opts: ServeOptions = {},
): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((socket) => {
    const deadline = setTimeout(() => socket.destroy(), opts.requestDeadlineMs ?? REQUEST_DEADLINE_MS);
    socket.on('close', () => clearTimeout(deadline));
    // One request per connection: the first line; anything after it is ignored.
    const framer = new LineFramer(
      (line) => {
        framer.stop();
        clearTimeout(deadline);
        let request: Req;
        try {
          request = schema.parse(JSON.parse(line));
        } catch {
          reply({ ok: false, error: 'malformed request' });
          return;
        }
        handler(request).then(
          (result) => reply({ ok: true, result }),
          (err: Error) => reply({ ok: false, error: err.message }),
        );
      },
      {
        maxLineLength: MAX_REQUEST,
        onOverflow: () => {
          framer.stop();
          reply({ ok: false, error: 'request too long' });
        },
      },
    );
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    function reply(msg: z.infer<typeof ReplySchema>) {
      socket.end(`${JSON.stringify(msg)}\n`);
    }
  });
  server.maxConnections = opts.maxConnections ?? MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      // Accept errors (EMFILE) after listening must not take the process down.
      server.on('error', () => {});
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return server;
}

/**
 * Sends one request. Resolves `undefined` when nobody serves the socket (no file, or no
 * listener), so callers can say "not running" rather than fail.
 */
export async function requestJsonSocket(socketPath: string, req: unknown, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    // The reply is one line, then the server closes (a reply without its newline counts too).
    let line: string | undefined;
    const framer = new LineFramer(
      (l) => {
        line = l;
        framer.stop();
      },
      {
        maxLineLength: MAX_REPLY,
        onOverflow: () => {
          framer.stop();
          socket.destroy();
          reject(new Error(`${socketPath} sent an over-long reply`));
        },
      },
    );
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`${socketPath} did not answer in time`));
    });
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(err);
    });
    socket.on('end', () => {
      framer.flush();
      try {
        const reply = ReplySchema.parse(JSON.parse(line ?? ''));
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.error));
      } catch {
        reject(new Error(`${socketPath} sent an unreadable reply`));
      }
    });
  });
}
