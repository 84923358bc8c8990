/** core/util/json-socket.ts: one request per connection, whatever else the caller sends. */
import { createConnection, type Socket } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { requestJsonSocket, serveJsonSocket } from '../../core/util/json-socket.js';
import { tempDir } from '../support/cli.js';
import { until } from '../support/until.js';

/** Connects, lets `send` write what it likes, resolves with everything the server said before closing. */
function exchange(socketPath: string, send: (socket: Socket) => void): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = createConnection(socketPath);
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    send(socket);
  });
}

describe('serveJsonSocket', () => {
  it('runs a request once, though more bytes arrive before the reply', async () => {
    const socketPath = path.join(await tempDir(), 'ctl.sock');
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const server = await serveJsonSocket(socketPath, z.object({ op: z.literal('kill') }), async () => {
      calls++;
      await held;
      return { killed: 1 };
    });
    try {
      const reply = await exchange(socketPath, (socket) => {
        socket.write('{"op":"kill"}\n');
        // Stray bytes in separate chunks while the handler is still working.
        for (const extra of ['x', 'y\n', '{"op":"kill"}\n']) setImmediate(() => socket.write(extra));
        setImmediate(() => setImmediate(() => release()));
      });
      expect(JSON.parse(reply)).toEqual({ ok: true, result: { killed: 1 } });
      expect(calls).toBe(1);
      expect(await requestJsonSocket(socketPath, { op: 'kill' })).toEqual({ killed: 1 });
      expect(calls).toBe(2);
    } finally {
      server.close();
    }
  });

  it('a request longer than the bound gets one refusal', async () => {
    const socketPath = path.join(await tempDir(), 'ctl.sock');
    const server = await serveJsonSocket(socketPath, z.object({ op: z.string() }), async () => 'never');
    try {
      const reply = await exchange(socketPath, (socket) => socket.write('{"op":"' + 'a'.repeat(70 * 1024)));
      expect(reply.trim().split('\n')).toEqual([JSON.stringify({ ok: false, error: 'request too long' })]);
    } finally {
      server.close();
    }
  });

  it('a client that trickles bytes without ever ending its request is closed at the request deadline', async () => {
    const socketPath = path.join(await tempDir(), 'ctl.sock');
    const server = await serveJsonSocket(socketPath, z.object({ op: z.string() }), async () => 'never', { requestDeadlineMs: 200 });
    const socket = createConnection(socketPath);
    socket.on('error', () => {}); // a write racing the close: EPIPE
    // A byte at a time, well inside any idle timeout: only a deadline on the whole request ends it.
    const trickle = setInterval(() => socket.write('x'), 20);
    try {
      await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    } finally {
      clearInterval(trickle);
      server.close();
    }
    expect(socket.destroyed).toBe(true);
  });

  it('connections beyond the bound are closed at once; the socket answers again when they go', async () => {
    const socketPath = path.join(await tempDir(), 'ctl.sock');
    const server = await serveJsonSocket(socketPath, z.object({ op: z.literal('status') }), async () => 'fine', { maxConnections: 4 });
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) idle.push(createConnection(socketPath));
      await until(async () => (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) === 4, 'four idle connections');
      // A fifth, with a request it would answer: closed unanswered.
      const extra = await exchange(socketPath, (socket) => socket.write('{"op":"status"}\n')).catch(() => '');
      expect(extra).toBe('');
      for (const s of idle) s.destroy();
      await until(async () => (await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)))) === 0, 'the idle ones gone');
      expect(await requestJsonSocket(socketPath, { op: 'status' })).toBe('fine');
    } finally {
      for (const s of idle) s.destroy();
      server.close();
    }
  });
});
