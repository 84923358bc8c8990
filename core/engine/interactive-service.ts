/**
 * OpenVPN's interactive service protocol (Windows: the service `OpenVPNServiceInteractive`
 * at the named pipe `\\.\pipe\openvpn\service`), written from its own source:
 *
 * - OpenVPN/openvpn `src/openvpnserv/interactive.c` (commit 3de92608):
 *   - `GetStartupData` reads the first pipe message as UTF-16LE: at most 4096 WCHARs
 *     (`(size == 0) || (size > 4096)` → ERROR_STARTUP_DATA), the last WCHAR must be NUL
 *     ("Startup data is not NULL terminated"), then three NUL-terminated strings: the working
 *     directory ("Startup data ends at working directory" if nothing follows it), the
 *     options ("Startup data ends at command line options" if nothing follows them) and
 *     the text for openvpn's stdin. `decodeStartupMessage` makes the same cuts in the same
 *     order; `encodeStartupMessage` writes what it accepts.
 *   - `ReturnProcessId`: `swprintf(buf, …, L"0x%08x\n0x%08x\n%ls", 0, pid, L"Process ID")`,
 *     written without a terminating NUL.
 *   - `ReturnError`: `FormatMessage(L"0x%1!08x!\n%2!s!\n%3!s!", error, func, system text)`,
 *     also without a NUL; the codes ERROR_OPENVPN_STARTUP … ERROR_MESSAGE_TYPE are its
 *     `#define`s (0x20000000–0x20000003). After the process id, the service keeps the pipe
 *     open while openvpn runs (`RunOpenvpn`'s loop over the msg-channel) and, if openvpn
 *     exits non-zero, writes one more error, ERROR_OPENVPN_STARTUP "OpenVPN exited with
 *     error: exit code = %lu", then disconnects.
 *   - `RunOpenvpn` runs `openvpn <options> --msg-channel <handle>` (options split by
 *     `CommandLineToArgvW`, see `commandLineToArgv`), stdout and stderr to NUL, in the
 *     given working directory, writes the stdin text converted to UTF-8 to its stdin.
 * - OpenVPN/openvpn-gui `openvpn.c` (commit db2ed86f): `LaunchOpenVPN` sends
 *   `config_dir NUL options NUL password "\n" NUL` with `--management 127.0.0.1 PORT stdin`
 *   among the options (so the management password travels in the stdin field, never in a
 *   file); `OnService` reads a reply as `swscanf(L"0x%08x\n")`, and a process id when the
 *   code is 0, the text contains "\nProcess ID" and the second line is `0x%08x` ≠ 0.
 */

/** interactive.c: `#define ERROR_OPENVPN_STARTUP 0x20000000` … */
export const ERROR_OPENVPN_STARTUP = 0x20000000;
export const ERROR_STARTUP_DATA = 0x20000001;
export const ERROR_MESSAGE_DATA = 0x20000002;
export const ERROR_MESSAGE_TYPE = 0x20000003;

/** GetStartupData: `size > 4096` WCHARs is "malformed startup data". */
export const MAX_STARTUP_WCHARS = 4096;
/** The longest reply taken from the service, in bytes (its messages are a few hundred WCHARs: errmsg is 512). */
export const MAX_REPLY_BYTES = 8192;
/** The pipe's own name; `service_instance` is empty for the default install. */
export const SERVICE_PIPE = '\\\\.\\pipe\\openvpn\\service';

export interface StartupData {
  /** openvpn's working directory (CreateProcessAsUserW's lpCurrentDirectory). */
  directory: string;
  /** openvpn's options as one command line (split as CommandLineToArgvW does). */
  options: string;
  /** Written to openvpn's stdin as UTF-8 (e.g. the management password and "\n"). */
  stdin: string;
}

export class StartupDataError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'StartupDataError';
  }
}

/** The startup message, as openvpn-gui's LaunchOpenVPN writes it; refuses what GetStartupData would. */
export function encodeStartupMessage(data: StartupData): Buffer {
  for (const [name, value] of Object.entries(data)) {
    if (value.includes('\0')) throw new StartupDataError(`the ${name} field contains a NUL character`);
  }
  const text = `${data.directory}\0${data.options}\0${data.stdin}\0`;
  const buffer = Buffer.from(text, 'utf16le');
  if (buffer.length / 2 > MAX_STARTUP_WCHARS) {
    throw new StartupDataError(`the startup message is ${buffer.length / 2} UTF-16 units; the interactive service takes at most ${MAX_STARTUP_WCHARS}`);
  }
  return buffer;
}

/**
 * GetStartupData, step by step: `bytes` is the whole first pipe message. Throws with the
 * service's own event-log reason where it would answer ERROR_STARTUP_DATA.
 */
export function decodeStartupMessage(bytes: Buffer): StartupData {
  // size = bytes / sizeof(*data): an odd trailing byte is read but not counted.
  const size = Math.floor(bytes.length / 2);
  if (size === 0 || size > MAX_STARTUP_WCHARS) throw new StartupDataError(`malformed startup data: ${size} bytes received`);
  const units = new Uint16Array(size);
  for (let i = 0; i < size; i++) units[i] = bytes.readUInt16LE(i * 2);
  if (units[size - 1] !== 0) throw new StartupDataError('Startup data is not NULL terminated');
  // wcslen from an offset: up to the next NUL (one exists: the last unit is NUL).
  const wcslen = (from: number) => {
    let end = from;
    while (units[end] !== 0) end++;
    return end - from;
  };
  const text = (from: number, len: number) => Buffer.from(units.buffer, from * 2, len * 2).toString('utf16le');
  let remaining = size;
  const directoryLen = wcslen(0);
  remaining -= directoryLen + 1;
  if (remaining === 0) throw new StartupDataError('Startup data ends at working directory');
  const optionsAt = directoryLen + 1;
  const optionsLen = wcslen(optionsAt);
  remaining -= optionsLen + 1;
  if (remaining === 0) throw new StartupDataError('Startup data ends at command line options');
  const stdinAt = optionsAt + optionsLen + 1;
  return { directory: text(0, directoryLen), options: text(optionsAt, optionsLen), stdin: text(stdinAt, wcslen(stdinAt)) };
}

