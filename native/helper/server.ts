/**
 * ferry-helper's socket: anyone on the machine may connect (mode 0666), and each
 * connection is identified by the kernel's peer credentials before a byte is read. One
 * JSON request line per connection, parsed with the closed schema; garbage, oversized or
 * silent connections are answered or dropped without disturbing anyone else.
 */
import { chmod, lstat, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { HelperRequestSchema, MAX_HELPER_REQUEST, type HelperEvent } from '../../core/engine/helper-protocol.js';
import { FERRY_VERSION } from '../../core/client.js';
import { peerCredentials } from './peer-credentials.js';
import type { Caller, SessionManager } from './sessions.js';

/** A connection must send its request this soon, or it is dropped. */
export const REQUEST_TIMEOUT_MS = 5_000;
/** Connections open at once; more are closed at once (a local flood must not starve the helper). */
export const MAX_CONNECTIONS = 128;

export interface HelperServerOptions {
  socketPath: string;
  sessions: SessionManager;
  dnsName: string;
  log: (message: string) => void;
  /** A listening descriptor handed over by systemd socket activation. */
  inheritedFd?: number;
}

/**
 * The socket's directory must be root's and not writable by others, or another user could
 * replace the socket (or the session directories next to it); so must every directory
 * above it, unless sticky (as /tmp is: nobody can rename what they do not own there).
 */
export async function prepareBaseDir(dir: string): Promise<void> {
  if (/\s/.test(dir)) throw new Error(`${dir}: the helper's directory must not contain spaces`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.uid !== 0) throw new Error(`${dir} must be owned by root`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} must not be writable by group or others (chmod 755 ${dir})`);
  for (let above = path.dirname(dir); ; above = path.dirname(above)) {
    const a = await lstat(above);
    const sticky = (a.mode & 0o1000) !== 0;
    if (a.isSymbolicLink() || a.uid !== 0 || ((a.mode & 0o022) !== 0 && !sticky)) {
      throw new Error(`${above} must be a root-owned directory that others cannot write to (it holds ${dir})`);
    }
    if (above === path.dirname(above)) break;
  }
}

export async function startHelperServer(opts: HelperServerOptions): Promise<Server> {
  let open = 0;
  const server = createServer((socket) => {
    open++;
    socket.once('close', () => open--);
    socket.on('error', () => socket.destroy());
    if (open > MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    let caller: Caller;
    try {
      caller = peerCredentials(socket);
    } catch (err) {
      opts.log(`refused a connection: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    serveConnection(socket, caller, opts);
  });
  server.on('error', (err) => opts.log(`socket error: ${err.message}`));
  if (opts.inheritedFd !== undefined) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd: opts.inheritedFd }, resolve);
    });
  } else {
    await rm(opts.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.socketPath, resolve);
    });
    // Everyone may ask; what each may do is decided by who the kernel says they are.
    await chmod(opts.socketPath, 0o666);
  }
  return server;
}

function serveConnection(socket: Socket, caller: Caller, opts: HelperServerOptions): void {
  let buffer = '';
  let handled = false;
  socket.setEncoding('utf8');
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => {
    if (!handled) socket.destroy();
  });
  const send = (message: unknown) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
  };
  const fail = (error: string) => {
    send({ ok: false, error });
    socket.end();
  };
  socket.on('data', (chunk: string) => {
    if (handled) return; // one request per connection; anything after it is ignored
    buffer += chunk;
    const newline = buffer.indexOf('\n');
    if (newline < 0) {
      if (buffer.length > MAX_HELPER_REQUEST) {
        handled = true;
        fail(`request too large (at most ${MAX_HELPER_REQUEST} bytes)`);
      }
      return;
    }
    handled = true;
    socket.setTimeout(0);
    let json: unknown;
    try {
      json = JSON.parse(buffer.slice(0, newline));
    } catch {
      return fail('malformed request: not JSON');
    }
    const parsed = HelperRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(`invalid request: ${issue ? `${issue.path.join('.') || 'request'}: ${issue.message}` : 'unknown shape'}`);
    }
    const request = parsed.data;
    const { sessions } = opts;
    // Events wait until the reply has gone out; the exit event ends the conversation.
    let replied = false;
    const early: HelperEvent[] = [];
    const onEvent = (event: HelperEvent) => {
      if (!replied) return void early.push(event);
      send(event);
      if (event.event === 'exit') socket.end();
    };
    const replyThenStream = (result: unknown, unsubscribe: () => void) => {
      send({ ok: true, result });
      replied = true;
      for (const event of early.splice(0)) onEvent(event);
      // The caller going away (an app restarting) does not end the session.
      socket.once('close', unsubscribe);
    };
    void (async () => {
      switch (request.op) {
        case 'start': {
          const { session, unsubscribe } = await sessions.start(caller, request.label, request.spec, request.files, onEvent);
          return replyThenStream(session, unsubscribe);
        }
        case 'watch': {
          const { session, unsubscribe } = sessions.watch(caller, request.id, onEvent);
          return replyThenStream(session, unsubscribe);
        }
        case 'stop':
          sessions.stop(caller, request.id, request.signal);
          send({ ok: true, result: null });
          return socket.end();
        case 'list':
          send({ ok: true, result: sessions.list(caller) });
          return socket.end();
        case 'status':
          send({ ok: true, result: { version: FERRY_VERSION, sessions: sessions.list(caller).length, dns: opts.dnsName } });
          return socket.end();
      }
    })().catch((err: Error) => {
      opts.log(`uid ${caller.uid}: ${request.op} refused: ${err.message}`);
      fail(err.message);
    });
  });
}
