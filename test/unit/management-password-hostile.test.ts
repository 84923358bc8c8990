/**
 * The management password exchange (connection.ts authenticate) against peers that are not
 * a well-behaved openvpn: whatever squats the port, or an openvpn that says odd things.
 * Each must end in a clear ManagementError (never a hang, never a retry loop), and what a
 * real openvpn sends after SUCCESS must reach the caller only once it holds the connection.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagementConnection, ManagementError, type Notification } from '../../core/management/connection.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function peer(serve: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    serve(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function dribble(socket: Socket, text: string): Promise<void> {
  for (const byte of Buffer.from(text)) {
    await new Promise<void>((resolve) => socket.write(Buffer.from([byte]), () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const connect = (port: number, onNotification: (n: Notification) => void = () => undefined, passwordAnswerMs = 20_000) =>
  ManagementConnection.connect({ host: '127.0.0.1', port, password: 'pw' }, onNotification, { attempts: 3, intervalMs: 1, passwordAnswerMs });

describe('the management password exchange against hostile peers', () => {
  it('prompt and SUCCESS split at every byte: accepted, and the >HOLD after it reaches a caller that holds the connection', async () => {
    const port = await peer((socket) => {
      void dribble(socket, 'ENTER PASSWORD:').then(() =>
        socket.once('data', () => void dribble(socket, 'SUCCESS: password is correct\r\n>INFO:OpenVPN Management Interface\r\n>HOLD:Waiting for hold release:0\r\n')),
      );
    });
    let held: ManagementConnection | undefined;
    const seen: Array<[string, boolean]> = [];
    let resolveHold: () => void = () => undefined;
    const hold = new Promise<void>((r) => (resolveHold = r));
    held = await connect(port, (n) => {
      seen.push([n.type, held !== undefined]);
      if (n.type === 'HOLD') resolveHold();
    });
    await hold;
    expect(seen).toEqual([
      ['INFO', true],
      ['HOLD', true],
    ]);
    held.close();
  });

  it('SUCCESS and the welcome in the one read: the welcome still comes after connect resolved', async () => {
    const port = await peer((socket) => {
      socket.write('ENTER PASSWORD:');
      socket.once('data', () => socket.write('SUCCESS: password is correct\r\n>HOLD:Waiting for hold release:0\r\n'));
    });
    let held: ManagementConnection | undefined;
    const got = new Promise<boolean>((resolve) => {
      void connect(port, () => resolve(held !== undefined)).then((c) => (held = c));
    });
    expect(await got).toBe(true);
    held!.close();
  });

  it.each([
    ['a huge line without a newline', (s: Socket) => s.write('x'.repeat(1 << 20)), /did not answer the password as OpenVPN does/],
    ['the prompt again (a wrong password)', (s: Socket) => (s.write('ENTER PASSWORD:'), s.once('data', () => s.write('ENTER PASSWORD:'))), /refused its password/],
    ['the prompt many times over', (s: Socket) => s.write('ENTER PASSWORD:'.repeat(5000)), /refused its password/],
    ['another service (HTTP)', (s: Socket) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')), /refused its password|closed the connection/],
    ['SSH', (s: Socket) => s.write('SSH-2.0-OpenSSH_9.6\r\n'), /refused its password/],
    ['a close before any prompt', (s: Socket) => s.end(), /closed the connection before accepting/],
    ['SUCCESS without a prompt', (s: Socket) => s.write('SUCCESS: password is correct\r\n'), /refused its password/],
  ])('%s: a clear refusal, not a hang', async (_name, serve, message) => {
    const port = await peer(serve);
    const err = await connect(port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManagementError);
    expect((err as Error).message).toMatch(message);
  });

  it('a peer that accepts and never prompts is given up on after the bound, saying where', async () => {
    const port = await peer(() => undefined);
    const err = await connect(port, () => undefined, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManagementError);
    expect((err as Error).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} did not answer its password within 0\\.05 s`));
    expect((err as Error).message).not.toContain('pw');
  });
});
