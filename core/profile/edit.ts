/**
 * Editing a stored profile: one set of rules for `ferry set` and the app's editor (the
 * OTP token above all: its secret goes to the keychain before the profile says "TOTP").
 */
import { z } from 'zod';
import type { SecretStore } from '../secrets/secret-store.js';
import { isSaved } from '../secrets/secret-store.js';
import { InputError } from '../util/errors.js';
import { describeSchemaError } from '../util/schema-error.js';
import { editedRemotes, normaliseOtpSecret, parseGateway } from './fields.js';
import { ProfileNameSchema, ProtoSchema, type Profile, type ProfilePatch } from './schema.js';
import type { ProfileStore } from './store.js';

export const ProfileEditSchema = z.object({
  name: ProfileNameSchema.optional(),
  /** HOST or HOST:PORT. */
  gateway: z.string().max(300).optional(),
  proto: ProtoSchema.optional(),
  username: z.string().max(256).optional(),
  passwordRequired: z.boolean().optional(),
  otpKind: z.enum(['none', 'totp', 'hotp']).optional(),
  /** Base32 secret for the token; only when the person typed a new one. */
  otpSecret: z.string().max(256).optional(),
  reconnectTimeoutSec: z.number().int().min(5).max(86_400).optional(),
  minimizeOnConnect: z.boolean().optional(),
  autoConnect: z.boolean().optional(),
});
export type ProfileEdit = z.infer<typeof ProfileEditSchema>;

/** Switching to a TOTP/HOTP token with no secret saved or given; each front end says how to give one. */
export class OtpSecretNeededError extends InputError {
  constructor(readonly kind: 'totp' | 'hotp') {
    super(`a ${kind.toUpperCase()} token needs its secret`);
  }
}

/**
 * Whether the edit changed what a running openvpn was started with (gateway, protocol,
 * credentials, OTP token, give-up time). Such changes are saved and used from the next
 * connect: an edit never restarts a tunnel behind the person's back. Name, auto-connect
 * and minimize-on-connect are not among them: the app reads them when it needs them.
 */
export function changesConnection(before: Profile, after: Profile, edit: ProfileEdit): boolean {
  return (
    JSON.stringify(before.remotes) !== JSON.stringify(after.remotes) ||
    before.username !== after.username ||
    before.passwordRequired !== after.passwordRequired ||
    before.otp.kind !== after.otp.kind ||
    before.reconnectTimeoutSec !== after.reconnectTimeoutSec ||
    (edit.otpSecret !== undefined && edit.otpSecret.trim() !== '')
  );
}

export async function applyProfileEdit(store: ProfileStore, secrets: SecretStore, current: Profile, input: ProfileEdit): Promise<Profile> {
  const parsedEdit = ProfileEditSchema.safeParse(input);
  if (!parsedEdit.success) throw new InputError(describeSchemaError(parsedEdit.error));
  const edit = parsedEdit.data;
  const patch: ProfilePatch = {};
  if (edit.name !== undefined && edit.name !== current.name) patch.name = edit.name;
  if (edit.username !== undefined) patch.username = edit.username;
  if (edit.passwordRequired !== undefined) patch.passwordRequired = edit.passwordRequired;
  if (edit.reconnectTimeoutSec !== undefined) patch.reconnectTimeoutSec = edit.reconnectTimeoutSec;
  if (edit.minimizeOnConnect !== undefined) patch.minimizeOnConnect = edit.minimizeOnConnect;
  if (edit.autoConnect !== undefined) patch.autoConnect = edit.autoConnect;
  if (edit.gateway !== undefined || edit.proto !== undefined) {
    patch.remotes = editedRemotes(current, edit.gateway !== undefined ? parseGateway(edit.gateway) : undefined, edit.proto);
  }
  const kind = edit.otpKind ?? current.otp.kind;
  let otpSecret: string | undefined;
  if (edit.otpSecret !== undefined && edit.otpSecret.trim() !== '') {
    if (kind === 'none') throw (await import('../session/message-error.js')).refusal('otp-kind-needed');
    otpSecret = normaliseOtpSecret(edit.otpSecret);
  }
  const kindChanged = edit.otpKind !== undefined && edit.otpKind !== current.otp.kind;
  // A new token (another kind, or a new secret) starts counting again.
  if (kindChanged || otpSecret !== undefined) patch.otp = { ...current.otp, kind, counter: 0 };
  if (kind !== 'none' && otpSecret === undefined && kindChanged && !(await isSaved(secrets, current.id, 'otp-secret'))) throw new OtpSecretNeededError(kind);
  // The keychain first: a profile never says "TOTP" without a secret to go with it.
  if (otpSecret !== undefined) await secrets.set(current.id, 'otp-secret', otpSecret);
  if (kind === 'none' && current.otp.kind !== 'none') await secrets.delete(current.id, 'otp-secret').catch(() => false);
  if (Object.keys(patch).length === 0) return current;
  try {
    return await store.update({ id: current.id }, patch);
  } catch (err) {
    if (err instanceof z.ZodError) throw new InputError(describeSchemaError(err).replace(/^remotes\.0\.host:/, 'gateway:'));
    throw err;
  }
}
