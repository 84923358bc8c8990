/**
 * Whose quota a connection spends. Counting by uid alone is not enough: with subordinate
 * uids (newuidmap, /etc/subuid) one person can act as thousands of uids and so take
 * every machine-wide slot. The kernel's audit login uid (/proc/PID/loginuid) is set once
 * at login by pam_loginuid, is inherited by every process of that login (user namespaces
 * included) and cannot be changed by the user, so it names the person behind the uid.
 * Where it is unset (a service, a test, a machine without PAM's module) the uid counts.
 */
import { readFileSync } from 'node:fs';

const UNSET = 4294967295;

export function accountOf(peer: { uid: number; pid?: number }): string {
  if (peer.pid !== undefined && process.platform === 'linux') {
    try {
      const loginuid = Number(readFileSync(`/proc/${peer.pid}/loginuid`, 'utf8').trim());
      if (Number.isInteger(loginuid) && loginuid >= 0 && loginuid !== UNSET) return `login ${loginuid}`;
    } catch {
      // The peer already exited: its uid is all there is to go on.
    }
  }
  return `uid ${peer.uid}`;
}
