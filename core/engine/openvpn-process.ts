/**
 * Running the openvpn binary, for the client's launchers (direct and ferry-helper's) and the
 * gateway (ferry-server run) alike: a minimal environment, and its output as bounded lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { LineFramer } from '../util/line-framer.js';
import { findOpenvpn } from './openvpn-binary.js';

/** Longest output line passed on, in bytes; openvpn's own are far shorter (its log buffer is 1 KiB per line). */
export const MAX_OUTPUT_LINE = 16 * 1024;

/**
 * Starts openvpn on a config file; resolves once it runs. argv holds only the config path
 * and the environment only PATH: no secret can be read from /proc by another user, and
 * nothing of ours leaks into openvpn's helpers. `env` is where openvpn (and PATH) are
 * looked up, not what it gets.
 */
export async function spawnOpenvpn(configPath: string, cwd: string, env: NodeJS.ProcessEnv | undefined): Promise<ChildProcess> {
  const child = spawn(findOpenvpn(env), ['--config', configPath], {
    cwd,
    env: { PATH: env?.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  return child;
}

/**
 * Calls `onLine` with each non-empty line a child (openvpn) writes to stdout or stderr,
 * split on newlines whatever the chunks, each at most MAX_OUTPUT_LINE bytes: a longer one
 * is dropped and said to be. A last line without its newline comes when the stream ends.
 */
export function onOutputLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    const framer = new LineFramer((line) => line && onLine(line), {
      maxLineLength: MAX_OUTPUT_LINE,
      onOverflow: () => onLine(`(an output line longer than ${MAX_OUTPUT_LINE} bytes was left out)`),
    });
    stream.on('data', (chunk: Buffer) => framer.push(chunk));
    stream.once('end', () => framer.flush());
  }
}
