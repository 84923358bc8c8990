/** Finds the openvpn 2.6 binary: $FERRY_OPENVPN, else PATH plus the sbin directories a user's PATH often lacks. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../util/errors.js';

export const OPENVPN_MISSING = 'openvpn not found: install OpenVPN 2.6 (Debian/Ubuntu: apt install openvpn; macOS: brew install openvpn) or set FERRY_OPENVPN to its path';

export function findOpenvpn(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = env.FERRY_OPENVPN
    ? [env.FERRY_OPENVPN]
    : [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/local/sbin', '/opt/homebrew/sbin'].map((d) => path.join(d, 'openvpn'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* try the next */
    }
  }
  throw new FerryError(OPENVPN_MISSING);
}
