/**
 * The control socket of `ferry-server run` (run/control.sock, 0600 in a 0700 directory).
 * OpenVPN serves one management client at a time and the running gateway holds it, so
 * other commands (status, revoke's session cut) ask the gateway through this socket.
 * Protocol: one JSON request per line, one JSON reply per line.
 */
import { createConnection, createServer, type Server } from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import { z } from 'zod';

export const ControlRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('kill'), account: z.string().min(1).max(64) }),
]);
export type ControlRequest = z.infer<typeof ControlRequestSchema>;

export const ConnectedClientSchema = z.object({
  account: z.string(),
  realAddress: z.string(),
  virtualAddress: z.string(),
  bytesReceived: z.number(),
  bytesSent: z.number(),
  connectedSince: z.string(),
  cipher: z.string().optional(),
});
export type ConnectedClient = z.infer<typeof ConnectedClientSchema>;

export const GatewayStatusSchema = z.object({
  pid: z.number(),
  startedAt: z.string(),
  clients: z.array(ConnectedClientSchema),
});
export type GatewayStatus = z.infer<typeof GatewayStatusSchema>;

const ReplySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);

const MAX_REQUEST = 64 * 1024;

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

export async function serveControl(socketPath: string, handler: ControlHandler): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST) {
        reply({ ok: false, error: 'request too long' });
        return;
      }
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      const line = buffer.slice(0, newline);
      let request: ControlRequest;
      try {
        request = ControlRequestSchema.parse(JSON.parse(line));
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
 * Sends one request to a running gateway. Resolves `undefined` when none is running
 * (no socket, or nobody listening), so callers can say "not running" rather than fail.
 */
export async function controlRequest(socketPath: string, req: ControlRequest, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error('the running gateway did not answer in time'));
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
        reject(new Error('the running gateway sent an unreadable reply'));
      }
    });
  });
}
