/**
 * "Open with Ferry": a .ovpn or bundle .zip double-clicked in the file manager arrives as
 * a command-line argument (Windows, Linux, a second instance) or as macOS's 'open-file'.
 * Here such paths are picked out of argv and read, so the renderer — which has no file
 * system — can start its import with the files' contents.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ImportFile } from './contract.js';

const IMPORTABLE = /\.(ovpn|zip)$/i;
/** core/profile/import.ts MAX_FILE_BYTES: a bigger file is refused there anyway. */
const MAX_BYTES = 1024 * 1024;
const MAX_FILES = 8;

/** The importable files named on a command line (flags and the program itself skipped), made absolute. */
export function importPathsFromArgv(argv: readonly string[], cwd: string): string[] {
  return argv
    .slice(1)
    .filter((arg) => !arg.startsWith('-') && IMPORTABLE.test(arg))
    .map((arg) => path.resolve(cwd, arg))
    .slice(0, MAX_FILES);
}

/** Reads the files; the ones that cannot be imported are reported, not thrown. */
export async function readImportFiles(paths: readonly string[]): Promise<{ files: ImportFile[]; problems: string[] }> {
  const files: ImportFile[] = [];
  const problems: string[] = [];
  for (const file of paths.slice(0, MAX_FILES)) {
    const name = path.basename(file);
    try {
      const info = await stat(file);
      if (!info.isFile()) throw new Error('not a regular file');
      if (info.size > MAX_BYTES) throw new Error('larger than 1 MiB; profile files are small');
      files.push({ name, base64: (await readFile(file)).toString('base64') });
    } catch (err) {
      problems.push(`${name}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`);
    }
  }
  return { files, problems };
}
