/**
 * Secrets at rest in the shared database (CA key, server key, token secret, client keys)
 * are sealed with AES-256-GCM under a key that lives only on the gateway hosts: a file,
 * 0600, never in the database. Each value is bound to its column name (additional data),
 * so a sealed CA key cannot be passed off as a token secret.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { lstat, readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { FerryError, InputError } from '../core/util/errors.js';

const HEADER = 'ferry-cluster-key v1';
const PREFIX = 'sealed:v1:';

export class SecretBox {
  private constructor(private readonly key: Buffer, readonly file: string) {}

  static async load(file: string): Promise<SecretBox> {
    const info = await lstat(file).catch(() => undefined);
    if (!info) throw new InputError(`no cluster key file at ${file}: copy the key file of the first gateway there (mode 0600), or pass --key-file`);
    if (!info.isFile()) throw new InputError(`the cluster key file ${file} is not a regular file`);
    if ((info.mode & 0o077) !== 0) throw new InputError(`the cluster key file ${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
    const text = (await readFile(file, 'utf8')).trim();
    const match = new RegExp(`^${HEADER} ([A-Za-z0-9+/]{43}=)$`).exec(text);
    const key = match ? Buffer.from(match[1]!, 'base64') : undefined;
    if (!key || key.length !== 32) throw new InputError(`${file} is not a Ferry cluster key file (damaged?)`);
    return new SecretBox(key, file);
  }

  /** Creates the key file (0600) unless it exists; returns whether it was created. */
  static async create(file: string): Promise<boolean> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      await writeFile(file, `${HEADER} ${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  seal(plain: string, label: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(label));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: unknown, label: string): string {
    const fail = () =>
      new FerryError(`the database's ${label} does not open with the key in ${this.file}: the wrong key file for this database, or the value was altered`);
    if (typeof sealed !== 'string' || !sealed.startsWith(PREFIX)) throw fail();
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    if (raw.length < 29) throw fail();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(label));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw fail();
    }
  }
}
