/**
 * ferry-helper's socket: anyone on the machine may connect (mode 0666), and each
 * connection is identified by the kernel's peer credentials before a byte is read; only
 * root and members of the helper's group may start a session (policy.ts). One JSON
 * request line per connection, parsed with the closed schema. Everything a caller can
 * make the helper hold is bounded: connections (machine-wide, per account — the login
 * behind the uid, accounts.ts — and for callers who may not start sessions, one small
 * pool for all of them), streams (start/watch connections kept open for events) per
 * account, the time to send the request line (an absolute deadline, so trickling bytes
 * does not extend it), the request's size in bytes, and what may wait unread for a
 * watcher (one that falls behind is dropped, not buffered). Root is never locked out.
 */
import { chmod, lstat, mkdir, realpath, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { HelperRequestSchema, MAX_HELPER_REQUEST, type HelperEvent } from '../../core/engine/helper-protocol.js';
import { LineFramer } from '../../core/util/line-framer.js';
import { describeSchemaError } from '../../core/util/schema-error.js';
import { FERRY_VERSION } from '../../core/version.js';
import { accountOf } from './accounts.js';
import { peerCredentials, type PeerCredentials } from './peer-credentials.js';
import { mayStart, startRefusal, type StartPolicy } from './policy.js';
import type { SessionManager } from './sessions.js';

/** A connection must have sent its whole request line this soon after connecting, or it is dropped. */
export const REQUEST_TIMEOUT_MS = 5_000;
/** Connections open at once; more are closed at once (a local flood must not starve the helper). Root is not counted. */
export const MAX_CONNECTIONS = 128;
/** Of those, what every caller who may not start sessions shares (they can only ask for status and an empty list). */
export const MAX_GUEST_CONNECTIONS = 16;
/** Per account: connections open at once, and of those, streams (start/watch) kept open for events. */
export const PER_USER = { connections: 16, streams: 8 };
/** Bytes that may wait unread for one connection; a watcher further behind is dropped. */
export const MAX_PENDING_BYTES = 256 * 1024;

export interface HelperServerOptions {
  socketPath: string;
  sessions: SessionManager;
  policy: StartPolicy;
  dnsName: string;
  log: (message: string) => void;
  /** A listening descriptor handed over by systemd socket activation. */
  inheritedFd?: number;
}

/**
 * The socket's directory must be root's and not writable by others, or another user could
 * replace the socket (or the session directories next to it); so must every directory
 * above it, unless sticky (as /tmp is: nobody can rename what they do not own there).
 * A symlink on the way is followed when root owns it (macOS reaches /var/run through the
 * /var -> private/var link): nobody else can re-point it, and where it leads is checked too.
 */
export async function prepareBaseDir(dir: string): Promise<void> {
  if (/\s/.test(dir)) throw new Error(`${dir}: the helper's directory must not contain spaces`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (st.uid !== 0) throw new Error(`${dir} must be owned by root`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} must not be writable by group or others (chmod 755 ${dir})`);
  await checkAbove(dir, dir);
  const real = await realpath(dir);
  if (real !== dir) await checkAbove(real, dir);
}

/** Every directory above `dir` root's and not writable by others (unless sticky); symlinks root's. */
async function checkAbove(dir: string, holds: string): Promise<void> {
  for (let above = path.dirname(dir); ; above = path.dirname(above)) {
    const a = await lstat(above);
    if (a.isSymbolicLink()) {
      if (a.uid !== 0) throw new Error(`${above} is a symlink owned by uid ${a.uid}, not root (it leads to ${holds})`);
    } else if (a.uid !== 0 || ((a.mode & 0o022) !== 0 && (a.mode & 0o1000) === 0)) {
      throw new Error(`${above} must be a root-owned directory that others cannot write to (it holds ${holds})`);
    }
    if (above === path.dirname(above)) break;
  }
}

export async function startHelperServer(opts: HelperServerOptions): Promise<Server> {
  const open = { all: 0, guests: 0 };
  type Usage = { connections: number; streams: number; refused: number };
  const perAccount = new Map<string, Usage>();
  const usage = (account: string) => perAccount.get(account) ?? perAccount.set(account, { connections: 0, streams: 0, refused: 0 }).get(account)!;
  const forgetIfIdle = (account: string) => {
    const u = perAccount.get(account);
    if (u && u.connections === 0 && u.streams === 0 && u.refused === 0) perAccount.delete(account);
  };
  const release = (account: string, kind: keyof Usage) => {
    usage(account)[kind]--;
    forgetIfIdle(account);
  };
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let peer: PeerCredentials;
    try {
      peer = peerCredentials(socket);
    } catch (err) {
      opts.log(`refused a connection: ${(err as Error).message}`);
      return void socket.destroy();
    }
    const caller = { ...peer, account: accountOf(peer) };
    const isRoot = caller.uid === 0;
    const guest = !mayStart(opts.policy, caller);
    const mine = usage(caller.account);
    // Over an account's own limit: told why, without taking a machine-wide slot, so one
    // person cannot fill the helper. One who keeps on is closed on without a word.
    if (!isRoot && mine.connections >= PER_USER.connections) {
      if (mine.refused >= PER_USER.connections) return void socket.destroy(); // the account holds connections: not idle
      mine.refused++;
      socket.once('close', () => release(caller.account, 'refused'));
      // Told, then closed; not destroyed at once, which could discard the line unread.
      socket.end(`${JSON.stringify({ ok: false, error: `too many connections from your user (at most ${PER_USER.connections} at once)` })}\n`);
      return void setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS).unref();
    }
    if (!isRoot && (open.all >= MAX_CONNECTIONS || (guest && open.guests >= MAX_GUEST_CONNECTIONS))) {
      forgetIfIdle(caller.account); // an account seen only here must not stay in the map
      return void socket.destroy();
    }
    const counted = !isRoot;
    if (counted) open.all++;
    if (counted && guest) open.guests++;
    mine.connections++;
    socket.once('close', () => {
      if (counted) open.all--;
      if (counted && guest) open.guests--;
      release(caller.account, 'connections');
    });
    serveConnection(socket, caller, opts, {
      // A stream slot lasts as long as its connection, or until its request is refused.
      openStream: () => {
        if (mine.streams >= PER_USER.streams) return undefined;
        mine.streams++;
        let held = true;
        const close = () => {
          if (held) release(caller.account, 'streams');
          held = false;
        };
        socket.once('close', close);
        return close;
      },
    });
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

function serveConnection(socket: Socket, caller: PeerCredentials & { account: string }, opts: HelperServerOptions, limits: { openStream(): (() => void) | undefined }): void {
  // Absolute, from the connection's first moment: a byte every second does not extend it.
  // Once a reply has been sent the same timer bounds how long an unread reply may linger.
  let deadline: NodeJS.Timeout | undefined = setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS);
  socket.once('close', () => clearTimeout(deadline));
  const send = (message: unknown) => {
    if (socket.destroyed) return;
    if (socket.writableLength > MAX_PENDING_BYTES) {
      opts.log(`uid ${caller.uid}: dropped a connection that stopped reading (${socket.writableLength} bytes unread)`);
      return void socket.destroy();
    }
    socket.write(`${JSON.stringify(message)}\n`);
  };
  const finish = () => {
    socket.end();
    clearTimeout(deadline);
    deadline = setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS);
  };
  const fail = (error: string) => {
    send({ ok: false, error });
    finish();
  };
  // One request per connection: its first line, bounded in bytes (with its newline); anything after it is ignored.
  const framer = new LineFramer((line) => handle(line), {
    maxLineLength: MAX_HELPER_REQUEST - 1,
    stripCr: false,
    onOverflow: () => {
      framer.stop();
      fail(`request too large (at most ${MAX_HELPER_REQUEST} bytes)`);
    },
  });
  socket.on('data', (chunk: Buffer) => framer.push(chunk));
  const handle = (line: string) => {
    framer.stop();
    clearTimeout(deadline);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return fail('malformed request: not JSON');
    }
    const parsed = HelperRequestSchema.safeParse(json);
    if (!parsed.success) return fail(`invalid request: ${describeSchemaError(parsed.error, undefined, { whole: 'request' })}`);
    const request = parsed.data;
    const { sessions } = opts;
    // Events wait until the reply has gone out; the exit event ends the conversation.
    let replied = false;
    const early: HelperEvent[] = [];
    const onEvent = (event: HelperEvent) => {
      if (!replied) {
        if (early.length < 1000) early.push(event);
        return;
      }
      send(event);
      if (event.event === 'exit') finish();
    };
    const replyThenStream = (result: unknown, unsubscribe: () => void) => {
      send({ ok: true, result });
      replied = true;
      for (const event of early.splice(0)) onEvent(event);
      // The caller going away (an app restarting) does not end the session.
      if (socket.destroyed) unsubscribe();
      else socket.once('close', unsubscribe);
    };
    let closeStream: (() => void) | undefined;
    const stream = () => {
      closeStream = limits.openStream();
      if (!closeStream) throw new Error(`too many open sessions and watchers for your user (at most ${PER_USER.streams}); close another Ferry window first`);
    };
    void (async () => {
      switch (request.op) {
        case 'start': {
          if (!mayStart(opts.policy, caller)) throw new Error(await startRefusal(opts.policy, caller.uid));
          stream();
          const { session, unsubscribe } = await sessions.start(caller, request.label, request.spec, request.files, onEvent);
          return replyThenStream(session, unsubscribe);
        }
        case 'watch': {
          stream();
          const { session, unsubscribe } = sessions.watch(caller, request.id, onEvent);
          return replyThenStream(session, unsubscribe);
        }
        case 'stop':
          sessions.stop(caller, request.id, request.signal);
          send({ ok: true, result: null });
          return finish();
        case 'list':
          send({ ok: true, result: sessions.list(caller) });
          return finish();
        case 'status':
          send({ ok: true, result: { version: FERRY_VERSION, sessions: sessions.list(caller).length, dns: opts.dnsName, mayStart: mayStart(opts.policy, caller) } });
          return finish();
      }
    })().catch((err: Error) => {
      closeStream?.();
      opts.log(`uid ${caller.uid}: ${request.op} refused: ${err.message}`);
      fail(err.message);
    });
  };
}
