/**
 * A tiny request/reply protocol on a private unix socket (0600): one JSON request per
 * line, one JSON reply per line, then the server closes. Used by `ferry-server run`'s
 * control socket and by each `ferry connect` session (for `ferry status`). Requests are
 * schema-checked; garbage gets an error reply and never reaches the handler.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import { z } from 'zod';

const ReplySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

const MAX_REQUEST = 64 * 1024;

export async function serveJsonSocket<Req>(socketPath: string, schema: z.ZodType<Req>, handler: (req: Req) => Promise<unknown>): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((socket) => {
    let buffer = '';
    // One request per connection: once its line is in (or refused), later bytes are ignored,
    // or each chunk arriving before the reply would run the same request again.
    let taken = false;
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      if (taken) return;
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0 && buffer.length <= MAX_REQUEST) return;
      taken = true;
      if (newline < 0 || newline > MAX_REQUEST) {
        reply({ ok: false, error: 'request too long' });
        return;
      }
      const line = buffer.slice(0, newline);
      buffer = '';
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
    });
    function reply(msg: z.infer<typeof ReplySchema>) {
      socket.end(`${JSON.stringify(msg)}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
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
    let buffer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`${socketPath} did not answer in time`));
    });
    socket.on('connect', () => socket.write(`${JSON.stringify(req)}\n`));
    socket.on('data', (chunk: string) => (buffer += chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(undefined);
      else reject(err);
    });
    socket.on('end', () => {
      try {
        const reply = ReplySchema.parse(JSON.parse(buffer));
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.error));
      } catch {
        reject(new Error(`${socketPath} sent an unreadable reply`));
      }
    });
  });
}
