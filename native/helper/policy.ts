/**
 * Who may start a tunnel. A tunnel changes the whole machine: it adds a network device,
 * routes (the default route too, when the gateway or the profile asks for it) and the
 * resolver's servers, for every user. So, as NetworkManager does with its network-control
 * permission, only trusted local users may start one: root, and members of the helper's
 * group (`ferry` by default; the packages create it and add the installing user). The
 * same rule covers sessions that change the default route or DNS: whoever may start a
 * tunnel is trusted with those. Everyone else may still ask for status and list (their
 * own, empty) sessions, and is told how to get access.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const DEFAULT_GROUP = 'ferry';

/** A plain group name: it ends up as an argument of dscl or getent, so no leading '-', no '/', no space. */
export const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

export interface StartPolicy {
  /** The group whose members may start sessions; `gid` is undefined when it does not exist. */
  readonly group: string;
  readonly gid: number | undefined;
}

/** One entry of an NSS database (getent), as `id` and `login` see it; its fields, or none. */
async function getent(database: 'group' | 'passwd', key: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('getent', [database, key]).catch(() => ({ stdout: '' }));
  return stdout ? stdout.trim().split(':') : [];
}

/**
 * How to ask the system for a group's gid. macOS has no getent: its directory service
 * answers `dscl . -read /Groups/NAME PrimaryGroupID` with `PrimaryGroupID: 701`.
 */
export function groupQuery(platform: NodeJS.Platform, group: string): { command: string; args: string[]; gid: (stdout: string) => number | undefined } {
  if (!GROUP_NAME.test(group)) throw new Error(`${JSON.stringify(group)} is not a group name`);
  const whole = (text: string | undefined) => (text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined);
  return platform === 'darwin'
    ? { command: '/usr/bin/dscl', args: ['.', '-read', `/Groups/${group}`, 'PrimaryGroupID'], gid: (out) => whole(/^PrimaryGroupID:\s*(\d+)\s*$/m.exec(out)?.[1]) }
    : { command: 'getent', args: ['group', group], gid: (out) => whole(out.trim().split(':')[2]) };
}

/** The commands an administrator runs to create the group and add a user to it. */
export function groupCommands(platform: NodeJS.Platform, group: string, user: string): { create: string; join: string } {
  return platform === 'darwin'
    ? { create: `sudo dseditgroup -o create ${group}`, join: `sudo dseditgroup -o edit -a ${user} -t user ${group}` }
    : { create: `sudo groupadd --system ${group}`, join: `sudo usermod -aG ${group} ${user}` };
}

export async function loadStartPolicy(group: string, platform: NodeJS.Platform = process.platform): Promise<StartPolicy> {
  const query = groupQuery(platform, group);
  const { stdout } = await promisify(execFile)(query.command, query.args).catch(() => ({ stdout: '' }));
  return { group, gid: query.gid(stdout) };
}

export interface CallerIdentity {
  uid: number;
  gid: number;
  groups: readonly number[];
}

export function mayStart(policy: StartPolicy, caller: CallerIdentity): boolean {
  return caller.uid === 0 || (policy.gid !== undefined && (caller.gid === policy.gid || caller.groups.includes(policy.gid)));
}

/** The one line a refused caller is told: what the rule is and the command that grants access. */
export async function startRefusal(policy: StartPolicy, uid: number, platform: NodeJS.Platform = process.platform): Promise<string> {
  const user = platform === 'darwin' ? `"$(id -un ${uid})"` : await userName(uid);
  const { create, join } = groupCommands(platform, policy.group, user);
  return policy.gid === undefined
    ? `only root may start VPN sessions on this machine (the group "${policy.group}" does not exist): an administrator runs \`${create} && ${join}\`, then you log out and in again`
    : `only members of the group "${policy.group}" may start VPN sessions on this machine: ask an administrator to run \`${join}\`, then log out and in again`;
}

async function userName(uid: number): Promise<string> {
  const name = (await getent('passwd', String(uid)))[0] ?? '';
  return /^[A-Za-z0-9._-]{1,32}$/.test(name) ? name : `"$(id -nu ${uid})"`;
}
