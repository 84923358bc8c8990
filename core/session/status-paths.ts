/**
 * Where sessions' status sockets are (status-socket.ts), without the protocol: enough to
 * list them. A file in the private runtime dir on unix; on Windows a named pipe (Node's
 * `net` serves and dials pipes by name, and a path outside `\\.\pipe\` cannot be served),
 * whose name windows-platform.ts builds from a secret kept in that runtime dir.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeNamespace, pipePrefix, PIPE_DIR } from '../engine/windows-platform.js';

export async function statusSocketPath(runtimeDir: string, profileId: string, platform: NodeJS.Platform = process.platform): Promise<string> {
  if (platform !== 'win32') return path.join(runtimeDir, `${profileId}.sock`);
  return `${pipePrefix(await pipeNamespace(runtimeDir))}${profileId}.sock`;
}

/** Whether a leftover can be removed as a file: a pipe vanishes with the process that served it. */
export function isSocketFile(socketPath: string): boolean {
  return !socketPath.startsWith(PIPE_DIR);
}

/**
 * Profile ids with a status socket (live or leftover): files in the runtime dir, or on
 * Windows the pipes under this user's prefix (`listPipes` reads `\\.\pipe\`).
 */
export async function publishedIds(
  runtimeDir: string,
  platform: NodeJS.Platform = process.platform,
  listPipes: () => Promise<string[]> = () => readdir(PIPE_DIR),
): Promise<string[]> {
  const ids = (names: string[]) => names.filter((e) => e.endsWith('.sock')).map((e) => e.slice(0, -'.sock'.length));
  if (platform !== 'win32') return ids(await readdir(runtimeDir).catch(() => [] as string[]));
  const prefix = pipePrefix(await pipeNamespace(runtimeDir)).slice(PIPE_DIR.length);
  const pipes = await listPipes().catch(() => [] as string[]);
  return ids(pipes.filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length)));
}
