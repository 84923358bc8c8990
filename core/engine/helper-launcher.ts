/**
 * The Launcher for ordinary users: asks the privileged helper (native/helper) to start
 * openvpn. The helper gets structured fields and the profile's certificate files, never
 * a password: credentials still go from this process straight to openvpn over the
 * management socket, which the helper hands to this user alone.
 */
import { createConnection, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { FailureError } from '../session/failure-error.js';
import { failure } from '../session/failures.js';
import { LineFramer } from '../util/line-framer.js';
import type { EngineSpec } from './config.js';
import {
  HelperEventSchema,
  HelperReplySchema,
  HelperSessionSchema,
  helperSocketPath,
  type HelperEvent,
  type HelperFiles,
  type HelperSession,
  type HelperRequest,
} from './helper-protocol.js';
import type { EngineExit, Launcher, LauncherKind, RunningEngine } from './launcher.js';

/** Longest line (reply or event) taken from the helper, in bytes; a longer one closes the connection. */
const MAX_HELPER_LINE = 1 << 20;

/** No helper to start openvpn: not installed, not running, or its socket unreachable. */
export class HelperMissingError extends FailureError {
  constructor(socketPath: string, why: 'not running' | 'permission denied') {
    super(failure('helper-missing', why === 'not running' ? 'helper-not-running' : 'helper-permission', { socket: socketPath }));
  }
}

/** ferry-helper answered, but not with a started openvpn. */
const helperFailure = (detail: 'helper-error' | 'helper-no-answer' | 'helper-unexpected' | 'helper-refused', error?: string) =>
  new FailureError(failure('config', detail, error !== undefined ? { error } : {}));

export class HelperLauncher implements Launcher {
  constructor(readonly socketPath: string = helperSocketPath()) {}

  async launch(spec: EngineSpec, _sessionDir: string, label: string): Promise<RunningEngine> {
    const { files, managementSocket: _chosenByHelper, ...fields } = spec;
    const conversation = await this.converse({ op: 'start', label, spec: fields, files: await readFiles(files) });
    return this.engine(conversation);
  }

  async find(label: string): Promise<RunningEngine | undefined> {
    const session = (await this.list()).find((s) => s.label === label);
    return session ? this.engine(await this.converse({ op: 'watch', id: session.id })) : undefined;
  }

  async running(): Promise<string[]> {
    return (await this.list()).map((s) => s.label);
  }

  private async list(): Promise<HelperSession[]> {
    const list = await this.request({ op: 'list' }).catch((err: unknown) => {
      if (err instanceof HelperMissingError) return []; // launch() says so, with advice
      throw err;
    });
    return HelperSessionSchema.array().parse(list);
  }

  /** Through the helper if one answers at the socket; "missing" if none does. */
  async kind(): Promise<LauncherKind> {
    return this.request({ op: 'status' }).then(
      () => 'helper',
      () => 'missing',
    );
  }

  /** A one-shot request: the reply's result. */
  async request(request: HelperRequest): Promise<unknown> {
    const { result, socket } = await this.converse(request);
    socket.destroy();
    return result;
  }

  private engine({ result, subscribe }: Conversation): RunningEngine {
    const session = HelperSessionSchema.parse(result);
    const listeners: Array<(line: string) => void> = [];
    let exit: EngineExit | undefined;
    const exited = new Promise<EngineExit>((resolve) => {
      subscribe(
        (event) => {
          if (event.event === 'output') for (const l of listeners) l(event.line);
          else resolve((exit = { code: event.code, signal: event.signal as NodeJS.Signals | null }));
        },
        // The helper went away (crashed or restarted): a restarted helper stops openvpns
        // it did not start itself, so this engine is as good as gone.
        () => {
          if (!exit) for (const l of listeners) l('ferry-helper closed the connection');
          resolve(exit ?? { code: null, signal: null });
        },
      );
    });
    return {
      pid: session.pid,
      managementSocket: session.managementSocket,
      exited,
      onOutput: (listener) => listeners.push(listener),
      kill: (signal) => {
        if (exit) return;
        // Only the two the helper accepts; "stop now" is all a session ever needs.
        void this.request({ op: 'stop', id: session.id, signal: signal === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM' }).catch(() => {});
      },
    };
  }

  /** Sends one request; resolves with the reply and the still-open connection for events. */
  private converse(request: HelperRequest): Promise<Conversation> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.socketPath);
      // Events that arrive before anyone subscribed wait here (they share the reply's chunk).
      const early: HelperEvent[] = [];
      let onEvent: ((event: HelperEvent) => void) | undefined;
      let onClose: (() => void) | undefined;
      let closed = false;
      const subscribe: Conversation['subscribe'] = (eventListener, closeListener) => {
        onEvent = eventListener;
        onClose = closeListener;
        for (const event of early.splice(0)) eventListener(event);
        if (closed) closeListener();
      };
      let replied = false;
      const framer = new LineFramer(
        (line) => {
          if (!replied) {
            replied = true;
            const reply = HelperReplySchema.safeParse(safeJson(line));
            if (!reply.success) {
              framer.stop();
              socket.destroy();
              return reject(helperFailure('helper-unexpected'));
            }
            if (!reply.data.ok) {
              framer.stop();
              socket.destroy();
              return reject(helperFailure('helper-refused', reply.data.error));
            }
            return resolve({ result: reply.data.result, socket, subscribe });
          }
          const event = HelperEventSchema.safeParse(safeJson(line));
          if (event.success) {
            if (onEvent) onEvent(event.data);
            else early.push(event.data);
          }
        },
        {
          maxLineLength: MAX_HELPER_LINE,
          onOverflow: () => {
            framer.stop();
            socket.destroy();
            if (!replied) reject(helperFailure('helper-unexpected'));
            replied = true;
          },
        },
      );
      socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (replied) return;
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new HelperMissingError(this.socketPath, 'not running'));
        else if (err.code === 'EACCES') reject(new HelperMissingError(this.socketPath, 'permission denied'));
        else reject(helperFailure('helper-error', err.message));
      });
      socket.on('close', () => {
        closed = true;
        if (!replied) reject(helperFailure('helper-no-answer'));
        onClose?.();
      });
      socket.on('data', (chunk: Buffer) => framer.push(chunk));
    });
  }
}

interface Conversation {
  result: unknown;
  socket: Socket;
  subscribe(onEvent: (event: HelperEvent) => void, onClose: () => void): void;
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/** The profile's files as text (this user can read them; the helper, root, must not be sent paths). */
async function readFiles(files: EngineSpec['files']): Promise<HelperFiles> {
  const read = (file: string | undefined) => (file ? readFile(file, 'utf8') : Promise.resolve(undefined));
  const [ca, cert, key, tlsAuth, tlsCrypt, tlsCryptV2] = await Promise.all([files.ca, files.cert, files.key, files.tlsAuth, files.tlsCrypt, files.tlsCryptV2].map(read));
  return {
    ca: ca!,
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(tlsAuth !== undefined ? { tlsAuth } : {}),
    ...(tlsCrypt !== undefined ? { tlsCrypt } : {}),
    ...(tlsCryptV2 !== undefined ? { tlsCryptV2 } : {}),
  };
}
