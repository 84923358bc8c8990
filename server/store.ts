/**
 * The issuing module's state directory. Layout (directory 0700, every file 0600):
 *
 *   settings.json        the SSL server settings; its presence means "initialised"
 *   index.json           accounts and revoked serials: the commit point of every change
 *   pki/ca.crt ca.key server.crt server.key auth-token.key
 *   pki/crl.pem crl.json the CRL and its number/nextUpdate (derived from index.json)
 *   clients/SERIAL.crt SERIAL.key   one pair per issued certificate, never overwritten
 *   run/                 openvpn config, management and control sockets of `ferry-server run`
 *   deleting.json        settings.json renamed by `ferry-server delete`: its commit point
 *   .lock                the lock (proper-lockfile)
 *
 * Mutations hold an exclusive lock and write files before the index that names them, so a
 * command killed half-way leaves at most unreferenced files; the CRL is re-derived from the
 * index whenever its number lags behind. LAYOUT below lists these names: `delete` removes
 * nothing else.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { withDirLock } from '../core/util/lock.js';
import { z } from 'zod';
import { ensurePrivateDir, writeFileAtomic } from '../core/util/atomic-file.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { describeSchemaError } from '../core/util/schema-error.js';
import type { CertificateAuthority } from './pki.js';
import { KEY_TYPES, SettingsSchema, type Settings } from './settings.js';

export const AccountSchema = z.object({
  name: z.string(),
  state: z.enum(['active', 'revoked']),
  serial: z.string().regex(/^[0-9a-f]+$/),
  keyType: z.enum(KEY_TYPES),
  createdAt: z.string(),
  notAfter: z.string(),
  revokedAt: z.string().optional(),
  passwordHash: z.string().optional(),
  /** This account's tunnel limit (Mbit/s, each direction); absent = unlimited. Applied live. */
  rateLimitMbps: z.number().positive().optional(),
  /** settings.profileRevision when this account's bundle was last produced. */
  bundleRevision: z.number().int(),
});
export type Account = z.infer<typeof AccountSchema>;

export const IndexSchema = z.object({
  version: z.literal(1),
  crlNumber: z.number().int().nonnegative(),
  accounts: z.array(AccountSchema),
  revoked: z.array(z.object({ serial: z.string(), account: z.string(), revokedAt: z.string() })),
});
export type Index = z.infer<typeof IndexSchema>;

const CrlMetaSchema = z.object({ number: z.number().int(), nextUpdate: z.string(), entries: z.number().int() });
export type CrlMeta = z.infer<typeof CrlMetaSchema>;

/** Files a killed command left are collected once they are this old (no command runs this long). */
export const ORPHAN_AGE_MS = 10 * 60_000;

/** writeFileAtomic's temporary files: `.NAME.<12 hex>.tmp`. */
const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * Every name ferry-server creates, by folder ('' is the state directory itself): files
 * (regular files, or sockets in run/) and the three folders. What `delete` may remove.
 */
export const LAYOUT: Record<'' | 'pki' | 'clients' | 'run', RegExp[]> = {
  '': [/^(settings|index|deleting)\.json$/, /^cluster\.key$/, TEMP_FILE],
  pki: [/^(ca|server)\.(crt|key)$/, /^auth-token\.key$/, /^crl\.(pem|json)$/, TEMP_FILE],
  clients: [/^[0-9a-f]+\.(crt|key)$/, TEMP_FILE],
  run: [/^server\.conf$/, /^(management|control)\.sock$/, TEMP_FILE],
};
export const LAYOUT_FOLDERS = ['pki', 'clients', 'run'] as const;
export const LOCK_NAME = '.lock';

/** The secrets and certificates `init` creates, handed to the store in one piece. */
export interface PkiMaterial {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  authToken: string;
}

/**
 * Where a server's state lives: the local state directory (StateDir, the default) or
 * PostgreSQL shared by several gateways (server/pg-store.ts). Every command speaks to
 * this interface; a mutation is read-modify-write inside withLock, whose end is the commit
 * point (the directory's index.json rename; the database's COMMIT).
 */
export interface StateStore {
  readonly kind: 'dir' | 'database';
  /** For messages: the directory, or the database (without its password). */
  readonly where: string;
  /** The local directory this host keeps: run/ (sockets, server.conf) and, for a database, the gateway's copies of its files. */
  readonly local: StateDir;
  isInitialised(): Promise<boolean>;
  /** Throws (exit 2) when a server already lives here, or one is half-deleted. */
  refuseIfTaken(): Promise<void>;
  readSettings(): Promise<Settings>;
  writeSettings(settings: Settings): Promise<void>;
  readIndex(): Promise<Index>;
  writeIndex(index: Index): Promise<void>;
  readCrlMeta(): Promise<CrlMeta | undefined>;
  loadCa(): Promise<CertificateAuthority>;
  readCaCert(): Promise<string>;
  ensureCrlCurrent(index: Index, ca?: CertificateAuthority, force?: boolean): Promise<CrlMeta>;
  withLock<T>(fn: () => Promise<T>): Promise<T>;
  collectGarbage(index: Index, now?: number): Promise<string[]>;
  /** Before `init`'s commit: creates whatever holds the state. */
  prepare(): Promise<void>;
  writePki(pki: PkiMaterial): Promise<void>;
  writeClientPair(serial: string, certPem: string, keyPem: string): Promise<void>;
  removeClientPair(serial: string): Promise<void>;
  readClientPair(serial: string): Promise<{ certPem: string; keyPem: string }>;
  /** The gateways bundles list: every node of a cluster, else the settings' host. */
  listRemotes(settings: Settings): Promise<Array<{ host: string; port: number }>>;
  close(): Promise<void>;
}

