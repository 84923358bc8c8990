/**
 * A hostile or confused peer on the interactive service's pipe (something squatting
 * `\\.\pipe\openvpn\service`, or a service that misbehaves), here a unix socket server
 * that writes what the test says, in the pieces the test says. The launcher must start
 * only on a whole `0x00000000\n0x<pid>\nProcess ID`, report anything else as a failure
 * a person can act on, and never wait without bound.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandLineToArgv, encodeError, encodeProcessId, ERROR_OPENVPN_STARTUP, ERROR_STARTUP_DATA, quoteWindowsArg } from '../../core/engine/interactive-service.js';
import { InteractiveServiceLauncher } from '../../core/engine/service-launcher.js';
import { openvpnInstall, parseRegQuery, PIPE_NAMESPACE_FILE, pipeNamespace } from '../../core/engine/windows-platform.js';
import { FailureError } from '../../core/session/failure-error.js';
import { failureText } from '../../core/session/failure-text.js';

const spec = {
  remotes: [{ host: '198.18.1.1', port: 1194, proto: 'udp' as const }],
  engine: { dev: 'tun' as const, directives: [] },
  passwordRequired: false,
  files: { ca: '/nonexistent/ca.crt', cert: '/nonexistent/c.crt', key: '/nonexistent/k.key' },
  managementSocket: '/nonexistent/mgmt.sock',
  guiVersion: 'test',
};

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A peer on a fresh socket path: `serve` gets each connection once the startup message arrived. */
async function peer(serve: (socket: Socket) => void): Promise<{ pipe: string; dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-hostile-'));
  const pipe = path.join(dir, 'service.sock');
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => serve(socket));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(pipe, resolve));
  return { pipe, dir };
}

/** Writes `bytes` one byte per write, each after the previous one was flushed. */
async function dribble(socket: Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    await new Promise<void>((resolve) => socket.write(Buffer.from([byte]), () => resolve()));
    // Let the reader see each byte in a read of its own.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const failureOf = (err: unknown) => {
  expect(err).toBeInstanceOf(FailureError);
  return (err as FailureError).failure;
};

