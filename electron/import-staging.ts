/**
 * Import staging: the renderer has file contents, not paths (it is sandboxed), and the
 * core's importer reads files. So picked files go into a fresh private directory for the
 * duration of one call and are always removed; errors name the file the person picked,
 * never the temporary path. Also the import form's settings as the core's ImportOptions.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import { parseGateway } from '../core/profile/fields.js';
import { ImportError, type ImportOptions } from '../core/profile/import.js';
import { FerryError } from '../core/util/errors.js';
import type { ImportFile, ImportSettingsSchema } from './contract.js';

export async function withImportFiles<T>(files: ImportFile[], tempRoot: string | undefined, work: (paths: string[]) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tempRoot ?? os.tmpdir(), 'ferry-import-')); // mkdtemp: 0700
  const byPath = new Map<string, string>();
  try {
    const taken = new Set<string>();
    for (const file of files) {
      const safe = safeFileName(file.name);
      // Case-insensitive: on macOS and Windows "CA.crt" and "ca.crt" are one file.
      if (taken.has(safe.toLowerCase())) throw new ImportError(`${file.name} is given twice — give each file once`, file.name);
      taken.add(safe.toLowerCase());
      const full = path.join(dir, safe);
      await writeFile(full, decodeBase64(file), { mode: 0o600, flag: 'wx' });
      byPath.set(full, file.name);
    }
    try {
      return await work([...byPath.keys()]);
    } catch (err) {
      throw mapImportError(err, dir, byPath);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function mapImportError(err: unknown, dir: string, byPath: Map<string, string>): unknown {
  if (!(err instanceof Error)) return err;
  // The temp dir is nobody's business: strip it from the text, name the picked file.
  const scrub = (text: string) => text.split(dir + path.sep).join('').split(dir).join('');
  const message = scrub(err.message);
  if (err instanceof ImportError) {
    // core names the path it read, or for a zip entry "bundle.zip:entry"; both lead back to a picked file.
    const candidates = err.file === undefined ? [] : [err.file, path.join(dir, path.basename(err.file)), path.join(dir, path.basename(err.file).split(':')[0]!)];
    const original = candidates.map((c) => byPath.get(c)).find((name) => name !== undefined);
    return new ImportError(message, original);
  }
  if (err instanceof FerryError) return new FerryError(message, err.exitCode);
  return new FerryError(message);
}

export type ImportSettings = z.output<typeof ImportSettingsSchema>;

export function importOptions(settings: ImportSettings): ImportOptions {
  const gateway = settings.gateway !== undefined && settings.gateway.trim() !== '' ? parseGateway(settings.gateway) : undefined;
  const name = settings.name !== undefined && settings.name !== '' ? settings.name : undefined;
  const username = settings.username !== undefined && settings.username !== '' ? settings.username : undefined;
  return {
    ...(name !== undefined ? { name } : {}),
    ...(gateway ? { gateway } : {}),
    ...(settings.proto ? { proto: settings.proto } : {}),
    ...(username !== undefined ? { username } : {}),
    ...(settings.noPassword ? { noPassword: true } : {}),
    askPassphrase: async (display) => {
      if (settings.passphrase !== undefined && settings.passphrase !== '') return settings.passphrase;
      // The importer's own text says "run it from a terminal"; here the form has a field.
      throw new ImportError(`${display} is passphrase-protected — type its passphrase and import again`, display);
    },
  };
}

/** A picked file's name as a plain file name: no directories, no control characters. */
export function safeFileName(name: string): string {
  const base = path.basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (base === '' || base === '.' || base === '..') throw new ImportError(`"${name}" is not a usable file name — rename the file and import again`, name);
  return base;
}

function decodeBase64(file: ImportFile): Buffer {
  const text = file.base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) throw new ImportError(`${file.name} could not be read — pick the file again`, file.name);
  return Buffer.from(text, 'base64');
}