export class StateDir implements StateStore {
  readonly kind = 'dir' as const;
  constructor(readonly dir: string) {}

  get where() { return this.dir; }
  get local(): StateDir { return this; }

  async refuseIfTaken(): Promise<void> {
    if (await this.isInitialised()) throw new InputError(`${this.dir} already holds a Ferry server; change it with "ferry-server set"`);
    if (await this.isBeingDeleted()) throw this.beingDeletedError();
  }

  async prepare(): Promise<void> {
    await this.ensureLayout();
  }

  async writePki(pki: PkiMaterial): Promise<void> {
    await writeFileAtomic(this.caKey, pki.caKey);
    await writeFileAtomic(this.caCert, pki.caCert);
    await writeFileAtomic(this.serverKey, pki.serverKey);
    await writeFileAtomic(this.serverCert, pki.serverCert);
    await writeFileAtomic(this.authTokenKey, pki.authToken);
  }

  async writeClientPair(serial: string, certPem: string, keyPem: string): Promise<void> {
    await writeFileAtomic(this.clientKey(serial), keyPem);
    await writeFileAtomic(this.clientCert(serial), certPem);
  }

  async removeClientPair(serial: string): Promise<void> {
    await Promise.all([rm(this.clientKey(serial), { force: true }), rm(this.clientCert(serial), { force: true })]);
  }

  async readClientPair(serial: string): Promise<{ certPem: string; keyPem: string }> {
    const [certPem, keyPem] = await Promise.all([readFile(this.clientCert(serial), 'utf8'), readFile(this.clientKey(serial), 'utf8')]);
    return { certPem, keyPem };
  }

  async readCaCert(): Promise<string> {
    return readFile(this.caCert, 'utf8');
  }

  async listRemotes(settings: Settings): Promise<Array<{ host: string; port: number }>> {
    return [{ host: settings.host, port: settings.port }];
  }

  async close(): Promise<void> {}

  get settingsFile() { return path.join(this.dir, 'settings.json'); }
  get deletingFile() { return path.join(this.dir, 'deleting.json'); }
  get indexFile() { return path.join(this.dir, 'index.json'); }
  get pkiDir() { return path.join(this.dir, 'pki'); }
  get clientsDir() { return path.join(this.dir, 'clients'); }
  get runDir() { return path.join(this.dir, 'run'); }
  get caCert() { return path.join(this.pkiDir, 'ca.crt'); }
  get caKey() { return path.join(this.pkiDir, 'ca.key'); }
  get serverCert() { return path.join(this.pkiDir, 'server.crt'); }
  get serverKey() { return path.join(this.pkiDir, 'server.key'); }
  get authTokenKey() { return path.join(this.pkiDir, 'auth-token.key'); }
  get crlFile() { return path.join(this.pkiDir, 'crl.pem'); }
  get crlMetaFile() { return path.join(this.pkiDir, 'crl.json'); }
  get serverConfigFile() { return path.join(this.runDir, 'server.conf'); }
  get managementSocket() { return path.join(this.runDir, 'management.sock'); }
  get controlSocket() { return path.join(this.runDir, 'control.sock'); }
  clientCert(serial: string) { return path.join(this.clientsDir, `${serial}.crt`); }
  clientKey(serial: string) { return path.join(this.clientsDir, `${serial}.key`); }

  async isInitialised(): Promise<boolean> {
    return exists(this.settingsFile);
  }

  /** `ferry-server delete` passed its commit point here and did not finish. */
  async isBeingDeleted(): Promise<boolean> {
    return exists(this.deletingFile);
  }

  /** The error for every command but `delete` on a half-deleted directory. */
  beingDeletedError(): InputError {
    return new InputError(`the SSL server in ${this.dir} was being deleted when that command was stopped; finish with "ferry-server delete"`);
  }

  async readSettings(): Promise<Settings> {
    if (!(await this.isInitialised())) {
      if (await this.isBeingDeleted()) throw this.beingDeletedError();
      throw new InputError(`no Ferry server in ${this.dir}: run "ferry-server init --host PUBLIC_HOST --subnet CIDR" first (or pass --dir)`);
    }
    return readJson(this.settingsFile, SettingsSchema);
  }

  async readIndex(): Promise<Index> {
    return readJson(this.indexFile, IndexSchema);
  }

