/** What the `ferry` commands share: option parsing and the public view of a profile. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Profile } from '../profile/schema.js';
import { InputError } from '../util/errors.js';

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
}

export function oneName(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new InputError(`ferry ${command} takes exactly one profile name`);
  return positionals[0]!;
}

export function publicProfile(p: Profile) {
  return {
    name: p.name,
    remotes: p.remotes,
    username: p.username,
    passwordRequired: p.passwordRequired,
    otp: p.otp.kind,
    staticChallenge: p.staticChallenge?.text,
    reconnectTimeoutSec: p.reconnectTimeoutSec,
    autoConnect: p.autoConnect,
    minimizeOnConnect: p.minimizeOnConnect,
    createdAt: p.createdAt,
  };
}
