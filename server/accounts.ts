/** SSL client accounts: add, new password, revoke, delete, list, bundle (the seed's section 3.4.3). */
import { zipSync, strToU8 } from 'fflate';
import { writeFileAtomic } from '../core/util/atomic-file.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { buildClientProfile, type Remote } from './openvpn-config.js';
import { generatePassword, hashPassword } from './password.js';
import type { CertificateAuthority } from './pki.js';
import type { KeyType, Settings } from './settings.js';
import { findAccount, type Account, type Index, type StateStore } from './store.js';
import { testHold } from './test-hold.js';

const ACCOUNT_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Issue this many accounts at once: overlaps key generation (thread pool) with file syncs. */
const CONCURRENCY = 8;

export function validateAccountName(name: string): void {
  if (!ACCOUNT_RE.test(name)) {
    throw new InputError(
      `account name "${name}" is not allowed: use 1-64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit`,
    );
  }
}

export interface AddedAccount {
  account: string;
  /** Present when two-factor is on: shown once, stored only as a hash. */
  password?: string;
}

/**
 * Adds accounts all-or-nothing. Keys, certificates and password hashes are made before
 * taking the lock (random serials need no counter); the index write under the lock is the
 * single commit point, after uniqueness is checked again against what others committed.
 */
export async function addAccounts(state: StateStore, names: string[], opts: { keyType?: KeyType; rateLimitMbps?: number } = {}): Promise<AddedAccount[]> {
  const seen = distinctNames(names, 'add');
  const settings = await state.readSettings();
  checkNamesFree(await state.readIndex(), names, settings);
  // The slow password hashes start now, on the thread pool, while the X.509 stack loads.
  const passwords = new Map(names.map((name) => [name, settings.twoFactor ? withHash(generatePassword()) : undefined]));
  for (const pending of passwords.values()) pending?.catch(() => {}); // awaited below; no unhandled rejection meanwhile
  const ca = await state.loadCa();
  const written: string[] = [];
  try {
    const issued = await mapLimit(names, CONCURRENCY, (name) =>
      issueAccount(state, settings, ca, name, opts.keyType ?? settings.keyType, passwords.get(name), written, opts.rateLimitMbps),
    );
    testHold('client-add:issued');
    await state.withLock(async () => {
      const index = await state.readIndex();
      checkNamesFree(index, names, settings);
      const serials = new Set(index.accounts.map((a) => a.serial));
      for (const { account } of issued) {
        if (serials.has(account.serial)) throw new FerryError('serial collision (vanishingly unlikely); run the command again');
      }
      const remaining = index.accounts.filter((a) => !seen.has(a.name.toLowerCase()));
      const next = { ...index, accounts: [...remaining, ...issued.map((i) => i.account)] };
      await state.writeIndex(next);
      await state.collectGarbage(next);
      await state.ensureCrlCurrent(next); // catches up after a revoke that was killed half-way
    });
    return issued.map(({ account, password }) => (password ? { account: account.name, password } : { account: account.name }));
  } catch (err) {
    // Nothing was committed: take back the files this command wrote (a full disk included).
    await Promise.all(written.map((serial) => state.removeClientPair(serial)));
    throw err;
  }
}

/** Checks a command's account names (at least one, each valid, none twice); returns them lower-cased. */
function distinctNames(names: string[], command: string): Set<string> {
  if (names.length === 0) throw new InputError(`name at least one account: ferry-server client ${command} ACCOUNT...`);
  const seen = new Set<string>();
  for (const name of names) {
    validateAccountName(name);
    const key = name.toLowerCase();
    if (seen.has(key)) throw new InputError(`account "${name}" is listed twice`);
    seen.add(key);
  }
  return seen;
}

function checkNamesFree(index: Index, names: string[], settings: Settings): void {
  for (const name of names) {
    const existing = findAccount(index, name);
    if (existing?.state === 'active') {
      throw new InputError(`account "${existing.name}" already exists; use "client passwd" for a new password or "client revoke" first`);
    }
    if (name.toLowerCase() === settings.serverCommonName.toLowerCase()) {
      throw new InputError(`account name "${name}" is reserved for the gateway`);
    }
  }
}

