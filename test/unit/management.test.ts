import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagementConnection, quoteArg, type Notification } from '../../core/management/connection.js';
import { tempDir } from '../support/cli.js';

/** A fake management peer: replies are scripted per command. */
async function fakePeer(onCommand: (line: string, socket: Socket) => void): Promise<{ server: Server; socketPath: string }> {
  const socketPath = path.join(await tempDir(), 'mgmt.sock');
  const server = createServer((socket) => {
    socket.write('>INFO:OpenVPN Management Interface Version 5 -- type \'help\' for more info\n');
    let buffer = '';
    socket.on('error', () => {}); // the client under test may reset the connection on purpose
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        onCommand(buffer.slice(0, nl), socket);
        buffer = buffer.slice(nl + 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { server, socketPath };
}

/**
 * A fake password-protected TCP management peer, as manage.c behaves: "ENTER PASSWORD:"
 * (no newline) on accept, then for the right password "SUCCESS: password is correct" and
 * the welcome (>INFO, and >HOLD while in management-hold) in ONE write, which a loaded
 * reader gets in one read; a wrong one gets the prompt again. `prompt` is how the prompt
 * is written: each piece is its own write, after the previous one was read.
 */
async function fakeTcpPeer(password: string, prompt: string[] = ['ENTER PASSWORD:']): Promise<{ server: Server; port: number; commands: string[] }> {
  const commands: string[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.setNoDelay(true);
    // manage.c reads only once its output (the prompt) is all sent (man_update_io_state).
    const pieces = [...prompt];
    let prompted = false;
    const writeNext = () => {
      const piece = pieces.shift();
      if (piece === undefined) {
        prompted = true;
        return answer();
      }
      socket.write(piece, () => setImmediate(writeNext));
    };
    let verified = false;
    let buffer = '';
    const answer = () => {
      let nl: number;
      while (prompted && (nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!verified) {
          verified = line === password;
          socket.write(verified ? "SUCCESS: password is correct\r\n>INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n>HOLD:Waiting for hold release:0\r\n" : 'ENTER PASSWORD:');
          continue;
        }
        commands.push(line);
        if (line === 'hold release') socket.write('SUCCESS: hold release succeeded\r\n');
      }
    };
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      answer();
    });
    writeNext();
  });
  return { server, port: await listenLoopback(server), commands };
}

/** Listens on a free port of 127.0.0.1; the port. */
async function listenLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

let server: Server | undefined;
afterEach(() => server?.close());

