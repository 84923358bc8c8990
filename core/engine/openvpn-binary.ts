/** Finds the openvpn 2.6 binary: $FERRY_OPENVPN, else PATH plus the sbin directories a user's PATH often lacks. */
import { accessSync, constants } from 'node:fs';
import { FerryError } from '../util/errors.js';
import { findExecutable } from '../util/executable.js';

export const OPENVPN_MISSING = 'openvpn not found: install OpenVPN 2.6 (Debian/Ubuntu: apt install openvpn; macOS: brew install openvpn) or set FERRY_OPENVPN to its path';

export function findOpenvpn(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_OPENVPN) {
    try {
      accessSync(env.FERRY_OPENVPN, constants.X_OK);
      return env.FERRY_OPENVPN;
    } catch {
      throw new FerryError(OPENVPN_MISSING);
    }
  }
  const found = findExecutable('openvpn', env);
  if (!found) throw new FerryError(OPENVPN_MISSING);
  return found;
}
