/**
 * A connection to OpenVPN's management interface (doc/management-notes.txt): line framing,
 * one command in flight at a time, and real-time messages (lines starting with '>')
 * handed to a single listener, which is the caller's router. Used by the gateway
 * (server/) and the client session (core/).
 */
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { quote } from '../engine/quote.js';
import { LineFramer } from '../util/line-framer.js';

export interface Notification {
  /** e.g. CLIENT, STATE, PASSWORD, INFO */
  type: string;
  /** Everything after "TYPE:" */
  body: string;
}

export class ManagementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManagementError';
  }
}

interface Pending {
  command: string;
  lines: string[];
  resolve: (lines: string[]) => void;
  reject: (err: Error) => void;
}

/** Longest line we accept, in bytes; anything longer means the peer is not OpenVPN. */
const MAX_LINE = 1 << 20;

/**
 * Where openvpn's management interface listens: a unix socket path, or (Windows, where
 * openvpn has no unix sockets) `management 127.0.0.1 PORT pw-file`, whose password the
 * client sends first. openvpn prompts "ENTER PASSWORD:" without a newline (manage.c
 * man_prompt) and answers "SUCCESS: password is correct" or "ERROR: bad password"
 * (man_check_password).
 */
export type ManagementTarget = string | { host: string; port: number; password: string };

const PASSWORD_PROMPT = 'ENTER PASSWORD:';

/**
 * How long openvpn may take to prompt for and accept the password. openvpn answers at
 * once from its event loop, even in its hold; a peer that accepted and says nothing (a
 * second client queued behind a first, which openvpn serves one at a time, or not
 * openvpn at all) would otherwise keep connect() waiting forever.
 */
const PASSWORD_ANSWER_MS = 20_000;

/** Says where a target is, without its password. */
export function describeTarget(target: ManagementTarget): string {
  return typeof target === 'string' ? target : `${target.host}:${target.port}`;
}

export class ManagementConnection {
  private readonly framer = new LineFramer((line) => this.handleLine(line), {
    maxLineLength: MAX_LINE,
    onOverflow: () => {
      this.framer.stop();
      this.shutdown(new ManagementError('the management peer sent an over-long line'));
      this.socket.destroy();
    },
  });
  private readonly queue: Pending[] = [];
  private closed = false;
  /**
   * Where read bytes go: to authenticate() while it answers the password prompt, then
   * held until the caller has the connection (see open()), then to the line framer.
   */
  private reading: 'password' | 'held' | 'framed' = 'held';
  private readonly held: Buffer[] = [];
  private closeListeners: Array<(err?: Error) => void> = [];

