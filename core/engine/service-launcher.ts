/**
 * The Launcher for Windows: starts openvpn through OpenVPN's own interactive service
 * (`OpenVPNServiceInteractive`, pipe `\\.\pipe\openvpn\service`), as OpenVPN GUI does
 * (openvpn-gui `openvpn.c`, `LaunchOpenVPN`). The protocol is interactive-service.ts.
 *
 * - openvpn runs as this user, in the session dir, on the config Ferry built
 *   (`--config`), logging to `--log` (the service sends its stdout to NUL: RunOpenvpn's
 *   "use /dev/null for stdout of openvpn (client should use --log for output)").
 * - Management on `127.0.0.1` and a free port (openvpn-gui `find_free_tcp_port`: bind
 *   port 0, read it back), password-protected; the password goes in the startup
 *   message's stdin field (`management 127.0.0.1 PORT stdin`, openvpn-gui's
 *   "Pass management password to OpenVPN process"), never in a file or on a command line.
 * - `--pull-filter ignore route-method`, as openvpn-gui adds "when service is in use".
 * - The service keeps the pipe open while openvpn runs and closes it when openvpn exits
 *   (RunOpenvpn), after one more message if the exit code was not 0: that is `exited`.
 *
 * The pipe path is injected: tests use the simulator's unix socket
 * (test/support/interactive-service-sim.ts), which starts a real openvpn on Linux.
 */
import { randomBytes } from 'node:crypto';
import { access, open, readdir } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import path from 'node:path';
import { FailureError } from '../session/failure-error.js';
import { failure } from '../session/failures.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { EngineSpec } from './config.js';
import {
  decodeReply,
  encodeStartupMessage,
  ERROR_OPENVPN_STARTUP,
  ERROR_STARTUP_DATA,
  MAX_REPLY_BYTES,
  quoteWindowsArg,
  SERVICE_PIPE,
  PROCESS_ID_REPLY_BYTES,
  type ServiceReply,
} from './interactive-service.js';
import type { EngineExit, Launcher, LauncherKind, RunningEngine } from './launcher.js';
import { openvpnInstall, OPENVPN_KEY, parseRegQuery, PIPE_DIR, type OpenvpnInstall } from './windows-platform.js';

/** Lines of openvpn's log passed on when it exits (the session keeps the last 20 of them). */
const LOG_TAIL_BYTES = 16 * 1024;

export interface ServiceLauncherOptions {
  /** The service's pipe (default `\\.\pipe\openvpn\service`; a unix socket for the simulator). */
  pipe?: string;
  /** OpenVPN's install as the registry says (windows-platform.ts); undefined when not installed. Not asked when absent. */
  install?: () => Promise<OpenvpnInstall | undefined>;
  /** Default process.platform: which name openvpn reads its stdin by (see `stdinFile`). */
  platform?: NodeJS.Platform;
  /** How long to wait for the service's first answer (default SERVICE_ANSWER_MS). */
  answerMs?: number;
}

/**
 * The bound on the service's first answer. It answers within moments: GetStartupData
 * itself gives up after IO_TIMEOUT (2 s), then it validates the options (a group lookup
 * that may ask a domain controller) and creates the process.
 */
const SERVICE_ANSWER_MS = 30_000;

/**
 * How openvpn is told to read the management password from its stdin. On Windows the
 * word `stdin` (openvpn-gui's `--management … stdin`; console_builtin.c
 * get_console_input_win32 reads a non-console stdin with ReadFile). openvpn elsewhere
 * reads `stdin` only from a terminal (console_builtin.c: "neither stdin nor stderr are a
 * tty device … can't ask for '%s'"), so under the simulator it reads the same pipe as
 * the file /dev/stdin: the password still travels only in the service's stdin field.
 */
export function stdinFile(platform: NodeJS.Platform): 'stdin' | '/dev/stdin' {
  return platform === 'win32' ? 'stdin' : '/dev/stdin';
}

const serviceFailure = (
  detail: 'service-not-running' | 'service-permission' | 'service-not-authorized' | 'service-refused' | 'service-no-answer' | 'service-timeout' | 'service-unexpected',
  params: Record<string, string> = {}) =>
  new FailureError(failure('service-missing', detail, params));

