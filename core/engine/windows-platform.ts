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
 * - Ferry's own local sockets (status, watch) as named pipes: a name under `\\.\pipe\`
 *   unique to the user's runtime dir, and the security descriptor (SDDL) to create it
 *   with: a protected DACL with one entry, generic-all for the user's SID.
 */
import { createHash } from 'node:crypto';
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

/** GetOpenvpnSettings over `read`; undefined when OpenVPN is not installed (no key or no install path). */
export function openvpnInstall(read: RegistryReader): OpenvpnInstall | undefined {
  const install = read(OPENVPN_KEY, '');
  if (!install) return undefined;
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
 * Parses `reg query "HKLM\SOFTWARE\OpenVPN"` output (lines `    NAME    REG_SZ    DATA`,
 * the default value named `(Default)`), for the reader Windows uses.
 */
export function parseRegQuery(stdout: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^ {4}(.+?) {4}REG_(?:EXPAND_)?SZ {4}(.*)$/.exec(line);
    if (!m) continue;
    values.set(m[1] === '(Default)' ? '' : m[1]!, m[2]!);
  }
  return values;
}

/** The pipe and its ACL for one of Ferry's local sockets, or a unix socket path elsewhere. */
export type LocalSocket = { kind: 'unix'; path: string } | { kind: 'pipe'; path: string; sddl: string | undefined };

/**
 * Where Ferry's local socket `name` (e.g. a profile's status socket) lives: a file in
 * `runtimeDir` on unix; on Windows a named pipe (the pipe namespace is flat and shared by
 * all users, so the name carries a digest of the per-user runtime dir) created with
 * `pipeSddl(userSid)`.
 */
export function localSocket(platform: NodeJS.Platform, runtimeDir: string, name: string, userSid?: string): LocalSocket {
  if (platform !== 'win32') return { kind: 'unix', path: path.join(runtimeDir, name) };
  return { kind: 'pipe', path: `${pipePrefix(runtimeDir)}${name}`, sddl: userSid ? pipeSddl(userSid) : undefined };
}

/** `\\.\pipe\ferry-<digest of the runtime dir>-`: every pipe of one user's Ferry starts so. */
export function pipePrefix(runtimeDir: string): string {
  const digest = createHash('sha256').update(runtimeDir.toLowerCase()).digest('hex').slice(0, 16);
  return `\\\\.\\pipe\\ferry-${digest}-`;
}

/**
 * The security descriptor a Ferry pipe is created with: `D:P` (a protected DACL: nothing
 * inherited) and one ACE, `A;;GA;;;<SID>` (allow generic-all to the user). No other
 * principal, not even SYSTEM or Administrators, may open it. The SID is checked, so no
 * caller can widen the ACL through it.
 */
export function pipeSddl(userSid: string): string {
  if (!/^S-1-\d+(-\d+){1,15}$/.test(userSid)) throw new Error(`not a SID: ${userSid}`);
  return `D:P(A;;GA;;;${userSid})`;
}
