/**
 * OpenVPN's interactive-service protocol (core/engine/interactive-service.ts) against the
 * rules of interactive.c's GetStartupData / ReturnProcessId / ReturnError and
 * openvpn-gui's OnService, and the Windows pure functions (windows-platform.ts) with the
 * platform and registry injected.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultLauncher } from '../../core/client.js';
import { buildClientConfig } from '../../core/engine/config.js';
import {
  commandLineToArgv,
  decodeReply,
  decodeStartupMessage,
  encodeError,
  encodeProcessId,
  encodeStartupMessage,
  ERROR_STARTUP_DATA,
  MAX_STARTUP_WCHARS,
  quoteWindowsArg,
} from '../../core/engine/interactive-service.js';
import { InteractiveServiceLauncher } from '../../core/engine/service-launcher.js';
import { FailureError } from '../../core/session/failure-error.js';
import { failureText } from '../../core/session/failure-text.js';
import { openvpnInstall, parseRegQuery, PIPE_DIR, PIPE_NAMESPACE_FILE, pipeNamespace, pipePrefix } from '../../core/engine/windows-platform.js';
import { isSocketFile, publishedIds, statusSocketPath } from '../../core/session/status-paths.js';

const utf16 = (s: string) => Buffer.from(s, 'utf16le');

describe('startup message (GetStartupData)', () => {
  it('is directory, options and stdin, UTF-16LE, each NUL-terminated, as openvpn-gui writes it', () => {
    const bytes = encodeStartupMessage({ directory: 'C:\\Users\\李\\Ferry', options: '--config "a b.conf"', stdin: 'pw\n' });
    expect(bytes.equals(utf16('C:\\Users\\李\\Ferry\0--config "a b.conf"\0pw\n\0'))).toBe(true);
    expect(decodeStartupMessage(bytes)).toEqual({ directory: 'C:\\Users\\李\\Ferry', options: '--config "a b.conf"', stdin: 'pw\n' });
  });

  it('refuses each malformed message where GetStartupData does, with its reason', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.alloc(1), /malformed startup data: 0/], // size = bytes / 2 = 0
      [utf16('x'.repeat(MAX_STARTUP_WCHARS) + '\0'), /malformed startup data: 4097/],
      [utf16('dir\0opts\0stdin'), /not NULL terminated/],
      [utf16('dir\0'), /ends at working directory/],
      [utf16('dir\0opts\0'), /ends at command line options/],
    ];
    for (const [bytes, reason] of cases) expect(() => decodeStartupMessage(bytes)).toThrow(reason);
  });

  it('takes what GetStartupData takes: an odd trailing byte is not counted, text after the stdin NUL is ignored, an empty stdin is fine', () => {
    expect(decodeStartupMessage(Buffer.concat([utf16('d\0o\0s\0'), Buffer.from([0x41])]))).toEqual({ directory: 'd', options: 'o', stdin: 's' });
    expect(decodeStartupMessage(utf16('d\0o\0s\0extra\0'))).toEqual({ directory: 'd', options: 'o', stdin: 's' });
    expect(decodeStartupMessage(utf16('d\0o\0\0'))).toEqual({ directory: 'd', options: 'o', stdin: '' });
    expect(decodeStartupMessage(utf16('\0\0\0'))).toEqual({ directory: '', options: '', stdin: '' });
  });

  it('the encoder refuses what would not arrive whole: a NUL inside a field, more than 4096 units', () => {
    expect(() => encodeStartupMessage({ directory: 'a\0b', options: '', stdin: '' })).toThrow(/directory field contains a NUL/);
    expect(() => encodeStartupMessage({ directory: 'd', options: 'x'.repeat(MAX_STARTUP_WCHARS), stdin: '' })).toThrow(/at most 4096/);
    const largest = encodeStartupMessage({ directory: 'd', options: 'x'.repeat(MAX_STARTUP_WCHARS - 4), stdin: '' });
    expect(largest.length).toBe(MAX_STARTUP_WCHARS * 2);
    expect(decodeStartupMessage(largest).options.length).toBe(MAX_STARTUP_WCHARS - 4);
  });
});

describe('replies (ReturnProcessId, ReturnError, read as OnService reads them)', () => {
  it('a process id: 0x00000000, the pid in 0x%08x, "Process ID", 32 units without a NUL', () => {
    const bytes = encodeProcessId(4242);
    expect(bytes.toString('utf16le')).toBe('0x00000000\n0x00001092\nProcess ID');
    expect(bytes.length).toBe(64);
    expect(decodeReply(bytes)).toEqual({ kind: 'pid', pid: 4242 });
  });

  it('an error: code, the failing function (or the validation text), the system text', () => {
    const reply = decodeReply(encodeError(ERROR_STARTUP_DATA, 'GetStartupData', ''));
    expect(reply).toEqual({ kind: 'error', code: ERROR_STARTUP_DATA, func: 'GetStartupData', message: '' });
    expect(decodeReply(utf16('0x00000002\nCreateProcessAsUser\nThe system cannot find the file specified.\r\n'))).toEqual({
      kind: 'error',
      code: 2,
      func: 'CreateProcessAsUser',
      message: 'The system cannot find the file specified.',
    });
    // pid 0 is not a process id (OnService: "pid != 0")
    expect(decodeReply(utf16('0x00000000\n0x00000000\nProcess ID'))?.kind).toBe('error');
    expect(decodeReply(utf16('hello'))).toBeUndefined();
  });
});

describe('command lines (CommandLineToArgvW)', () => {
  it('follows the documented rules', () => {
    expect(commandLineToArgv('--config "C:\\a b\\c.conf" --verb 3')).toEqual(['--config', 'C:\\a b\\c.conf', '--verb', '3']);
    expect(commandLineToArgv('a\\\\\\"b c\\\\"d e" f\\g')).toEqual(['a\\\\\\"b', 'c\\d e', 'f\\g']);
    expect(commandLineToArgv('"first arg\\" x')).toEqual(['first arg\\', 'x']); // program-name rule: no escapes
    expect(commandLineToArgv('x "a""b"')).toEqual(['x', 'a"b']);
    expect(commandLineToArgv('x ""')).toEqual(['x', '']);
    expect(commandLineToArgv('x   y  ')).toEqual(['x', 'y']);
    expect(commandLineToArgv('', 'C:\\svc.exe')).toEqual(['C:\\svc.exe']);
  });

  it('quoteWindowsArg gives every argument back unchanged', () => {
    const args = ['--config', 'C:\\Users\\a b\\Ferry\\s\\openvpn.conf', 'C:\\dir with space\\', 'C:\\dir\\\\', '', 'ignore', '中文 路径'];
    expect(commandLineToArgv(['openvpn', ...args].map(quoteWindowsArg).join(' ')).slice(1)).toEqual(args);
    expect(() => quoteWindowsArg('a"b')).toThrow(/cannot pass/);
    expect(() => quoteWindowsArg('a\nb')).toThrow(/cannot pass/);
    expect(() => quoteWindowsArg('a\tb')).toThrow(/cannot pass/);
  });
});

describe('Windows paths and registry (platform injected)', () => {
  it('finds openvpn.exe as GetOpenvpnSettings does: defaults from the install path, registry values win', () => {
    const registry = (values: Record<string, string>) => (key: string, value: string) => (key === 'SOFTWARE\\OpenVPN' ? values[value] : undefined);
    expect(openvpnInstall(registry({}))).toBeUndefined();
    expect(openvpnInstall(registry({ '': 'C:\\Program Files\\OpenVPN\\' }))).toEqual({
      installPath: 'C:\\Program Files\\OpenVPN\\',
      exePath: 'C:\\Program Files\\OpenVPN\\bin\\openvpn.exe',
      configDir: 'C:\\Program Files\\OpenVPN\\config\\',
      adminGroup: 'OpenVPN Administrators',
    });
    expect(
      openvpnInstall(registry({ '': 'D:\\OVPN', exe_path: 'D:\\x\\openvpn.exe', config_dir: 'D:\\cfg', ovpn_admin_group: 'VPN Users' })),
    ).toEqual({ installPath: 'D:\\OVPN', exePath: 'D:\\x\\openvpn.exe', configDir: 'D:\\cfg\\', adminGroup: 'VPN Users' });
  });

  it('reads `reg query` output', () => {
    const out = [
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\OpenVPN',
      '    (Default)    REG_SZ    C:\\Program Files\\OpenVPN\\',
      '    config_dir    REG_SZ    C:\\Program Files\\OpenVPN\\config\\',
      '    exe_path    REG_SZ    C:\\Program Files\\OpenVPN\\bin\\openvpn.exe',
      '    ovpn_admin_group    REG_SZ    OpenVPN Administrators',
      '    priority    REG_SZ    NORMAL_PRIORITY_CLASS',
      '',
    ].join('\r\n');
    const values = parseRegQuery(out);
    expect(values.get('')).toBe('C:\\Program Files\\OpenVPN\\');
    expect(values.get('exe_path')).toBe('C:\\Program Files\\OpenVPN\\bin\\openvpn.exe');
    expect(openvpnInstall((_k, v) => values.get(v))?.adminGroup).toBe('OpenVPN Administrators');
  });

  it("names Ferry's status sockets: a file on unix, on Windows a pipe under a secret per-user namespace nobody can squat", async () => {
    const runtime = await mkdtemp(path.join(tmpdir(), 'ferry-pipes-'));
    expect(await statusSocketPath(runtime, 'p1', 'linux')).toBe(path.join(runtime, 'p1.sock'));
    expect(await statusSocketPath(runtime, 'p1', 'darwin')).toBe(path.join(runtime, 'p1.sock'));
    const pipe = await statusSocketPath(runtime, 'p1', 'win32');
    expect(pipe).toMatch(/^\\\\\.\\pipe\\ferry-[0-9a-f]{32}-p1\.sock$/);
    expect(isSocketFile(pipe)).toBe(false);
    expect(isSocketFile(path.join(runtime, 'p1.sock'))).toBe(true);
    // The namespace is a random secret in the private runtime dir, stable across calls and processes.
    const secret = (await readFile(path.join(runtime, PIPE_NAMESPACE_FILE), 'utf8')).trim();
    expect(pipe).toBe(`${pipePrefix(secret)}p1.sock`);
    expect((await stat(path.join(runtime, PIPE_NAMESPACE_FILE))).mode & 0o777).toBe(0o600);
    // Another user's runtime dir: another namespace, so another pipe.
    const other = await mkdtemp(path.join(tmpdir(), 'ferry-pipes-'));
    expect(await statusSocketPath(other, 'p1', 'win32')).not.toBe(pipe);
    // A damaged namespace file is replaced, not used in a pipe name.
    const damaged = await mkdtemp(path.join(tmpdir(), 'ferry-pipes-'));
    await writeFile(path.join(damaged, PIPE_NAMESPACE_FILE), '..\\..\\evil');
    expect(await pipeNamespace(damaged)).toMatch(/^[0-9a-f]{32}$/);
    expect(() => pipePrefix('..\\evil')).toThrow(/not a pipe namespace/);
  });

  it('makes one namespace when several processes race for it', async () => {
    const runtime = await mkdtemp(path.join(tmpdir(), 'ferry-pipes-'));
    const script = `import('${path.resolve('core/engine/windows-platform.ts')}').then((m) => m.pipeNamespace(process.argv[1])).then((n) => process.stdout.write(n))`;
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => new Promise<string>((resolve, reject) => execFile(process.execPath, ['--import', 'tsx', '-e', script, runtime], (err, out) => (err ? reject(err) : resolve(out))))),
    );
    expect(new Set(runs).size).toBe(1);
    expect(runs[0]).toBe((await readFile(path.join(runtime, PIPE_NAMESPACE_FILE), 'utf8')).trim());
  });

  it("lists published sessions on Windows from the user's pipes only", async () => {
    const runtime = await mkdtemp(path.join(tmpdir(), 'ferry-pipes-'));
    const prefix = pipePrefix(await pipeNamespace(runtime)).slice(PIPE_DIR.length);
    const pipes = [`${prefix}office.sock`, `${prefix}home.sock`, 'ferry-0123456789abcdef0123456789abcdef-theirs.sock', 'openvpn\\service', `${prefix}not-a-socket`];
    expect(await publishedIds(runtime, 'win32', async () => pipes)).toEqual(['office', 'home']);
    expect(await publishedIds(runtime, 'win32', async () => Promise.reject(new Error('EPERM')))).toEqual([]);
  });

  it('Windows uses the interactive service launcher; elsewhere only when its pipe is named', async () => {
    const win = await defaultLauncher({}, 'win32');
    expect(win).toBeInstanceOf(InteractiveServiceLauncher);
    expect((win as InteractiveServiceLauncher).pipe).toBe('\\\\.\\pipe\\openvpn\\service');
    const sim = await defaultLauncher({ FERRY_OPENVPN_SERVICE_PIPE: '/tmp/sim.sock' }, 'linux');
    expect((sim as InteractiveServiceLauncher).pipe).toBe('/tmp/sim.sock');
    expect(await sim.kind()).toBe('missing');
    expect(await defaultLauncher({}, 'linux')).not.toBeInstanceOf(InteractiveServiceLauncher);
  });

  it('the config asks for management on 127.0.0.1 with the password from stdin', () => {
    const config = buildClientConfig({
      remotes: [{ host: 'vpn.example.com', port: 1194, proto: 'udp' }],
      engine: { dev: 'tun', directives: [] },
      passwordRequired: false,
      files: { ca: 'C:\\Users\\a\\ca.crt' },
      managementSocket: 'C:\\Users\\a\\unused',
      managementTcp: { port: 50123, passwordFile: 'stdin' },
      guiVersion: 'Ferry 1',
    } as Parameters<typeof buildClientConfig>[0]);
    expect(config).toMatch(/^management 127\.0\.0\.1 50123 stdin$/m);
    expect(config).not.toMatch(/ unix$/m);
  });

  it('no OpenVPN in the registry: a Windows failure that says to reinstall Ferry or install OpenVPN 2.6, before any pipe is dialled', async () => {
    const launcher = new InteractiveServiceLauncher({ pipe: path.join(tmpdir(), 'ferry-no-such-service.sock'), install: async () => undefined });
    const spec = { remotes: [{ host: '198.18.1.1', port: 1194, proto: 'udp' as const }], engine: { dev: 'tun' as const, directives: [] }, passwordRequired: false, files: { ca: 'ca', cert: 'c', key: 'k' }, managementSocket: 'unused', guiVersion: 'test' };
    const err = await launcher.launch(spec, await mkdtemp(path.join(tmpdir(), 'ferry-s-')), 'p1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailureError);
    const failure = (err as FailureError).failure;
    expect(failure).toMatchObject({ code: 'openvpn-missing', detail: 'openvpn-not-installed' });
    expect(failureText(failure, 'en')).toMatch(/HKLM\\SOFTWARE\\OpenVPN.*reinstall Ferry/);
    expect(failureText(failure, 'en')).not.toMatch(/apt install|brew/);
    expect(failureText(failure, 'zh-CN')).toMatch(/重新安装 Ferry/);
  });
});