async function issueAccount(
  state: StateStore,
  settings: Settings,
  ca: CertificateAuthority,
  name: string,
  keyType: KeyType,
  pendingPassword: Promise<{ plain: string; hash: string }> | undefined,
  written: string[],
  rateLimitMbps: number | undefined,
) {
  const { issueCertificate } = await import('./pki.js');
  const [cert, password] = await Promise.all([
    issueCertificate({ kind: 'client', commonName: name, keyType, ca }),
    pendingPassword,
  ]);
  written.push(cert.serialHex);
  await state.writeClientPair(cert.serialHex, cert.certPem, cert.keyPem);
  const account: Account = {
    name,
    state: 'active',
    serial: cert.serialHex,
    keyType,
    createdAt: new Date().toISOString(),
    notAfter: cert.notAfter.toISOString(),
    bundleRevision: settings.profileRevision,
    ...(password ? { passwordHash: password.hash } : {}),
    ...(rateLimitMbps !== undefined ? { rateLimitMbps } : {}),
  };
  return { account, password: password?.plain };
}

async function withHash(plain: string) {
  return { plain, hash: await hashPassword(plain) };
}

export async function resetPassword(state: StateStore, name: string): Promise<AddedAccount> {
  validateAccountName(name);
  const settings = await state.readSettings();
  if (!settings.twoFactor) throw new InputError('two-factor authentication is off: accounts have no password (turn it on with "ferry-server set --two-factor")');
  const { plain, hash } = await withHash(generatePassword());
  return state.withLock(async () => {
    const index = await state.readIndex();
    const account = requireActive(index, name);
    account.passwordHash = hash;
    await state.writeIndex(index);
    return { account: account.name, password: plain };
  });
}

/** Marks the account revoked, adds its serial to the CRL; the caller cuts the live session. */
export async function revokeAccount(state: StateStore, name: string): Promise<Account> {
  validateAccountName(name);
  await state.readSettings();
  return state.withLock(async () => {
    const index = await state.readIndex();
    const account = requireActive(index, name);
    const revokedAt = new Date().toISOString();
    account.state = 'revoked';
    account.revokedAt = revokedAt;
    delete account.passwordHash;
    index.revoked.push({ serial: account.serial, account: account.name, revokedAt });
    index.crlNumber += 1;
    await state.writeIndex(index); // commit point; the CRL below is re-derived if we die now
    await state.ensureCrlCurrent(index);
    return account;
  });
}

/**
 * Deletes accounts all-or-nothing (seed 3.4.3.2): an active one is revoked first, so its
 * serial stays in index.revoked and the CRL for good; the account entry (password hash
 * included) leaves the index, the single commit point; then the CRL is brought up to date
 * and the key pairs of retired serials removed, which the next command that takes the lock
 * also does if this one is killed in between. The caller cuts live sessions. The name is
 * free again for `client add`.
 */
export async function deleteAccounts(state: StateStore, names: string[]): Promise<Account[]> {
  const wanted = distinctNames(names, 'delete');
  await state.readSettings();
  return state.withLock(async () => {
    const index = await state.readIndex();
    const missing = names.filter((name) => !findAccount(index, name));
    if (missing.length > 0) {
      const list = missing.map((name) => `"${name}"`).join(', ');
      throw new InputError(`no account${missing.length > 1 ? 's' : ''} ${list}; nothing was deleted (see "ferry-server client list")`);
    }
    const deleted = index.accounts.filter((a) => wanted.has(a.name.toLowerCase()));
    const revokedAt = new Date().toISOString();
    const listed = new Set(index.revoked.map((r) => r.serial));
    const newlyRevoked = deleted.filter((a) => !listed.has(a.serial)); // active ones (or a revoked one the CRL somehow lacks)
    const next: Index = {
      ...index,
      crlNumber: index.crlNumber + (newlyRevoked.length > 0 ? 1 : 0),
      accounts: index.accounts.filter((a) => !wanted.has(a.name.toLowerCase())),
      revoked: [...index.revoked, ...newlyRevoked.map((a) => ({ serial: a.serial, account: a.name, revokedAt }))],
    };
    await state.writeIndex(next); // commit point; a killed run leaves the CRL and files to the next command
    testHold('client-delete:committed');
    await state.ensureCrlCurrent(next);
    await state.collectGarbage(next);
    return deleted;
  });
}

