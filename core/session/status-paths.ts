/** Where sessions' status sockets are (status-socket.ts), without the protocol: enough to list them. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export function statusSocketPath(runtimeDir: string, profileId: string): string {
  return path.join(runtimeDir, `${profileId}.sock`);
}

/** Profile ids with a status socket in the runtime dir (live or leftover). */
export async function publishedIds(runtimeDir: string): Promise<string[]> {
  const entries = await readdir(runtimeDir).catch(() => [] as string[]);
  return entries.filter((e) => e.endsWith('.sock')).map((e) => e.slice(0, -'.sock'.length));
}
