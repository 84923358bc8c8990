/**
 * The app's settings (language, theme, start at login) in a private settings.json. A
 * damaged or unreadable file falls back to the defaults: settings are never worth a
 * crash. Saving first makes the change real (`apply`, e.g. the login item); when that
 * fails the old settings stay.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../core/util/atomic-file.js';
import { SettingsSchema, type Settings } from './contract.js';

export const DEFAULT_SETTINGS: Settings = { language: 'system', theme: 'system', startAtLogin: false };

export class SettingsFile {
  constructor(
    private readonly file: string,
    private readonly apply?: (next: Settings, previous: Settings) => Promise<void>,
  ) {}

  async read(): Promise<Settings> {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(this.file, 'utf8'));
    } catch {
      return { ...DEFAULT_SETTINGS };
    }
    const parsed = SettingsSchema.partial().safeParse(json);
    return parsed.success ? { ...DEFAULT_SETTINGS, ...stripUndefined(parsed.data) } : { ...DEFAULT_SETTINGS };
  }

  async change(change: Partial<Settings>): Promise<Settings> {
    const previous = await this.read();
    const next = SettingsSchema.parse({ ...previous, ...stripUndefined(change) });
    await this.apply?.(next, previous);
    await ensurePrivateDir(path.dirname(this.file));
    await writeFileAtomic(this.file, `${JSON.stringify(next, null, 2)}\n`, 0o600);
    return next;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