describe('a hostile or broken peer on the service pipe', () => {
  it('a process id split at every byte still starts, and the exit error split so still gives the exit code', async () => {
    const { pipe, dir } = await peer((socket) => {
      void (async () => {
        await dribble(socket, encodeProcessId(4242));
        await dribble(socket, encodeError(ERROR_OPENVPN_STARTUP, 'OpenVPN exited with error: exit code = 3', 'The operation completed successfully.'));
        socket.end();
      })();
    });
    const engine = await new InteractiveServiceLauncher({ pipe }).launch(spec, dir);
    expect(engine.pid).toBe(4242);
    const lines: string[] = [];
    engine.onOutput((l) => lines.push(l));
    expect(await engine.exited).toEqual({ code: 3, signal: null });
    expect(lines.filter((l) => l.startsWith('OpenVPN interactive service'))).toEqual([
      'OpenVPN interactive service: OpenVPN exited with error: exit code = 3 The operation completed successfully.',
    ]);
  });

  it('a process id and the exit error in one read (a byte-mode read of two messages): started, then the exit code', async () => {
    const { pipe, dir } = await peer((socket) =>
      socket.end(Buffer.concat([encodeProcessId(7), encodeError(ERROR_OPENVPN_STARTUP, 'OpenVPN exited with error: exit code = 1', '')])),
    );
    const engine = await new InteractiveServiceLauncher({ pipe }).launch(spec, dir);
    expect(engine.pid).toBe(7);
    expect(await engine.exited).toEqual({ code: 1, signal: null });
  });

  it('an error split at every byte is read whole, up to the disconnect that follows it', async () => {
    const { pipe, dir } = await peer((socket) => {
      void dribble(socket, encodeError(ERROR_STARTUP_DATA, 'CreateProcessAsUserW', 'Access is denied.')).then(() => socket.end());
    });
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe }).launch(spec, dir).catch((e: unknown) => e));
    expect(failure).toMatchObject({ detail: 'service-refused', params: { code: '0x20000001', error: 'CreateProcessAsUserW: Access is denied.' } });
  });

  it('not authorized: the group is the one the service named (its UTF-16 text), not the registry value reg.exe may have mangled', async () => {
    const said = 'You have specified a config file location (C:\\x relative to C:\\y) that requires admin approval. This error may be avoided by adding your account to the "VPN-Benutzer für Ferry" group';
    const { pipe, dir } = await peer((socket) => socket.end(encodeError(ERROR_STARTUP_DATA, said, 'Access is denied.')));
    const install = async () => ({ installPath: 'C:\\OpenVPN\\', exePath: 'C:\\OpenVPN\\bin\\openvpn.exe', configDir: 'C:\\OpenVPN\\config\\', adminGroup: 'VPN-Benutzer f\ufffdr Ferry' });
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe, install }).launch(spec, dir).catch((e: unknown) => e));
    expect(failure).toMatchObject({ detail: 'service-not-authorized', params: { group: 'VPN-Benutzer für Ferry' } });
  });

  it('a peer that accepts and never answers is given up on, with a failure that says so', async () => {
    const { pipe, dir } = await peer(() => undefined);
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe, answerMs: 50 }).launch(spec, dir).catch((e: unknown) => e));
    expect(failure).toMatchObject({ detail: 'service-timeout', params: { pipe, seconds: '0.05' } });
    expect(failureText(failure, 'en')).toMatch(/did not answer within 0\.05 s: restart the service/);
    expect(failureText(failure, 'zh-CN')).toMatch(/没有应答/);
  });

  it('a peer that sends half a process id and stalls is given up on too', async () => {
    const { pipe, dir } = await peer((socket) => socket.write(encodeProcessId(7).subarray(0, 30)));
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe, answerMs: 50 }).launch(spec, dir).catch((e: unknown) => e));
    expect(failure).toMatchObject({ detail: 'service-timeout' });
  });

  it('a peer that closes mid-reply: no answer, not a start', async () => {
    const { pipe, dir } = await peer((socket) => socket.end(encodeProcessId(7).subarray(0, 40)));
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe }).launch(spec, dir).catch((e: unknown) => e));
    expect(failure.detail).toMatch(/service-(no-answer|unexpected)/);
  });

  it.each([
    ['pid 0', Buffer.from('0x00000000\n0x00000000\nProcess ID', 'utf16le')],
    ['a non-hex pid', Buffer.from('0x00000000\n0xzzzzzzzz\nProcess ID', 'utf16le')],
    ['a negative pid', Buffer.from('0x00000000\n-0x0000001\nProcess ID', 'utf16le')],
    ['no newlines', Buffer.from('0x000000000x00001234Process ID', 'utf16le')],
    ['an odd byte count', Buffer.concat([encodeProcessId(7).subarray(0, 63)])],
    ['text, not UTF-16', Buffer.from('0x00000000\n0x00001234\nProcess ID\n', 'utf8')],
    ['a huge reply', Buffer.alloc(1 << 20, 0x41)],
  ])('%s then a disconnect: refused or unexpected, never a start', async (_name, bytes) => {
    const { pipe, dir } = await peer((socket) => socket.end(bytes));
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe }).launch(spec, dir).catch((e: unknown) => e));
    expect(failure.detail).toMatch(/^service-(refused|unexpected|no-answer)$/);
  });

  it('a flood after the process id: exited still comes at the disconnect, and what is passed on is bounded', async () => {
    const { pipe, dir } = await peer((socket) => {
      socket.write(encodeProcessId(99));
      const junk = encodeError(ERROR_OPENVPN_STARTUP, 'x', 'y'.repeat(100));
      for (let i = 0; i < 2000; i++) socket.write(junk);
      socket.end();
    });
    const engine = await new InteractiveServiceLauncher({ pipe }).launch(spec, dir);
    const lines: string[] = [];
    engine.onOutput((l) => lines.push(l));
    await engine.exited;
    expect(lines.length).toBeLessThanOrEqual(1);
    expect(lines.join('').length).toBeLessThan(10_000);
  });

  it('lone surrogates in an error are not passed on as broken text', async () => {
    const bytes = Buffer.concat([Buffer.from('0x20000000\nfunc\nbad ', 'utf16le'), Buffer.from([0x00, 0xd8]), Buffer.from(' end', 'utf16le')]);
    const { pipe, dir } = await peer((socket) => socket.end(bytes));
    const failure = failureOf(await new InteractiveServiceLauncher({ pipe }).launch(spec, dir).catch((e: unknown) => e));
    const text = failureText(failure, 'en');
    expect((text as string & { isWellFormed(): boolean }).isWellFormed()).toBe(true);
    expect(text).toContain('bad \ufffd end');
  });
});

/**
 * CommandLineToArgvW written again here, independently of interactive-service.ts, from
 * Microsoft's documented rules only ("Parsing C command-line arguments" and the
 * CommandLineToArgvW page): whitespace (space, tab) separates arguments outside quotes;
 * the first argument is the program name, read up to the next `"` if it starts with one,
 * else up to whitespace, with no escapes; then 2n backslashes before `"` give n
 * backslashes and the `"` opens or closes quoting, 2n+1 give n and a literal `"`,
 * backslashes elsewhere are literal; inside quotes `""` gives a literal `"`.
 */
