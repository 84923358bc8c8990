/**
 * Windows facts as pure functions, so they are unit-tested on any OS with the platform
 * and the registry injected:
 *
 * - Where OpenVPN is installed: `HKLM\SOFTWARE\OpenVPN`, read as the interactive service
 *   reads it (OpenVPN/openvpn `src/openvpnserv/common.c`, `GetOpenvpnSettings`): the key's
 *   default value is the install path (required: without it the service does not start);
 *   `exe_path` defaults to `<install>\bin\openvpn.exe`, `config_dir` to
 *   `<install>\config\` (always with a trailing backslash), `ovpn_admin_group` to
 *   "OpenVPN Administrators" (validate.h `OVPN_ADMIN_GROUP`). openvpn-gui's `registry.c`
 *   (`GetRegistryKeys`) reads the same values with the same defaults.
 * - Ferry's own local sockets (status, watch) as named pipes, under a name no other user
 *   can know in advance (pipePrefix, pipeNamespace).
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Reads one value under HKLM (`''` is the key's default value); undefined when absent. */
export type RegistryReader = (key: string, value: string) => string | undefined;

export const OPENVPN_KEY = 'SOFTWARE\\OpenVPN';
export const DEFAULT_ADMIN_GROUP = 'OpenVPN Administrators';

export interface OpenvpnInstall {
  installPath: string;
  exePath: string;
  /** The global config dir: configs under it run for any user (validate.c CheckConfigPath). */
  configDir: string;
  /** Members (and Administrators) may run any options and any config (validate.c IsAuthorizedUser). */
  adminGroup: string;
}

/**
 * GetOpenvpnSettings over `read`; undefined when OpenVPN is not installed (no key, or no
 * install path: a default value that is unset, empty or not an absolute path, e.g. the
 * "(value not set)" that reg.exe prints in the user's language).
 */
export function openvpnInstall(read: RegistryReader): OpenvpnInstall | undefined {
  const install = read(OPENVPN_KEY, '');
  if (!install || !/^(?:[A-Za-z]:\\|\\\\)/.test(install)) return undefined;
  const base = install.replace(/\\+$/, '');
  const withBackslash = (dir: string) => (dir.endsWith('\\') ? dir : `${dir}\\`);
  return {
    installPath: install,
    exePath: read(OPENVPN_KEY, 'exe_path') || `${base}\\bin\\openvpn.exe`,
    configDir: withBackslash(read(OPENVPN_KEY, 'config_dir') || `${base}\\config`),
    adminGroup: read(OPENVPN_KEY, 'ovpn_admin_group') || DEFAULT_ADMIN_GROUP,
  };
}

/**
 * Parses `reg query "HKLM\SOFTWARE\OpenVPN"` output (lines `    NAME    REG_SZ    DATA`),
 * for the reader Windows uses.
 *
 * - reg.exe names the default value in the user's language ("(Default)", "(Standard)",
 *   "(默认)"…) and writes in the console's OEM code page, which Node reads as UTF-8, so a
 *   non-English name may arrive mangled: any name in parentheses is the default value
 *   (OpenVPN's own values are plain words).
 * - REG_EXPAND_SZ is printed unexpanded; GetOpenvpnSettings' RegGetValueW expands it, so
 *   `%NAME%` is expanded here from `env` (names case-insensitive, unknown ones kept).
 * - The first line for a name wins: a later one can only come from data holding a line break.
 */
export function parseRegQuery(stdout: string, env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const values = new Map<string, string>();
  const lookup = new Map(Object.entries(env).map(([k, v]) => [k.toLowerCase(), v]));
  const expand = (text: string) => text.replace(/%([^%]+)%/g, (whole, name: string) => lookup.get(name.toLowerCase()) ?? whole);
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^ {4}(.+?) {4}REG_(EXPAND_)?SZ(?: {4}(.*))?$/.exec(line);
    if (!m) continue;
    const name = /^\(.*\)$/.test(m[1]!) ? '' : m[1]!;
    if (values.has(name)) continue;
    values.set(name, m[2] ? expand(m[3] ?? '') : (m[3] ?? ''));
  }
  return values;
}