describe('ManagementConnection', () => {
  it('frames single-line, multi-line and error replies, with notifications interleaved', async () => {
    const peer = await fakePeer((line, socket) => {
      if (line === 'hold release') socket.write('SUCCESS: hold release succeeded\r\n');
      if (line === 'status 3') socket.write('TITLE\tx\n>CLIENT:ESTABLISHED,0\n>CLIENT:ENV,END\nCLIENT_LIST\ta\nEND\n');
      if (line === 'kill nobody') socket.write('ERROR: common name \'nobody\' not found\n');
    });
    server = peer.server;
    const seen: Notification[] = [];
    const mgmt = await ManagementConnection.connect(peer.socketPath, (n) => seen.push(n));
    expect(await mgmt.command('hold release')).toEqual(['hold release succeeded']);
    expect(await mgmt.command('status 3')).toEqual(['TITLE\tx', 'CLIENT_LIST\ta']);
    await expect(mgmt.command('kill nobody')).rejects.toThrow(/kill: common name 'nobody' not found/);
    expect(seen.map((n) => n.type)).toEqual(['INFO', 'CLIENT', 'CLIENT']);
    expect(seen[1]).toEqual({ type: 'CLIENT', body: 'ESTABLISHED,0' });
    mgmt.close();
  });

  it('sends a batch of commands in one write and answers each in order, an error only its own', async () => {
    const chunks: string[] = [];
    const peer = await fakePeer((line, socket) => {
      if (line === 'client-pending-auth 3 1 "" 60') socket.write('ERROR: client-pending-auth command failed. Extra parameter might be too long\n');
      if (line === 'client-auth-nt 3 1') socket.write('SUCCESS: client-auth command succeeded\n');
    });
    server = peer.server;
    server.on('connection', (socket) => socket.on('data', (chunk) => chunks.push(chunk.toString())));
    const mgmt = await ManagementConnection.connect(peer.socketPath, () => {});
    const [pending, auth] = mgmt.commands(['client-pending-auth 3 1 "" 60', 'client-auth-nt 3 1']);
    await expect(pending).rejects.toThrow(/client-pending-auth: client-pending-auth command failed/);
    expect(await auth).toEqual(['client-auth command succeeded']);
    // One write: openvpn reads both in one recv and runs them back to back (see server/gateway.ts).
    expect(chunks).toEqual(['client-pending-auth 3 1 "" 60\nclient-auth-nt 3 1\n']);
    // A batch with one bad line sends none of it.
    await expect(Promise.all(mgmt.commands(['status', 'kill x\nsignal SIGTERM']))).rejects.toThrow(/one line/);
    await mgmt.command('client-auth-nt 3 1');
    expect(chunks.join('')).toBe('client-pending-auth 3 1 "" 60\nclient-auth-nt 3 1\nclient-auth-nt 3 1\n');
    mgmt.close();
  });

  it('refuses a command with a line break (no command injection)', async () => {
    const peer = await fakePeer(() => {});
    server = peer.server;
    const mgmt = await ManagementConnection.connect(peer.socketPath, () => {});
    await expect(mgmt.command('status\nsignal SIGTERM')).rejects.toThrow(/one line/);
    mgmt.close();
  });

  it('rejects pending commands when the peer goes away, and drops a peer sending an endless line', async () => {
    const peer = await fakePeer((line, socket) => {
      if (line === 'status') socket.destroy();
      if (line === 'flood') socket.write('x'.repeat(2 * 1024 * 1024));
    });
    server = peer.server;
    const first = await ManagementConnection.connect(peer.socketPath, () => {});
    await expect(first.command('status')).rejects.toThrow(/closed before "status" completed/);
    const second = await ManagementConnection.connect(peer.socketPath, () => {});
    await expect(second.command('flood')).rejects.toThrow(/closed/);
  });

  it('says clearly when nothing listens', async () => {
    await expect(ManagementConnection.connect('/nonexistent/mgmt.sock', () => {}, { attempts: 2, intervalMs: 1 })).rejects.toThrow(
      /cannot reach the OpenVPN management socket \/nonexistent\/mgmt.sock/,
    );
  });

  it('over TCP with a password: >HOLD read together with SUCCESS reaches a caller that already holds the connection', async () => {
    const peer = await fakeTcpPeer('s3cret');
    server = peer.server;
    let mgmt: ManagementConnection | undefined;
    const seen: Array<{ type: string; attached: boolean }> = [];
    let onHold!: (answer: Promise<string[]> | undefined) => void;
    const held = new Promise<Promise<string[]> | undefined>((resolve) => (onHold = resolve));
    mgmt = await ManagementConnection.connect({ host: '127.0.0.1', port: peer.port, password: 's3cret' }, (n) => {
      seen.push({ type: n.type, attached: mgmt !== undefined });
      // What the session does on >HOLD: release it on the connection it was handed.
      if (n.type === 'HOLD') onHold(mgmt?.command('hold release'));
    });
    const release = await held;
    expect(seen).toEqual([
      { type: 'INFO', attached: true },
      { type: 'HOLD', attached: true },
    ]);
    expect(await release).toEqual(['hold release succeeded']);
    expect(peer.commands).toEqual(['hold release']);
    mgmt.close();
  });

  it('over TCP: a prompt that arrives in pieces is still one prompt; a wrong password is refused, not retried', async () => {
    const peer = await fakeTcpPeer('s3cret', ['ENTER ', 'PASS', 'WORD:']);
    server = peer.server;
    const mgmt = await ManagementConnection.connect({ host: '127.0.0.1', port: peer.port, password: 's3cret' }, () => {});
    expect(await mgmt.command('hold release')).toEqual(['hold release succeeded']);
    mgmt.close();
    await expect(ManagementConnection.connect({ host: '127.0.0.1', port: peer.port, password: 'wrong' }, () => {})).rejects.toThrow(
      /refused its password/,
    );
  });

  it('over TCP: a peer that accepts and never prompts is a clear error, not a wait without end', async () => {
    const silent = createServer((socket) => socket.on('error', () => {}));
    server = silent;
    const port = await listenLoopback(silent);
    await expect(ManagementConnection.connect({ host: '127.0.0.1', port, password: 's3cret' }, () => {}, { passwordAnswerMs: 20 })).rejects.toThrow(
      `the OpenVPN management interface at 127.0.0.1:${port} did not answer its password within 0.02 s`,
    );
  });

  it('quotes arguments', () => {
    expect(quoteArg('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
  });
});
