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

export async function loadStartPolicy(group: string): Promise<StartPolicy> {
  const gid = Number((await getent('group', group))[2]);
  return { group, gid: Number.isInteger(gid) ? gid : undefined };
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
export async function startRefusal(policy: StartPolicy, uid: number): Promise<string> {
  const user = await userName(uid);
  const join = `sudo usermod -aG ${policy.group} ${user}`;
  return policy.gid === undefined
    ? `only root may start VPN sessions on this machine (the group "${policy.group}" does not exist): an administrator runs \`sudo groupadd --system ${policy.group} && ${join}\`, then you log out and in again`
    : `only members of the group "${policy.group}" may start VPN sessions on this machine: ask an administrator to run \`${join}\`, then log out and in again`;
}

async function userName(uid: number): Promise<string> {
  const name = (await getent('passwd', String(uid)))[0] ?? '';
  return /^[A-Za-z0-9._-]{1,32}$/.test(name) ? name : `"$(id -nu ${uid})"`;
}
