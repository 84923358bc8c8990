/**
 * The plumbing kit (core/util): bounded line framing, "SIGTERM, wait, SIGKILL" for a child
 * and for a pid, the one-line schema error, the one version.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LineFramer, type LineFramerOptions } from '../../core/util/line-framer.js';
import { describeSchemaError } from '../../core/util/schema-error.js';
import { stopPid, stopProcess } from '../../core/util/stop-process.js';
import { FERRY_VERSION } from '../../core/version.js';

function frame(chunks: Array<string | Buffer>, opts: Partial<LineFramerOptions> = {}, flush = false) {
  const lines: string[] = [];
  let overflows = 0;
  const framer = new LineFramer((l) => lines.push(l), { maxLineLength: 16, onOverflow: () => overflows++, ...opts });
  for (const c of chunks) framer.push(c);
  if (flush) framer.flush();
  return { lines, overflows };
}

describe('LineFramer', () => {
  it('joins a line split across chunks and splits several lines in one chunk', () => {
    expect(frame(['hel', 'lo\nwor', 'ld\n', 'a\nb\nc\n']).lines).toEqual(['hello', 'world', 'a', 'b', 'c']);
  });

  it('keeps empty lines and holds an unterminated rest until flush', () => {
    expect(frame(['a\n\nb'])).toEqual({ lines: ['a', ''], overflows: 0 });
    expect(frame(['a\n\nb'], {}, true).lines).toEqual(['a', '', 'b']);
  });

  it('decodes a multi-byte character split across chunks, byte by byte', () => {
    const text = Buffer.from('隧道 ok €\n😀\n', 'utf8');
    const chunks = [...text].map((b) => Buffer.from([b]));
    expect(frame(chunks, { maxLineLength: 64 }).lines).toEqual(['隧道 ok €', '😀']);
  });

  it('bounds lines in bytes: a line of exactly the bound passes, one byte more does not', () => {
    expect(frame(['x'.repeat(16) + '\n']).lines).toEqual(['x'.repeat(16)]);
    expect(frame(['€€€€€' + '\n'])).toEqual({ lines: ['€€€€€'], overflows: 0 }); // 15 bytes: fits
    expect(frame(['€€€€€€' + '\n'])).toEqual({ lines: [], overflows: 1 }); // 6 characters, 18 bytes
  });

  it('drops an over-long line that ends in the same chunk, once, and goes on with the next', () => {
    expect(frame(['y'.repeat(17) + '\nnext\n'])).toEqual({ lines: ['next'], overflows: 1 });
  });

  it('drops an over-long line before its newline arrives, skipping up to it, with one overflow', () => {
    expect(frame(['z'.repeat(10), 'z'.repeat(10), 'z'.repeat(30), 'zz\nafter\n'])).toEqual({ lines: ['after'], overflows: 1 });
  });

  it('drops an over-long unterminated line at flush too', () => {
    expect(frame(['z'.repeat(40)], {}, true)).toEqual({ lines: [], overflows: 1 });
    expect(frame(['ok', '\nrest'], {}, true)).toEqual({ lines: ['ok', 'rest'], overflows: 0 });
  });

  it('strips the "\\r" of CRLF, also split from its "\\n", and does not count it against the bound', () => {
    expect(frame(['a\r\nb\r', '\nc\r\n']).lines).toEqual(['a', 'b', 'c']);
    expect(frame(['x'.repeat(16) + '\r', '\n']).lines).toEqual(['x'.repeat(16)]);
    expect(frame(['x'.repeat(17) + '\r\n'])).toEqual({ lines: [], overflows: 1 });
    expect(frame(['a\r\n'], { stripCr: false }).lines).toEqual(['a\r']);
  });

  it('delivers nothing after stop(), not even the rest of the chunk being pushed', () => {
    const lines: string[] = [];
    const framer = new LineFramer((l) => {
      lines.push(l);
      if (l === 'bye') framer.stop();
    }, { maxLineLength: 16 });
    framer.push('hi\nbye\nmore\n');
    framer.push('and more\n');
    framer.flush();
    expect(lines).toEqual(['hi', 'bye']);
  });

  it('accepts strings and buffers alike', () => {
    expect(frame(['a', Buffer.from('b\n'), 'c\n']).lines).toEqual(['ab', 'c']);
  });
});

/** A node child that ignores SIGTERM (or not), started and ready. */
async function child(ignoreTerm: boolean): Promise<ChildProcess> {
  const script = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`;
  const c = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(c.stdout!, 'data');
  return c;
}

describe('stopProcess', () => {
  it('stops a child with SIGTERM', async () => {
    const c = await child(false);
    expect(await stopProcess(c, 60_000)).toBeNull();
    expect(c.signalCode).toBe('SIGTERM');
  });

  it('sends SIGKILL to a child that ignores SIGTERM, after the grace', async () => {
    const c = await child(true);
    expect(await stopProcess(c, 200)).toBeNull();
    expect(c.signalCode).toBe('SIGKILL');
  });

  it('resolves at once with the exit code of a child that already exited', async () => {
    const c = spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' });
    await once(c, 'exit');
    expect(await stopProcess(c, 60_000)).toBe(3);
  });

  it('resolves for a child that never started', async () => {
    const c = spawn('/nonexistent/ferry-test-binary', [], { stdio: 'ignore' });
    c.on('error', () => {});
    expect(await stopProcess(c, 60_000)).toBeNull();
  });
});

describe('stopPid', () => {
  const alive = (c: ChildProcess) => () => c.exitCode === null && c.signalCode === null;

  it('stops a process that is not a child of the caller by pid (SIGTERM)', async () => {
    const c = await child(false);
    const exit = once(c, 'exit');
    expect(await stopPid(c.pid!, 60_000, { isAlive: alive(c) })).toBe(true);
    expect((await exit)[1]).toBe('SIGTERM');
  });

  it('kills one that ignores SIGTERM after the grace', async () => {
    const c = await child(true);
    const exit = once(c, 'exit');
    expect(await stopPid(c.pid!, 200, { isAlive: alive(c), killWaitMs: 60_000 })).toBe(true);
    expect((await exit)[1]).toBe('SIGKILL');
  });

  it('with signal null only waits (it was asked to stop another way), then kills', async () => {
    const c = await child(false);
    const exit = once(c, 'exit');
    expect(await stopPid(c.pid!, 100, { isAlive: alive(c), signal: null, killWaitMs: 60_000 })).toBe(true);
    expect((await exit)[1]).toBe('SIGKILL');
  });

  it('a pid that is gone already is stopped', async () => {
    const c = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(c, 'exit');
    expect(await stopPid(c.pid!, 60_000, { isAlive: () => false })).toBe(true);
  });
});

describe('describeSchemaError', () => {
  const schema = z.object({ server: z.object({ port: z.number() }), name: z.string() });
  const error = (value: unknown) => schema.safeParse(value).error!;

  it('says where, the path and the message of the first issue, in one line', () => {
    expect(describeSchemaError(error({ server: { port: 'x' }, name: 'n' }), 'settings.json')).toMatch(/^settings\.json: server\.port: .*number/);
    expect(describeSchemaError(error({ server: {}, name: 1 }))).not.toContain('\n');
  });

  it('names the whole value for an issue without a path, or leaves the path out', () => {
    expect(describeSchemaError(error(7), 'file', { whole: 'top level' })).toMatch(/^file: top level: /);
    expect(describeSchemaError(error(7))).not.toMatch(/^:/);
    expect(describeSchemaError(error({ server: { port: 'x' }, name: 'n' }), undefined, { withPath: false })).not.toContain('server.port');
  });
});

it('FERRY_VERSION is package.json\'s', () => {
  expect(FERRY_VERSION).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
});