  private constructor(
    private readonly socket: Socket,
    private readonly onNotification: (n: Notification) => void,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (this.reading === 'framed') this.framer.push(chunk);
      else if (this.reading === 'held') this.held.push(chunk);
    });
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown());
  }

  /**
   * Connects to a unix socket path or a TCP port (then authenticates with its password),
   * retrying while OpenVPN has not created it yet. A wrong password is not retried.
   *
   * Notifications start only after the caller has the connection: on a password-protected
   * port openvpn's welcome (>INFO, and >HOLD under management-hold) often comes in the
   * same read as "SUCCESS: password is correct", and a caller that answers >HOLD on the
   * connection it is being handed must not get it before it holds that connection.
   */
  static async connect(
    target: ManagementTarget,
    onNotification: (n: Notification) => void,
    opts: { attempts?: number; intervalMs?: number; isAlive?: () => boolean; passwordAnswerMs?: number } = {},
  ): Promise<ManagementConnection> {
    const attempts = opts.attempts ?? 100;
    let lastError: Error | undefined;
    for (let i = 0; i < attempts; i++) {
      if (opts.isAlive && !opts.isAlive()) break;
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = typeof target === 'string' ? createConnection(target) : createConnection({ host: target.host, port: target.port });
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const connection = new ManagementConnection(socket, onNotification);
        if (typeof target !== 'string') {
          try {
            await connection.authenticate(target.password, opts.passwordAnswerMs ?? PASSWORD_ANSWER_MS, describeTarget(target));
          } catch (err) {
            connection.close();
            throw err;
          }
        }
        connection.open();
        return connection;
      } catch (err) {
        if (err instanceof ManagementError) throw err;
        lastError = err as Error;
        await sleep(opts.intervalMs ?? 50);
      }
    }
    throw new ManagementError(`cannot reach the OpenVPN management socket ${describeTarget(target)}: ${lastError?.message ?? 'openvpn exited'}`);
  }

  /**
   * The first line on a password-protected interface: the password. openvpn prompts
   * "ENTER PASSWORD:" with no newline; a right password gets "SUCCESS: password is
   * correct", a wrong one only the prompt again (its "ERROR: bad password" goes to the log,
   * not to a client that has not logged in). Read raw, bounded in size and in time, before
   * the line framer.
   */
  private authenticate(password: string, answerMs: number, where: string): Promise<void> {
    if (/[\r\n\0]/.test(password)) return Promise.reject(new ManagementError('the management password must be one line'));
    return new Promise((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(
        () => refuse(`the OpenVPN management interface at ${where} did not answer its password within ${answerMs / 1000} s`),
        answerMs,
      );
      const refuse = (why: string) => {
        clearTimeout(timer);
        this.socket.off('data', onData);
        reject(new ManagementError(why));
      };
      const onData = (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        let rest = seen;
        let prompts = 0;
        while (rest.startsWith(PASSWORD_PROMPT)) {
          rest = rest.slice(PASSWORD_PROMPT.length);
          prompts++;
        }
        if (prompts >= 2) return refuse('the OpenVPN management interface refused its password');
        const newline = rest.indexOf('\n');
        if (newline < 0) {
          if (seen.length > 1024) refuse('the management peer did not answer the password as OpenVPN does');
          return;
        }
        if (prompts !== 1 || !rest.startsWith('SUCCESS:')) return refuse('the OpenVPN management interface refused its password');
        clearTimeout(timer);
        this.socket.off('data', onData);
        // What followed SUCCESS (the welcome, >HOLD) waits with the rest for open().
        this.reading = 'held';
        this.held.push(Buffer.from(rest.slice(newline + 1), 'latin1'));
        resolve();
      };
      this.reading = 'password';
      this.socket.on('data', onData);
      this.onClose(() => refuse('the OpenVPN management interface closed the connection before accepting its password'));
      this.socket.write(`${password}\n`);
    });
  }

  /**
   * Starts handing read lines on, from the bytes held since connecting, in a later turn of
   * the event loop than connect() resolves in: as if they had come in a read of their
   * own, which is when they come on a unix socket. By then the caller has stored the
   * connection, so it can answer them on it.
   */
  private open(): void {
    setImmediate(() => {
      this.reading = 'framed';
      for (const chunk of this.held.splice(0)) this.framer.push(chunk);
    });
  }

  /**
   * Sends one command and resolves with its output lines: a single SUCCESS: line, or the
   * lines of a multi-line answer up to END. ERROR: rejects.
   */
  command(command: string): Promise<string[]> {
    return this.commands([command])[0]!;
  }

  /**
   * Sends several commands in one write, so that OpenVPN reads them together (one recv of
   * its 256-byte buffer, when they fit) and runs them back to back, before its event loop
   * does anything else. One promise per command, as command() gives.
   */
  commands(commands: string[]): Array<Promise<string[]>> {
    if (commands.some((c) => /[\r\n]/.test(c))) {
      return commands.map(() => Promise.reject(new ManagementError('a management command must be one line')));
    }
    if (this.closed) return commands.map(() => Promise.reject(new ManagementError('the management connection is closed')));
    const answers = commands.map((command) => new Promise<string[]>((resolve, reject) => this.queue.push({ command, lines: [], resolve, reject })));
    this.socket.write(commands.map((c) => `${c}\n`).join(''));
    return answers;
  }

  onClose(listener: (err?: Error) => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
    this.shutdown();
  }

  private handleLine(line: string): void {
    if (line.startsWith('>')) {
      const colon = line.indexOf(':');
      const type = colon > 0 ? line.slice(1, colon) : line.slice(1);
      const body = colon > 0 ? line.slice(colon + 1) : '';
      this.onNotification({ type, body });
      return;
    }
    const pending = this.queue[0];
    if (!pending) return; // stray output with no command waiting: ignore
    if (pending.lines.length === 0 && line.startsWith('SUCCESS:')) {
      this.queue.shift();
      pending.resolve([line.slice('SUCCESS:'.length).trim()]);
    } else if (pending.lines.length === 0 && line.startsWith('ERROR:')) {
      this.queue.shift();
      pending.reject(new ManagementError(`${pending.command.split(' ')[0]}: ${line.slice('ERROR:'.length).trim()}`));
    } else if (line === 'END') {
      this.queue.shift();
      pending.resolve(pending.lines);
    } else {
      pending.lines.push(line);
    }
  }

  private shutdown(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.queue.splice(0)) {
      pending.reject(new ManagementError(`management connection closed before "${pending.command.split(' ')[0]}" completed`));
    }
    for (const listener of this.closeListeners.splice(0)) listener(err);
  }
}

/**
 * Quotes an argument for a management command (management-notes: "Command Parsing"):
 * openvpn reads commands with the config file's parse_line, so the quoting is the same.
 */
export const quoteArg = quote;
