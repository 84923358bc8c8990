/**
 * Notices and refusals as data, like failures (failures.ts): the session's notices ("openvpn
 * stopped; restarting it", "the gateway asks: …", the keychain's) and the errors the app's
 * handlers and the CLI show a person ("disconnect it first", "auto-connect failed") are a
 * code with params. Whoever shows one words it in the reader's language from the one
 * catalogue (failure-text.ts `message`, and the renderer's locales `message`), so the
 * window can re-word a toast after a language switch. What the gateway or openvpn sent
 * stays verbatim in a param (`text`, `error`).
 */
import { z } from 'zod';
import { FailureSchema } from './snapshot.js';
import type { Failure } from './failures.js';

export const MESSAGE_CODES = [
  // ---- the session's notices -------------------------------------------------------
  /** openvpn exited while the tunnel was up; a new one starts. Params: exitCode. */
  'engine-restarting-exited',
  /** The same, killed by a signal. Params: signal. */
  'engine-restarting-killed',
  /** CONNECTED with openvpn's ERROR flag: routes failed. */
  'route-errors',
  /** A challenge from the gateway, its text verbatim. Params: text. */
  'gateway-asks',
  'password-saved',
  /** Params: error (the OS's words, verbatim). */
  'keychain-unavailable',
  /** Params: error (verbatim). */
  'keychain-failed',
  // ---- refusals and failures of the app's and the CLI's operations -------------------
  /** Params: profile, state (a SessionState, worded by the catalogue's `state`). */
  'remove-while-running',
  /** Params: profile, state, pid. */
  'remove-while-running-other',
  /** Params: profile, state. */
  'remove-while-running-helper',
  /** Connect refused: another Ferry process runs it. Params: profile, state, pid. */
  'running-in-other-process',
  'already-starting',
  'helper-kept-disconnect',
  /** Auto-connect at start failed; the reason is the message's `cause` (the notice names the profile). */
  'auto-connect-failed',
  /** The app's edit form: an OTP kind chosen with no secret. Params: kind (TOTP, HOTP). */
  'otp-secret-needed',
  'otp-kind-needed',
  /** Params: name. */
  'profile-name-taken',
  'export-logs-unavailable',
] as const;
export type MessageCode = (typeof MESSAGE_CODES)[number];

export type MessageParams = Record<string, string | number>;

const ParamsSchema = z.record(z.string(), z.union([z.string(), z.number()]));

/** A message with no cause: what a cause may itself be. */
export const PlainMessageSchema = z.object({ code: z.enum(MESSAGE_CODES), params: ParamsSchema });

/** Why something failed, nested in a message's `{{cause}}`: a message, a session failure, or text (an error no code names). */
export const CauseSchema = z.union([z.object({ message: PlainMessageSchema }), z.object({ failure: FailureSchema }), z.object({ text: z.string() })]);
export type Cause = z.infer<typeof CauseSchema>;

export const MessageSchema = PlainMessageSchema.extend({ cause: CauseSchema.optional() });
export type Message = z.infer<typeof MessageSchema>;

/** A message from its parts; `params` default to none. */
export const message = (code: MessageCode, params: MessageParams = {}, cause?: Cause): Message => ({ code, params, ...(cause ? { cause } : {}) });

/** A failure the session reports, as a cause. */
export const failureCause = (failure: Failure): Cause => ({ failure });
