/** The installed openvpn for tests that run it: undefined (skip) when missing, a failure under CI. */
import { findOpenvpn } from '../../core/engine/openvpn-binary.js';

export function installedOpenvpn(): string | undefined {
  try {
    return findOpenvpn();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    return undefined;
  }
}
