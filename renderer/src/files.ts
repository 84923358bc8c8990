/**
 * Files the person picked or dropped, read in the page (the sandbox has no paths): bytes
 * to base64 for `previewImport`/`saveImport`, and a guess at which slot a dropped file
 * belongs in. The guess only decides where an error is shown: the core recognises every
 * file by its content.
 */
import type { ImportFile } from './api';

export type Slot = 'ca' | 'cert' | 'key';

/** core/profile/import.ts MAX_FILE_BYTES: checked here too so a huge file is never read. */
export const MAX_FILE_BYTES = 1024 * 1024;

export async function readImportFile(file: File): Promise<ImportFile> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { name: file.name, base64: toBase64(bytes) };
}

function toBase64(bytes: Uint8Array): string {
  // In chunks: String.fromCharCode(...all) overflows the stack on large files.
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function isSingleProfileFile(name: string): boolean {
  return /\.(ovpn|conf|zip|p12|pfx)$/i.test(name);
}

/** Sorts dropped PEM files into the three slots: by content first, then by name. */
export async function assignSlots(files: File[]): Promise<Partial<Record<Slot, File>>> {
  const out: Partial<Record<Slot, File>> = {};
  const rest: File[] = [];
  for (const file of files) {
    const head = file.size <= MAX_FILE_BYTES ? await file.slice(0, 64 * 1024).text() : '';
    if (/PRIVATE KEY-----/.test(head) && !out.key) out.key = file;
    else if (/(^|[^a-z])ca([^a-z]|$)/i.test(file.name.replace(/\.[^.]+$/, '')) && !out.ca) out.ca = file;
    else rest.push(file);
  }
  for (const file of rest) {
    if (!out.cert) out.cert = file;
    else if (!out.ca) out.ca = file;
    else if (!out.key) out.key = file;
  }
  return out;
}