/** Sets (Mbit/s) or removes (undefined) an account's tunnel limit; the caller tells a running gateway. */
export async function setRateLimit(state: StateStore, name: string, rateLimitMbps: number | undefined): Promise<Account> {
  validateAccountName(name);
  await state.readSettings();
  return state.withLock(async () => {
    const index = await state.readIndex();
    const account = requireActive(index, name);
    if (rateLimitMbps === undefined) delete account.rateLimitMbps;
    else account.rateLimitMbps = rateLimitMbps;
    await state.writeIndex(index);
    return account;
  });
}

function requireActive(index: Index, name: string): Account {
  const account = findAccount(index, name);
  if (!account) throw new InputError(`no account "${name}"; see "ferry-server client list"`);
  if (account.state !== 'active') throw new InputError(`account "${account.name}" is revoked; add it again to issue a new certificate`);
  return account;
}

export interface AccountView {
  account: string;
  state: 'active' | 'revoked';
  expires: string;
  createdAt: string;
  revokedAt?: string;
  /** The bundle predates a settings change and must be downloaded again. */
  bundleStale: boolean;
  connected: boolean;
  /** Mbit/s in each direction; absent = unlimited. */
  rateLimitMbps?: number;
}

export async function listAccounts(state: StateStore, connected: ReadonlySet<string>): Promise<AccountView[]> {
  const settings = await state.readSettings();
  const index = await state.readIndex();
  return index.accounts
    .map((a) => ({
      account: a.name,
      state: a.state,
      expires: a.notAfter,
      createdAt: a.createdAt,
      ...(a.revokedAt ? { revokedAt: a.revokedAt } : {}),
      ...(a.rateLimitMbps !== undefined ? { rateLimitMbps: a.rateLimitMbps } : {}),
      bundleStale: a.state === 'active' && a.bundleRevision < settings.profileRevision,
      connected: connected.has(a.name),
    }))
    .sort((x, y) => x.account.localeCompare(y.account));
}

/** The zip the seed's user downloads: ca.crt, client.crt, client.key and ACCOUNT.ovpn. */
export function buildBundle(settings: Settings, account: string, caPem: string, certPem: string, keyPem: string, remotes?: readonly Remote[]): Uint8Array {
  const ovpn = buildClientProfile(settings, { account, caPem, certPem, keyPem }, remotes);
  const mtime = new Date();
  return zipSync(
    {
      'ca.crt': strToU8(caPem),
      'client.crt': strToU8(certPem),
      'client.key': strToU8(keyPem),
      [`${account}.ovpn`]: strToU8(ovpn),
    },
    { level: 6, mtime },
  );
}

export async function exportBundle(state: StateStore, name: string, outFile: string): Promise<void> {
  validateAccountName(name);
  if (!outFile.endsWith('.zip')) throw new InputError(`--out "${outFile}" must name a .zip file`);
  const settings = await state.readSettings();
  await state.withLock(async () => {
    const index = await state.readIndex();
    const account = requireActive(index, name);
    const [caPem, { certPem, keyPem }, remotes] = await Promise.all([state.readCaCert(), state.readClientPair(account.serial), state.listRemotes(settings)]);
    // The bundle holds a private key: written 0600, atomically, like everything else.
    await writeFileAtomic(outFile, buildBundle(settings, account.name, caPem, certPem, keyPem, remotes), 0o600);
    if (account.bundleRevision !== settings.profileRevision) {
      account.bundleRevision = settings.profileRevision;
      await state.writeIndex(index);
    }
  });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  // Wait for every worker, so no write is still in flight when the caller cleans up.
  const settled = await Promise.allSettled(workers);
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return results;
}
