/**
 * A ferry-server bundle (.zip), the binary container an administrator may send (PKCS#12
 * files are read in pkcs12.ts). It is untrusted input, so the reader counts what it
 * inflates instead of believing the headers: a zip bomb stops after 256 KiB, not after
 * allocating its payload.
 */
import { Unzip, UnzipInflate, type UnzipFile } from 'fflate';
import { ImportError, printable } from './pem.js';

export const MAX_ZIP_ENTRIES = 16;
export const MAX_ENTRY_BYTES = 256 * 1024;
/**
 * Compressed bytes fed to the inflater at a time. Deflate expands at most ~1032:1, so one
 * push can never produce more than ~264 KiB before the size check runs.
 */
const PUSH_BYTES = 256;
/**
 * Compressed bytes an entry may take in while unpacking to nothing. A real deflate stream
 * is silent at most for one stored block (64 KiB). fflate keeps the input it cannot use
 * (e.g. junk after the stream's last block) and copies it again on every push: a crafted
 * megabyte of it cost quadratic time (half a second at 1 MiB, 4x per doubling).
 */
const MAX_SILENT_BYTES = 128 * 1024;

export interface ZipEntry {
  /** Path inside the archive, '/'-separated, never absolute or with '..'. */
  path: string;
  data: Buffer;
}

export function isZip(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0x50 && data[1] === 0x4b && (data[2] === 3 || data[2] === 5) && (data[3] === 4 || data[3] === 6);
}

/** macOS Finder adds these when zipping; they are never part of a bundle. */
function isFinderClutter(p: string): boolean {
  const base = p.split('/').pop() ?? '';
  return p.startsWith('__MACOSX/') || base.startsWith('._') || base === '.DS_Store';
}

export function readZip(data: Uint8Array, display: string, file: string): ZipEntry[] {
  const notBundle = 'this is not a Ferry bundle; ask your administrator for a new one';
  checkDirectory(data, display, file, notBundle);

  const entries: ZipEntry[] = [];
  let failure: ImportError | undefined;
  let count = 0;
  const fail = (message: string) => {
    failure ??= new ImportError(message, file);
  };

  const unzip = new Unzip((entry: UnzipFile) => {
    if (failure) return;
    if (++count > MAX_ZIP_ENTRIES) return fail(`${display} has more than ${MAX_ZIP_ENTRIES} entries — ${notBundle}`);
    const name = entry.name.replace(/\\/g, '/');
    const parts = name.split('/');
    if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || parts.includes('..') || /[\u0000-\u001f]/.test(name)) {
      return fail(`${display}: entry "${printable(entry.name)}" points outside the archive — ${notBundle}`);
    }
    if (name.endsWith('/') || isFinderClutter(name)) return; // directories carry no data; clutter is skipped unread
    const shown = printable(name);
    if (entry.compression !== 0 && entry.compression !== 8) {
      return fail(`${display}: entry "${shown}" uses compression method ${entry.compression}, which Ferry does not read — zip the files again with standard (deflate) compression`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    let silent = 0;
    // fflate calls back once per push, with what that push unpacked (maybe nothing).
    entry.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) return fail(`${display} is damaged (${shown} cannot be unpacked) — download it again`);
      silent = chunk.length > 0 || final ? 0 : silent + PUSH_BYTES;
      if (silent > MAX_SILENT_BYTES) {
        entry.terminate();
        return fail(`${display} is damaged (${shown} holds data that unpacks to nothing) — download it again`);
      }
      size += chunk.length;
      if (size > MAX_ENTRY_BYTES) {
        entry.terminate();
        return fail(`${display}: entry "${shown}" unpacks to more than ${MAX_ENTRY_BYTES / 1024} KiB (a zip bomb?) — ${notBundle}`);
      }
      chunks.push(chunk);
      if (final) entries.push({ path: parts.filter((p) => p && p !== '.').join('/'), data: Buffer.concat(chunks) });
    };
    entry.start();
  });
  unzip.register(UnzipInflate);

  try {
    for (let at = 0; at < data.length && !failure; at += PUSH_BYTES) unzip.push(data.subarray(at, at + PUSH_BYTES));
    if (!failure) unzip.push(new Uint8Array(0), true);
  } catch {
    fail(`${display} is damaged (the archive is cut short or corrupt) — download it again`);
  }
  if (failure) throw failure;

  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.path)) throw new ImportError(`${display} holds "${printable(e.path)}" twice — ${notBundle}`, file);
    seen.add(e.path);
  }
  return entries;
}

/**
 * fflate's stream reader does not look at the encryption flag, so the central directory
 * (and each local header it points at) is checked first: an encrypted entry gets a clear
 * message instead of "damaged". The directory's entry count is checked here too.
 */
function checkDirectory(data: Uint8Array, display: string, file: string, notBundle: string): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ImportError(`${display} is damaged (no zip directory: the download is incomplete) — download it again`, file);
  const total = buf.readUInt16LE(eocd + 10);
  if (total > MAX_ZIP_ENTRIES) throw new ImportError(`${display} has more than ${MAX_ZIP_ENTRIES} entries — ${notBundle}`, file);
  let at = buf.readUInt32LE(eocd + 16);
  for (let n = 0; n < total; n++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== 0x02014b50) {
      throw new ImportError(`${display} is damaged (corrupt zip directory) — download it again`, file);
    }
    const flags = buf.readUInt16LE(at + 8);
    const method = buf.readUInt16LE(at + 10);
    const local = buf.readUInt32LE(at + 42);
    const localFlags = local + 30 <= buf.length && buf.readUInt32LE(local) === 0x04034b50 ? buf.readUInt16LE(local + 6) : 0;
    // Bit 0: traditional or strong encryption; method 99: WinZip AES.
    if (flags & 1 || localFlags & 1 || method === 99) {
      throw new ImportError(`${display} is password-protected (encrypted); Ferry reads only plain bundles — unzip it yourself and import the files inside`, file);
    }
    at += 46 + buf.readUInt16LE(at + 28) + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
  }
}