export type ServiceReply = { kind: 'pid'; pid: number } | { kind: 'error'; code: number; func: string; message: string };

/** ReturnProcessId's message: `0x00000000\n0x%08x\nProcess ID` (no NUL), always 32 WCHARs. */
export function encodeProcessId(pid: number): Buffer {
  return Buffer.from(`0x${hex8(0)}\n0x${hex8(pid)}\nProcess ID`, 'utf16le');
}
export const PROCESS_ID_REPLY_BYTES = 64;

/** ReturnError's message: `0x%08x\n<func>\n<system text>` (no NUL). */
export function encodeError(code: number, func: string, message: string): Buffer {
  return Buffer.from(`0x${hex8(code)}\n${func}\n${message}`, 'utf16le');
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** One reply message, read as openvpn-gui's OnService reads it; undefined when it is not one. */
export function decodeReply(bytes: Buffer): ServiceReply | undefined {
  if (bytes.length > MAX_REPLY_BYTES) return undefined;
  // A lone surrogate (not UTF-16 a service writes) becomes U+FFFD, so the text is safe to log and show.
  const text = bytes
    .subarray(0, bytes.length - (bytes.length % 2))
    .toString('utf16le')
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  const head = /^0x([0-9a-fA-F]{8})\n/.exec(text);
  if (!head) return undefined;
  const code = Number.parseInt(head[1]!, 16);
  const rest = text.slice(11);
  const pid = /^0x([0-9a-fA-F]{8})\nProcess ID/.exec(rest);
  if (code === 0 && pid && Number.parseInt(pid[1]!, 16) !== 0) return { kind: 'pid', pid: Number.parseInt(pid[1]!, 16) };
  const newline = rest.indexOf('\n');
  const func = (newline < 0 ? rest : rest.slice(0, newline)).trim();
  const message = (newline < 0 ? '' : rest.slice(newline + 1)).trim();
  return { kind: 'error', code, func, message };
}

/**
 * An openvpn option value quoted for a Windows command line so that CommandLineToArgvW
 * (and the C runtime openvpn.exe parses its own argv with) gives it back unchanged. A
 * double quote or a control character is refused: Ferry's paths and values never hold one.
 */
export function quoteWindowsArg(arg: string): string {
  // eslint-disable-next-line no-control-regex
  if (/["\u0000-\u001f]/.test(arg)) throw new StartupDataError(`cannot pass ${JSON.stringify(arg)} on the service's command line`);
  if (arg !== '' && !/[ \t]/.test(arg)) return arg;
  // Backslashes are literal except before a quote: double the ones before the closing quote.
  const trailing = /\\*$/.exec(arg)![0].length;
  return `"${arg}${'\\'.repeat(trailing)}"`;
}

/**
 * CommandLineToArgvW (shell32; rules as Microsoft documents them and Wine implements
 * them): the first token is a program name (up to the next quote if it starts with one,
 * else up to whitespace, no escapes); then whitespace separates arguments, `"` toggles
 * quoting, 2n backslashes before `"` give n backslashes and a toggle, 2n+1 give n and a
 * literal `"`, other backslashes are literal, and inside quotes `""` is a literal `"`.
 * interactive.c's ValidateOptions reads the options with it ("argv[0] is the first
 * option"). An empty line gives the program's own path: `emptyLine` stands in for it.
 */
export function commandLineToArgv(line: string, emptyLine = 'openvpnserv.exe'): string[] {
  if (line === '') return [emptyLine];
  const argv: string[] = [];
  let i = 0;
  // argv[0]: the program-name rule.
  let first = '';
  if (line[0] === '"') {
    i = 1;
    while (i < line.length && line[i] !== '"') first += line[i++];
    if (i < line.length) i++;
  } else {
    while (i < line.length && line[i] !== ' ' && line[i] !== '\t') first += line[i++];
  }
  argv.push(first);
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  if (i >= line.length) return argv;
  let arg = '';
  let quoted = 0; // Wine's qcount
  let backslashes = 0;
  while (i < line.length) {
    const c = line[i]!;
    if ((c === ' ' || c === '\t') && quoted === 0) {
      argv.push(arg);
      arg = '';
      backslashes = 0;
      while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
      if (i >= line.length) return argv;
      continue;
    }
    if (c === '\\') {
      arg += c;
      backslashes++;
      i++;
      continue;
    }
    if (c === '"') {
      if (backslashes % 2 === 0) {
        arg = arg.slice(0, arg.length - backslashes / 2);
        quoted++;
      } else {
        arg = `${arg.slice(0, arg.length - (backslashes + 1) / 2)}"`;
      }
      i++;
      backslashes = 0;
      while (line[i] === '"') {
        if (++quoted === 3) {
          arg += '"';
          quoted = 0;
        }
        i++;
      }
      if (quoted === 2) quoted = 0;
      continue;
    }
    arg += c;
    backslashes = 0;
    i++;
  }
  argv.push(arg);
  return argv;
}
