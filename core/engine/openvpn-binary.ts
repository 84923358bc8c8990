/** Finds the openvpn 2.6 binary: $FERRY_OPENVPN, else PATH plus the sbin directories a user's PATH often lacks. */
import { accessSync, constants } from 'node:fs';
import { FailureError } from '../session/failure-error.js';
import { failure } from '../session/failures.js';
import { findExecutable } from '../util/executable.js';

/** Thrown when there is no openvpn to run; its words are failure-text.ts's `openvpn-missing`. */
const missing = () => new FailureError(failure('openvpn-missing', 'openvpn-missing'));

export function findOpenvpn(env: NodeJS.ProcessEnv = process.env): string {
  if (env.FERRY_OPENVPN) {
    try {
      accessSync(env.FERRY_OPENVPN, constants.X_OK);
      return env.FERRY_OPENVPN;
    } catch {
      throw missing();
    }
  }
  const found = findExecutable('openvpn', env);
  if (!found) throw missing();
  return found;
}