function msArgv(line: string): string[] {
  const argv: string[] = [];
  let i = 0;
  const ws = (c: string | undefined) => c === ' ' || c === '\t';
  let name = '';
  if (line[0] === '"') {
    for (i = 1; i < line.length && line[i] !== '"'; i++) name += line[i];
    i++;
  } else {
    for (; i < line.length && !ws(line[i]); i++) name += line[i];
  }
  argv.push(name);
  for (;;) {
    while (ws(line[i])) i++;
    if (i >= line.length) return argv;
    let arg = '';
    let inQuotes = false;
    while (i < line.length && (inQuotes || !ws(line[i]))) {
      if (line[i] === '\\') {
        let n = 0;
        while (line[i] === '\\') (n++, i++);
        if (line[i] === '"') {
          arg += '\\'.repeat(Math.floor(n / 2));
          if (n % 2 === 1) (arg += '"', i++);
        } else arg += '\\'.repeat(n);
      } else if (line[i] === '"') {
        if (inQuotes && line[i + 1] === '"') (arg += '"', (i += 2));
        else (inQuotes = !inQuotes, i++);
      } else arg += line[i++];
    }
    argv.push(arg);
  }
}

describe('quoteWindowsArg against an independent CommandLineToArgvW', () => {
  it('the independent parser agrees with the documented examples', () => {
    expect(msArgv('prog "a b c" d e')).toEqual(['prog', 'a b c', 'd', 'e']);
    expect(msArgv('prog "ab\\"c" "\\\\" d')).toEqual(['prog', 'ab"c', '\\', 'd']);
    expect(msArgv('prog a\\\\\\b d"e f"g h')).toEqual(['prog', 'a\\\\\\b', 'de fg', 'h']);
    expect(msArgv('prog a\\\\\\"b c d')).toEqual(['prog', 'a\\"b', 'c', 'd']);
    expect(msArgv('prog a\\\\\\\\"b c" d e')).toEqual(['prog', 'a\\\\b c', 'd', 'e']);
  });

  it('random paths round-trip through both parsers; a crafted name stays one argument', () => {
    const alphabet = ['a', 'Z', ' ', ' ', '\\', '\\', '-', ':', '.', '中', '😀', '%', '^', '&', '|', "'"];
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let run = 0; run < 3000; run++) {
      const args = Array.from({ length: 1 + rand(4) }, () => Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join(''));
      const line = ['--config', ...args].map(quoteWindowsArg).join(' ');
      expect(msArgv(line).slice(1)).toEqual(args);
      expect(commandLineToArgv(line).slice(1)).toEqual(args);
    }
    // A profile or session dir built to add an option stays inside its own argument.
    for (const dir of ['C:\\x --up calc.exe', 'C:\\x\\ --up calc.exe', 'C:\\x\\\\ --up "calc.exe', 'C:\\a b\\\\\\']) {
      if (dir.includes('"')) {
        expect(() => quoteWindowsArg(dir)).toThrow(/cannot pass/);
        continue;
      }
      const line = ['--config', `${dir}\\openvpn.conf`, '--log', dir].map(quoteWindowsArg).join(' ');
      expect(msArgv(line)).toEqual(['--config', `${dir}\\openvpn.conf`, '--log', dir]);
    }
  });
});

describe('`reg query HKLM\\SOFTWARE\\OpenVPN` as Windows prints it in other languages and shapes', () => {
  const query = (...values: string[]) => ['', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\OpenVPN', ...values, '', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\OpenVPN\\sub', ''].join('\r\n');
  const install = (out: string) => {
    const values = parseRegQuery(out);
    return openvpnInstall((_k, v) => values.get(v));
  };

  it.each([
    ['English', '(Default)'],
    ['German', '(Standard)'],
    ['French', '(par défaut)'],
    ['Chinese', '(默认)'],
    ['Chinese read through the OEM code page as UTF-8', '(\ufffd\ufffd\ufffd\ufffd)'],
  ])('finds the install path under the default value named as %s Windows names it', (_lang, name) => {
    expect(install(query(`    ${name}    REG_SZ    C:\\Program Files\\OpenVPN\\`, '    ovpn_admin_group    REG_SZ    VPN Users'))).toMatchObject({
      installPath: 'C:\\Program Files\\OpenVPN\\',
      exePath: 'C:\\Program Files\\OpenVPN\\bin\\openvpn.exe',
      adminGroup: 'VPN Users',
    });
  });

  it('a default value that is not set (in any language) is not an install path', () => {
    expect(install(query('    (Default)    REG_SZ    (value not set)'))).toBeUndefined();
    expect(install(query('    (Standard)    REG_SZ    (Wert nicht festgelegt)'))).toBeUndefined();
    expect(install(query('    exe_path    REG_SZ    C:\\x\\openvpn.exe'))).toBeUndefined();
  });

  it('REG_EXPAND_SZ is expanded as RegGetValueW expands it; empty data and odd spacing are read', () => {
    const values = parseRegQuery(
      query('    (Default)    REG_EXPAND_SZ    %ProgramFiles%\\OpenVPN\\', '    config_dir    REG_SZ    ', '    priority    REG_SZ    NORMAL  PRIORITY   '),
      { ProgramFiles: 'C:\\Program Files' },
    );
    expect(values.get('')).toBe('C:\\Program Files\\OpenVPN\\');
    expect(values.get('config_dir')).toBe('');
    expect(values.get('priority')).toBe('NORMAL  PRIORITY   ');
    expect(openvpnInstall((_k, v) => values.get(v))?.configDir).toBe('C:\\Program Files\\OpenVPN\\config\\');
  });

  it('a value printed twice (a data value holding a line break) does not replace the first', () => {
    const values = parseRegQuery(query('    (Default)    REG_SZ    C:\\OpenVPN', '    note    REG_SZ    x', '    (Default)    REG_SZ    C:\\evil'));
    expect(values.get('')).toBe('C:\\OpenVPN');
  });
});

