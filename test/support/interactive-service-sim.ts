/**
 * A simulator of OpenVPN's interactive service (Windows, `OpenVPNServiceInteractive`),
 * written from its source, OpenVPN/openvpn `src/openvpnserv/interactive.c` (`RunOpenvpn`,
 * `GetStartupData`, `ValidateOptions`, `ReturnProcessId`, `ReturnError`) and
 * `src/openvpnserv/validate.c` (`CheckOption`, `CheckConfigPath`, the option `white_list`),
 * at commit 3de92608. It parses exactly as interactive.c does, in the same order, with the
 * same refusals and the same reply texts, except where Windows itself answers:
 *
 * - The pipe `\\.\pipe\openvpn\service` is a unix socket here. A named pipe in message
 *   mode hands GetStartupData one whole message; here the first read is the message (the
 *   client writes it in one write of at most 8 KiB, which a unix stream socket delivers
 *   whole). Nothing sent: after IO_TIMEOUT (2000 ms) "GetStartupData (timeout)", as
 *   PeekNamedPipeAsyncTimed gives up.
 * - The startup data is cut by core/engine/interactive-service.ts's `decodeStartupMessage`,
 *   which is GetStartupData step for step (its unit test holds it to each branch).
 * - `IsAuthorizedUser` (membership of Administrators or `ovpn_admin_group`) is the
 *   `authorized` option: the test says what Windows would have found in the token.
 * - `CheckConfigPath` canonicalizes with PathCchCombine/PathCchCanonicalize and compares
 *   with `wcsnicmp`: here path.resolve and a case-insensitive prefix comparison.
 * - CreateProcessAsUserW becomes spawn: `openvpn <options>` split as CommandLineToArgvW
 *   splits them (Linux openvpn has no `--msg-channel`, so none is added), cwd the working
 *   directory, stdout and stderr to /dev/null ("client should use --log for output"),
 *   the stdin text written as UTF-8 and stdin left open, as RunOpenvpn does. stdin is a
 *   real pipe as CreatePipe makes (a FIFO in a private directory, mode 0600: Node's own
 *   stdio pipes are socketpairs, which /dev/stdin cannot reopen). (Linux
 *   openvpn reads a `stdin` password only from a terminal, so the launcher names the same
 *   pipe /dev/stdin off Windows: service-launcher.ts `stdinFile`.)
 * - The reply after openvpn exits non-zero (ERROR_OPENVPN_STARTUP "OpenVPN exited with
 *   error: exit code = N"), then the pipe is disconnected; a signal-killed openvpn counts
 *   as exit code 1 (what TerminateProcess(…, 1) leaves).
 *
 * Every buffer is bounded: only the first read is parsed, and GetStartupData refuses more
 * than 4096 UTF-16 units.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import {
  commandLineToArgv,
  decodeStartupMessage,
  encodeError,
  encodeProcessId,
  ERROR_OPENVPN_STARTUP,
  ERROR_STARTUP_DATA,
  StartupDataError,
  type StartupData,
} from '../../core/engine/interactive-service.js';

/** interactive.c `#define IO_TIMEOUT 2000 /*ms*\/`. */
const IO_TIMEOUT_MS = 2000;
/** validate.c `white_list`. */
const WHITE_LIST = [
  'auth-retry',
  'config',
  'log',
  'log-append',
  'management',
  'management-forget-disconnect',
  'management-hold',
  'management-query-passwords',
  'management-query-proxy',
  'management-signal',
  'management-up-down',
  'mute',
  'setenv',
  'service',
  'verb',
  'pull-filter',
  'script-security',
];

export interface SimulatorOptions {
  socketPath: string;
  /** settings.config_dir (HKLM\SOFTWARE\OpenVPN\config_dir), with its trailing separator. */
  configDir: string;
  /** settings.ovpn_admin_group. */
  adminGroup?: string;
  /** What IsAuthorizedUser would answer for the connecting user. */
  authorized: boolean;
  /** settings.exe_path. */
  openvpn?: string;
  /** Runs openvpn under this prefix (e.g. `ip netns exec NS`, so it lands in a lab namespace). */
  spawnPrefix?: string[];
}

export interface SimulatedStart {
  pid: number;
  argv: string[];
  data: StartupData;
}

export class InteractiveServiceSimulator {
  /** Every openvpn started, in order. */
  readonly started: SimulatedStart[] = [];
  /** Every refusal sent, as the service's error text (for the test's messages). */
  readonly refusals: string[] = [];
  private readonly children = new Set<ChildProcess>();

  private constructor(
    private readonly server: Server,
    readonly options: SimulatorOptions,
  ) {}