  async writeSettings(settings: Settings): Promise<void> {
    await writeFileAtomic(this.settingsFile, `${JSON.stringify(SettingsSchema.parse(settings), null, 2)}\n`);
  }

  async writeIndex(index: Index): Promise<void> {
    await writeFileAtomic(this.indexFile, `${JSON.stringify(IndexSchema.parse(index), null, 2)}\n`);
  }

  async readCrlMeta(): Promise<CrlMeta | undefined> {
    if (!(await exists(this.crlMetaFile))) return undefined;
    return readJson(this.crlMetaFile, CrlMetaSchema);
  }

  async loadCa(): Promise<CertificateAuthority> {
    const [cert, key] = await Promise.all([readFile(this.caCert, 'utf8'), readFile(this.caKey, 'utf8')]);
    const { loadCa } = await import('./pki.js'); // lazy: the X.509 stack is most of start-up time
    return loadCa(cert, key);
  }

  /** Rewrites the CRL from the index when its number lags (after a revoke, or a killed one). */
  async ensureCrlCurrent(index: Index, ca?: CertificateAuthority, force = false): Promise<CrlMeta> {
    const meta = await this.readCrlMeta();
    if (!force && meta && meta.number === index.crlNumber && (await exists(this.crlFile))) return meta;
    const { pem, meta: fresh } = await deriveCrl(index, ca ?? (await this.loadCa()));
    await writeFileAtomic(this.crlFile, pem);
    await writeFileAtomic(this.crlMetaFile, `${JSON.stringify(fresh)}\n`);
    return fresh;
  }

  async ensureLayout(): Promise<void> {
    for (const dir of [this.dir, this.pkiDir, this.clientsDir, this.runDir]) await ensurePrivateDir(dir);
  }

  /** Runs `fn` holding the state directory's exclusive lock (see core/util/lock.ts). */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    // The lock lives in the directory: it cannot be taken once `delete` removed it (and
    // proper-lockfile would retry that for 40 s).
    const deleted = () => new FerryError(`the SSL server in ${this.dir} was deleted while this command ran; nothing was changed`);
    if (!(await exists(this.dir))) throw deleted();
    try {
      return await withDirLock(this.dir, `another ferry-server command is holding ${this.dir}; try again when it has finished`, fn);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT' && !(await exists(this.dir))) throw deleted();
      throw err;
    }
  }

  /**
   * Removes what a killed command left behind: temp files, and client key pairs that no
   * account names. Key pairs of retired serials (revoked, and no longer any account's: the
   * account was deleted or added again) go at once: serials are random, so no command can be
   * writing one of them. Anything else only once older than ORPHAN_AGE_MS, because another
   * command may be writing its new accounts' files right now, before it takes the lock to
   * commit them. Call with the lock held.
   */
  async collectGarbage(index: Index, now = Date.now()): Promise<string[]> {
    const live = new Set(index.accounts.map((a) => a.serial));
    const retired = new Set(index.revoked.map((r) => r.serial).filter((serial) => !live.has(serial)));
    const removed: string[] = [];
    for (const dir of [this.dir, this.pkiDir, this.clientsDir]) {
      for (const name of await readdir(dir)) {
        const serial = name.replace(/\.(crt|key)$/, '');
        const orphan = name.endsWith('.tmp') || (dir === this.clientsDir && !live.has(serial));
        if (!orphan) continue;
        const file = path.join(dir, name);
        const info = await stat(file).catch(() => undefined);
        const retiredPair = dir === this.clientsDir && retired.has(serial) && !name.endsWith('.tmp');
        if (!info?.isFile() || (!retiredPair && now - info.mtimeMs < ORPHAN_AGE_MS)) continue;
        await rm(file, { force: true });
        removed.push(file);
      }
    }
    return removed;
  }

  async removeRunFile(file: string): Promise<void> {
    await rm(file, { force: true });
  }
}

/** The CRL the index calls for (every revoked serial, its number), signed by `ca`: what both stores keep. */
export async function deriveCrl(index: Index, ca: CertificateAuthority): Promise<{ pem: string; meta: CrlMeta }> {
  const { buildCrl } = await import('./pki.js'); // lazy: the X.509 stack is most of start-up time
  const { pem, nextUpdate } = await buildCrl({
    ca,
    crlNumber: index.crlNumber,
    entries: index.revoked.map((r) => ({ serialHex: r.serial, revokedAt: new Date(r.revokedAt) })),
  });
  return { pem, meta: { number: index.crlNumber, nextUpdate: nextUpdate.toISOString(), entries: index.revoked.length } };
}

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FerryError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new FerryError(`${file} is not valid JSON (damaged?); restore it from a backup`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new FerryError(`${describeSchemaError(parsed.error, `${file} is damaged`, { whole: 'top level' })}; restore it from a backup`);
  }
  return parsed.data;
}

export function findAccount(index: Index, name: string): Account | undefined {
  const key = name.toLowerCase();
  return index.accounts.find((a) => a.name.toLowerCase() === key);
}