describe('the pipe namespace file, damaged in every way a file can be', () => {
  const fresh = () => mkdtemp(path.join(tmpdir(), 'ferry-ns-'));

  it('a symlink in its place is not followed: a namespace readable elsewhere is no secret', async () => {
    const runtime = await fresh();
    const elsewhere = path.join(await fresh(), 'shared');
    await writeFile(elsewhere, '0123456789abcdef0123456789abcdef\n');
    await symlink(elsewhere, path.join(runtime, PIPE_NAMESPACE_FILE));
    const ns = await pipeNamespace(runtime);
    expect(ns).not.toBe('0123456789abcdef0123456789abcdef');
    expect((await lstat(path.join(runtime, PIPE_NAMESPACE_FILE))).isFile()).toBe(true);
    expect(await readFile(elsewhere, 'utf8')).toBe('0123456789abcdef0123456789abcdef\n');
  });

  it('a dangling symlink in its place is replaced, not a dead end', async () => {
    const runtime = await fresh();
    await symlink(path.join(runtime, 'nowhere'), path.join(runtime, PIPE_NAMESPACE_FILE));
    expect(await pipeNamespace(runtime)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('a directory in its place: a clear error naming it, and nothing in it removed', async () => {
    const runtime = await fresh();
    await mkdir(path.join(runtime, PIPE_NAMESPACE_FILE));
    await writeFile(path.join(runtime, PIPE_NAMESPACE_FILE, 'keep'), 'x');
    const err = await pipeNamespace(runtime).catch((e: unknown) => e);
    expect((err as Error).message).toContain(path.join(runtime, PIPE_NAMESPACE_FILE));
    expect((err as Error).message).toMatch(/is not a file/);
    expect(await readFile(path.join(runtime, PIPE_NAMESPACE_FILE, 'keep'), 'utf8')).toBe('x');
  });

  it('a damaged file replaced by several processes at once: they all end up with one namespace', async () => {
    for (let round = 0; round < 1; round++) {
      const runtime = await fresh();
      await writeFile(path.join(runtime, PIPE_NAMESPACE_FILE), 'garbage');
      const script = `import('${path.resolve('core/engine/windows-platform.ts')}').then((m) => m.pipeNamespace(process.argv[1])).then((n) => process.stdout.write(n))`;
      const runs = await Promise.all(
        Array.from({ length: 6 }, () => new Promise<string>((resolve, reject) => execFile(process.execPath, ['--import', 'tsx', '-e', script, runtime], (err, out) => (err ? reject(err) : resolve(out))))),
      );
      expect(new Set(runs).size).toBe(1);
      expect(runs[0]).toBe((await readFile(path.join(runtime, PIPE_NAMESPACE_FILE), 'utf8')).trim());
    }
  }, 60_000);
});

describe('the pipe namespace raced within one process', () => {
  it('many fresh readers at once, over and over: never two namespaces (a half-written file is never taken for a damaged one)', async () => {
    for (let round = 0; round < 100; round++) {
      const runtime = await mkdtemp(path.join(tmpdir(), 'ferry-ns-race-'));
      // Spellings of one dir: pipeNamespace remembers per spelling, so each reads the file afresh, as another process would.
      const spellings = ['', '/', '//', '/.', '/./', '/./.', '///', '/.//'].map((tail) => runtime + tail);
      // Started a turn of the event loop apart, so later ones land while earlier ones write.
      const started: Array<Promise<string>> = [];
      for (const dir of spellings) {
        started.push(pipeNamespace(dir));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const got = await Promise.all(started);
      expect(new Set(got).size, `round ${round}: ${got.join(' ')}`).toBe(1);
      expect(got[0]).toBe((await readFile(path.join(runtime, PIPE_NAMESPACE_FILE), 'utf8')).trim());
    }
  });
});