  static async start(options: SimulatorOptions): Promise<InteractiveServiceSimulator> {
    await rm(options.socketPath, { force: true });
    const server = createServer();
    server.maxConnections = 64;
    const sim = new InteractiveServiceSimulator(server, options);
    server.on('connection', (socket) => sim.runOpenvpn(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, resolve);
    });
    return sim;
  }

  /** Stops listening and kills every openvpn still running. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  }

  /** RunOpenvpn, for one client connection. */
  private runOpenvpn(pipe: Socket): void {
    pipe.on('error', () => {});
    const timer = setTimeout(() => this.returnError(pipe, ERROR_STARTUP_DATA, 'GetStartupData (timeout)', '', true), IO_TIMEOUT_MS);
    pipe.once('data', (first: Buffer) => {
      clearTimeout(timer);
      // GetStartupData
      let sud: StartupData;
      try {
        sud = decodeStartupMessage(first);
      } catch (err) {
        if (!(err instanceof StartupDataError)) throw err;
        this.refusals.push(err.reason);
        return this.returnError(pipe, ERROR_STARTUP_DATA, 'GetStartupData', '', true);
      }
      // ValidateOptions … && !IsAuthorizedUser
      const errmsg = this.validateOptions(sud.directory, sud.options);
      if (errmsg !== undefined && !this.options.authorized) {
        this.refusals.push(errmsg);
        return this.returnError(pipe, ERROR_STARTUP_DATA, errmsg, '', true);
      }
      this.createProcess(pipe, sud);
    });
  }

  /** ValidateOptions: undefined when the options pass, else its errmsg (msg1 or msg2). */
  private validateOptions(workdir: string, options: string): string | undefined {
    const group = this.options.adminGroup ?? 'OpenVPN Administrators';
    const msg1 = (file: string) =>
      `You have specified a config file location (${file} relative to ${workdir}) that requires admin approval. This error may be avoided by adding your account to the "${group}" group`;
    const msg2 = (option: string) =>
      `You have specified an option (${option}) that may be used only with admin approval. This error may be avoided by adding your account to the "${group}" group`;
    const argv = commandLineToArgv(options, this.options.openvpn ?? 'openvpnserv.exe');
    if (argv.length < 1) return undefined;
    if (argv.length === 1) return this.checkOption(workdir, ['--config', argv[0]!]) ? undefined : msg1(argv[0]!);
    for (let i = 0; i < argv.length; i++) {
      if (!argv[i]!.startsWith('--')) continue; // IsOption
      if (!this.checkOption(workdir, argv.slice(i))) {
        return argv[i] === '--config' && argv.length - i > 1 ? msg1(argv[i + 1]!) : msg2(argv[i]!);
      }
    }
    return undefined;
  }

  /** validate.c CheckOption. */
  private checkOption(workdir: string, argv: string[]): boolean {
    if (argv[0] === '--config' && argv.length > 1 && !this.checkConfigPath(workdir, argv[1]!)) return false;
    if (!WHITE_LIST.includes(argv[0]!.slice(2))) return false;
    if (argv[0] === '--setenv' && argv.length > 1 && argv[1] === 'opt') return false;
    return true;
  }

  /** validate.c CheckConfigPath. */
  private checkConfigPath(workdir: string, fname: string): boolean {
    if (fname === 'stdin') return false;
    const full = path.isAbsolute(fname) ? path.resolve(fname) : path.resolve(workdir, fname);
    return full.toLowerCase().startsWith(this.options.configDir.toLowerCase());
  }

  private createProcess(pipe: Socket, sud: StartupData): void {
    const argv = commandLineToArgv(`openvpn ${sud.options}`).slice(1);
    const exe = this.options.openvpn ?? 'openvpn';
    const command = [...(this.options.spawnPrefix ?? []), exe, ...argv];
    // CreatePipe(&stdin_read, &stdin_write): a FIFO, opened read-write so neither open blocks.
    const fifoDir = mkdtempSync(path.join(tmpdir(), 'iservice-stdin-'));
    const fifo = path.join(fifoDir, 'stdin');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const stdinRead = openSync(fifo, 'r+');
    const stdinWrite = openSync(fifo, 'w');
    const child = spawn(command[0]!, command.slice(1), {
      cwd: sud.directory,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: [stdinRead, 'ignore', 'ignore'],
    });
    closeSync(stdinRead);
    const cleanup = () => {
      closeSync(stdinWrite);
      rmSync(fifoDir, { recursive: true, force: true });
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      // CreateProcessAsUserW failed: ReturnLastError(pipe, L"CreateProcessAsUser").
      this.returnError(pipe, err.code === 'ENOENT' ? 2 : 5, 'CreateProcessAsUser', err.code === 'ENOENT' ? 'The system cannot find the file specified.\r\n' : 'Access is denied.\r\n', true);
    });
    child.once('spawn', () => {
      this.children.add(child);
      this.started.push({ pid: child.pid!, argv, data: sud });
      pipe.write(encodeProcessId(child.pid!));
      // WideCharToMultiByte(CP_UTF8, …, sud.std_input, -1, …); WriteFile(stdin_write, input, strlen(input)).
      writeSync(stdinWrite, Buffer.from(sud.stdin, 'utf8'));
    });
    child.once('exit', (code, signal) => {
      this.children.delete(child);
      cleanup();
      const exitCode = code ?? (signal ? 1 : 0);
      if (exitCode !== 0) this.returnError(pipe, ERROR_OPENVPN_STARTUP, `OpenVPN exited with error: exit code = ${exitCode}`, '', true);
      else pipe.end();
    });
  }

  private returnError(pipe: Socket, code: number, func: string, systemText: string, disconnect: boolean): void {
    if (pipe.destroyed) return;
    pipe.write(encodeError(code, func, systemText));
    if (disconnect) pipe.end();
  }
}