export class InteractiveServiceLauncher implements Launcher {
  readonly pipe: string;

  constructor(private readonly options: ServiceLauncherOptions = {}) {
    this.pipe = options.pipe ?? SERVICE_PIPE;
  }

  async kind(): Promise<LauncherKind> {
    return (await pipeExists(this.pipe)) ? 'service' : 'missing';
  }

  async launch(spec: EngineSpec, sessionDir: string, _label?: string): Promise<RunningEngine> {
    const install = this.options.install ? await this.options.install() : undefined;
    if (this.options.install && !install) throw new FailureError(failure('openvpn-missing', 'openvpn-not-installed'));
    const { buildClientConfig } = await import('./config.js');
    const port = await freeLoopbackPort();
    const password = randomBytes(18).toString('base64url');
    const configPath = path.join(sessionDir, 'openvpn.conf');
    const logPath = path.join(sessionDir, 'openvpn.log');
    await writeFileAtomic(configPath, buildClientConfig({ ...spec, managementTcp: { port, passwordFile: stdinFile(this.options.platform ?? process.platform) } }));
    const options = ['--config', configPath, '--log', logPath, '--pull-filter', 'ignore', 'route-method'].map(quoteWindowsArg).join(' ');
    const message = encodeStartupMessage({ directory: sessionDir, options, stdin: `${password}\n` });

    const { pid, ended } = await this.start(message);
    const listeners: Array<(line: string) => void> = [];
    const emit = (line: string) => {
      for (const l of listeners) l(line);
    };
    let exit: EngineExit | undefined;
    const exited = new Promise<EngineExit>((resolve) => {
      let code: number | null = 0;
      void ended.then(async (reply) => {
        // openvpn's own words are in its log (its stdout is NUL): the last of them follow the service's.
        const tail = await logTail(logPath);
        if (reply?.kind === 'error') {
          emit(`OpenVPN interactive service: ${[reply.func, reply.message].filter(Boolean).join(' ')}`);
          const m = reply.code === ERROR_OPENVPN_STARTUP ? /exit code = (\d+)/.exec(reply.func) : null;
          if (m) code = Number(m[1]);
        }
        for (const line of tail) emit(line);
        resolve((exit = { code, signal: null }));
      });
    });
    return {
      pid,
      managementSocket: `127.0.0.1:${port}`,
      managementTcp: { host: '127.0.0.1', port, password },
      exited,
      onOutput: (listener) => listeners.push(listener),
      kill: (signal) => {
        if (exit) return;
        // The service gave this user PROCESS_TERMINATE on openvpn (RunOpenvpn's ea[1]).
        try {
          process.kill(pid, signal);
        } catch {
          // already gone
        }
      },
    };
  }

