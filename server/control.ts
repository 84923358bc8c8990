/**
 * The control socket of `ferry-server run` (run/control.sock, 0600 in a 0700 directory).
 * OpenVPN serves one management client at a time and the running gateway holds it, so
 * other commands (status, the session cut of revoke and delete, delete's shutdown) ask the
 * gateway through this socket.
 * Protocol: one JSON request per line, one JSON reply per line.
 */
import type { Server } from 'node:net';
import { z } from 'zod';
import { requestJsonSocket, serveJsonSocket } from '../core/util/json-socket.js';

export const ControlRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('kill'), account: z.string().min(1).max(64) }),
  /** Stop the gateway (`ferry-server delete`); the reply names the pid to wait for. */
  z.object({ op: z.literal('shutdown') }),
  /** Rate limits or the bandwidth changed in the state directory: enforce them now. */
  z.object({ op: z.literal('reload-limits') }),
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
  rateLimitMbps: z.number().optional(),
  /** Bits per second over the last second, from the client / to the client. */
  rateInBps: z.number().optional(),
  rateOutBps: z.number().optional(),
});
export type ConnectedClient = z.infer<typeof ConnectedClientSchema>;

export const ShapingStateSchema = z.union([
  z.object({ state: z.enum(['off', 'on']) }),
  z.object({ state: z.literal('failed'), error: z.string() }),
]);
export type ShapingState = z.infer<typeof ShapingStateSchema>;

export const GatewayStatusSchema = z.object({
  /** With a database: this gateway's node, and why the database cannot be used right now. */
  node: z.string().optional(),
  databaseProblem: z.object({ since: z.string(), error: z.string() }).optional(),
  pid: z.number(),
  startedAt: z.string(),
  clients: z.array(ConnectedClientSchema),
  bandwidthMbps: z.number().optional(),
  shaping: ShapingStateSchema.optional(),
});
export type GatewayStatus = z.infer<typeof GatewayStatusSchema>;

export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

export function serveControl(socketPath: string, handler: ControlHandler): Promise<Server> {
  return serveJsonSocket(socketPath, ControlRequestSchema, handler);
}

/** Sends one request to a running gateway; `undefined` when none is running. */
export function controlRequest(socketPath: string, req: ControlRequest, timeoutMs = 10_000): Promise<unknown> {
  return requestJsonSocket(socketPath, req, timeoutMs);
}
