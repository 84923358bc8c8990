/**
 * Profile fields as people type them (the CLI's options, the app's forms), parsed once
 * for both: a gateway address, an OTP token's secret, a gateway edit of a profile.
 */
import { Secret } from 'otpauth';
import { InputError } from '../util/errors.js';
import type { Profile, Remote } from './schema.js';

// Its own module, so that printing an address (`ferry profiles`) does not load the OTP library.
export { formatHostPort } from './host-port.js';

/** HOST, HOST:PORT or [IPv6]:PORT. `what` names the field in errors (`--gateway` on the command line). */
export function parseGateway(value: string, what = 'gateway'): { host: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(value.trim());
  if (!m) throw new InputError(`${what} "${value}" is not HOST or HOST:PORT`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  if (m[2] === undefined) return { host };
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`${what} port ${m[2]} is not between 1 and 65535`);
  return { host, port };
}

/** The profile's remotes after changing its gateway and/or protocol (the first remote is the one edited). */
export function editedRemotes(profile: Profile, gateway: { host: string; port?: number } | undefined, proto: Remote['proto'] | undefined): Remote[] {
  const first = profile.remotes[0]!;
  return [{ host: gateway?.host ?? first.host, port: gateway?.port ?? first.port, proto: proto ?? first.proto }];
}

/** An OTP token's base32 secret as the administrator gave it (spaces and case forgiven), checked. */
export function normaliseOtpSecret(value: string): string {
  const secret = value.replace(/\s+/g, '').toUpperCase();
  try {
    if (secret.length < 16 || !/^[A-Z2-7]+=*$/.test(secret) || Secret.fromBase32(secret).bytes.length < 10) throw new Error('invalid');
  } catch {
    throw new InputError('the OTP secret must be the base32 text your administrator gave you (at least 16 characters, A–Z and 2–7)');
  }
  return secret;
}