  /**
   * Sends the startup message; resolves with openvpn's pid once the service replied with it.
   *
   * Replies are framed by what interactive.c does, not by how the bytes arrive (a
   * byte-mode read may get part of a message, or two): a process id is always
   * PROCESS_ID_REPLY_BYTES long; every other reply is the last thing the service writes
   * before it disconnects (RunOpenvpn's `goto out` after each ReturnError, and the exit
   * error just before the final DisconnectNamedPipe), so it is read up to the disconnect.
   * Waiting for the first answer is bounded (`answerMs`): a peer that accepts and says
   * nothing, or half a process id, must not hold the connect forever.
   */
  private start(message: Buffer): Promise<{ pid: number; ended: Promise<ServiceReply | undefined> }> {
    const answerMs = this.options.answerMs ?? SERVICE_ANSWER_MS;
    return new Promise((resolve, reject) => {
      const socket = createConnection(this.pipe);
      let first = Buffer.alloc(0);
      // After the process id: at most MAX_REPLY_BYTES kept (the service sends one short error at most).
      const after: Buffer[] = [];
      let afterBytes = 0;
      let started = false;
      let settled = false;
      let endedResolve: (reply: ServiceReply | undefined) => void = () => undefined;
      const ended = new Promise<ServiceReply | undefined>((r) => (endedResolve = r));
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(serviceFailure('service-timeout', { pipe: this.pipe, seconds: String(answerMs / 1000) })), answerMs);
      const keepAfter = (chunk: Buffer) => {
        const room = MAX_REPLY_BYTES - afterBytes;
        if (room <= 0) return;
        const kept = chunk.subarray(0, room);
        after.push(kept);
        afterBytes += kept.length;
      };
      socket.once('connect', () => socket.write(message));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (started) return;
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') fail(serviceFailure('service-not-running', { pipe: this.pipe }));
        else if (err.code === 'EACCES' || err.code === 'EPERM') fail(serviceFailure('service-permission', { pipe: this.pipe }));
        else fail(serviceFailure('service-refused', { code: err.code ?? 'unknown', error: err.message }));
      });
      socket.on('data', (chunk: Buffer) => {
        if (settled && !started) return;
        if (started) return keepAfter(chunk);
        // A read is at most a pipe buffer (64 KiB): held at most once over the bound.
        first = Buffer.concat([first, chunk]);
        if (first.length < PROCESS_ID_REPLY_BYTES) return;
        const reply = decodeReply(first.subarray(0, PROCESS_ID_REPLY_BYTES));
        // Not a process id: an error, whole at the disconnect.
        if (reply?.kind !== 'pid') {
          if (first.length > MAX_REPLY_BYTES) fail(serviceFailure('service-unexpected'));
          return;
        }
        started = settled = true;
        clearTimeout(timer);
        keepAfter(first.subarray(PROCESS_ID_REPLY_BYTES));
        resolve({ pid: reply.pid, ended });
      });
      socket.once('close', () => {
        if (started) return endedResolve(afterBytes > 0 ? decodeReply(Buffer.concat(after)) : undefined);
        if (first.length === 0) return fail(serviceFailure('service-no-answer'));
        const reply = decodeReply(first);
        // ReturnError never sends code 0: that is a cut-off process id, or not the service.
        if (reply?.kind !== 'error' || reply.code === 0) return fail(serviceFailure('service-unexpected'));
        fail(refusal(reply));
      });
    });
  }
}

/** The service's error reply as a failure a person can act on. */
function refusal(reply: Extract<ServiceReply, { kind: 'error' }>): FailureError {
  const said = [reply.func, reply.message].filter(Boolean).join(': ');
  // ValidateOptions' msg1/msg2: "… requires admin approval … by adding your account to the "%ls" group".
  // The group as the service named it: its UTF-16 text is exact, while the registry value
  // came through reg.exe's OEM code page and may be mangled (windows-platform.ts parseRegQuery).
  const group = /adding your account to the "([^"]+)" group/.exec(said)?.[1];
  if (reply.code === ERROR_STARTUP_DATA && group) return serviceFailure('service-not-authorized', { group, error: said });
  return serviceFailure('service-refused', { code: `0x${reply.code.toString(16).padStart(8, '0')}`, error: said || 'no reason given' });
}

/** OpenVPN's install from the Windows registry (`reg query HKLM\SOFTWARE\OpenVPN`); undefined when absent. */
export async function registryInstall(): Promise<OpenvpnInstall | undefined> {
  const { execFile } = await import('node:child_process');
  const stdout = await new Promise<string | undefined>((resolve) =>
    execFile('reg', ['query', `HKLM\\${OPENVPN_KEY}`], { windowsHide: true, maxBuffer: 64 * 1024 }, (err, out) => resolve(err ? undefined : out)),
  );
  if (stdout === undefined) return undefined;
  const values = parseRegQuery(stdout);
  return openvpnInstall((_key, value) => values.get(value));
}

/** A TCP port on 127.0.0.1 nobody listens on now (openvpn-gui's find_free_tcp_port). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether the service's pipe exists, without connecting (a connection would make the service log a timeout). */
async function pipeExists(pipe: string): Promise<boolean> {
  if (pipe.startsWith(PIPE_DIR)) {
    const names = await readdir(PIPE_DIR).catch(() => [] as string[]);
    return names.some((n) => n.toLowerCase() === pipe.slice(PIPE_DIR.length).toLowerCase());
  }
  return access(pipe).then(
    () => true,
    () => false,
  );
}

/** The last lines of openvpn's log (bounded), or none. */
async function logTail(file: string): Promise<string[]> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return [];
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split(/\r?\n/).filter(Boolean);
    return (size > length ? lines.slice(1) : lines).slice(-20);
  } finally {
    await handle.close();
  }
}