/** The directory Windows lists named pipes under (`readdir` works on it). */
export const PIPE_DIR = '\\\\.\\pipe\\';

/** The name of the file, in the per-user runtime dir, that holds the user's pipe namespace. */
export const PIPE_NAMESPACE_FILE = 'pipe-namespace';

/**
 * `\\.\pipe\ferry-<namespace>-`: every pipe of one user's Ferry starts so. The pipe namespace
 * is flat and shared by every user of the machine, and a pipe's first creator owns the name
 * (libuv creates the first instance with FILE_FLAG_FIRST_PIPE_INSTANCE: nodejs/node
 * deps/uv/src/win/pipe.c `uv_pipe_bind`), so a guessable name could be taken first by
 * another user, who would then answer Ferry's own status requests. The namespace is a
 * random secret kept in the user's private runtime dir (pipeNamespace), so nobody else can
 * know the names in advance.
 */
export function pipePrefix(namespace: string): string {
  if (!/^[0-9a-f]{32}$/.test(namespace)) throw new Error(`not a pipe namespace: ${namespace}`);
  return `${PIPE_DIR}ferry-${namespace}-`;
}

const namespaces = new Map<string, Promise<string>>();

/**
 * The user's pipe namespace: 128 random bits in `<runtimeDir>/pipe-namespace`, made on
 * first use (published whole by a hard link that fails on an existing name: of processes
 * racing, all end up with the winner's).
 * A file that does not hold one, or a link, is replaced; a directory is an error.
 */
export function pipeNamespace(runtimeDir: string): Promise<string> {
  let found = namespaces.get(runtimeDir);
  if (!found) {
    found = readOrMakeNamespace(path.join(runtimeDir, PIPE_NAMESPACE_FILE));
    namespaces.set(runtimeDir, found);
    found.catch(() => namespaces.delete(runtimeDir));
  }
  return found;
}

const validNamespace = (text: string | undefined) => (text !== undefined && /^[0-9a-f]{32}$/.test(text.trim()) ? text.trim() : undefined);

const missing = (err: NodeJS.ErrnoException): undefined => {
  if (err.code === 'ENOENT') return undefined;
  throw err;
};

async function readOrMakeNamespace(file: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    // lstat, not stat: a link is never followed, since the secret is only a secret in the
    // private runtime dir (a link could point at a file others can read).
    const info = await lstat(file).catch(missing);
    if (info?.isDirectory()) throw new Error(`${file} is not a file but a directory; Ferry keeps its pipe namespace in that file: move the directory away`);
    const existing = validNamespace(info?.isFile() ? await readFile(file, 'utf8').catch(missing) : undefined);
    if (existing) return existing;
    if (info) {
      await setAside(file);
      continue;
    }
    const made = randomBytes(16).toString('hex');
    if (await publish(file, `${made}\n`)) return made;
  }
  throw new Error(`cannot read or create ${file}`);
}

/**
 * Puts `text` at `file` whole or not at all: written under a temporary name, then
 * hard-linked into place, which fails when the name exists. Another process never reads
 * it half-written (an exclusive create leaves the file empty until the write, and an empty
 * file looks damaged: the reader would replace it and the two would differ).
 */
async function publish(file: string, text: string): Promise<boolean> {
  const temp = `${file}.${randomBytes(8).toString('hex')}.new`;
  await writeFile(temp, text, { flag: 'wx', mode: 0o600 });
  try {
    await link(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Removes what is at `file` (a damaged file, a link: the link, not what it points at) by
 * moving it aside first and looking at what was moved: another process may have
 * published a namespace there since this one looked, and that one goes back.
 */
async function setAside(file: string): Promise<void> {
  const aside = `${file}.${randomBytes(8).toString('hex')}.old`;
  try {
    await rename(file, aside);
  } catch (err) {
    return missing(err as NodeJS.ErrnoException);
  }
  const info = await lstat(aside);
  if (validNamespace(info.isFile() ? await readFile(aside, 'utf8') : undefined)) {
    await link(aside, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await rm(aside, { force: true });
}
