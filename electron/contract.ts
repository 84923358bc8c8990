/**
 * The one IPC contract between the renderer and the main process. Every call is a
 * request schema and a response schema; the main process parses each request with its
 * schema before a handler sees it (electron/ipc.ts) and answers with a Result, so the
 * renderer never receives a thrown error. The renderer imports only the *types* from
 * here (`import type`); the preload exposes exactly these functions and `onEvent`.
 *
 * Secrets cross this boundary in one direction only, renderer → main, as the answer to a
 * prompt the core asked (password, one-time code, passphrase) or as a new OTP secret.
 * Nothing the main process sends back ever contains one.
 */
import { z } from 'zod';
import { ProfileEditSchema } from '../core/profile/edit.js';
import { CertificateSummarySchema, ProfileNameSchema, ProfileSchema, ProtoSchema } from '../core/profile/schema.js';
import { MessageSchema, type Message } from '../core/session/messages.js';
import { TunnelSchema } from '../core/session/tunnel.js';
import { FailureSchema } from '../core/session/snapshot.js';

export { ProfileEditSchema, TunnelSchema };
export type { ProfileEdit } from '../core/profile/edit.js';
export type { Tunnel } from '../core/session/registry.js';
export type { Message };
export type { Failure } from '../core/session/failures.js';

// ---- shared shapes ---------------------------------------------------------------------

/** A file the person picked or dropped, read by the renderer (the sandbox has no paths). */
export const ImportFileSchema = z.object({
  name: z.string().min(1).max(255),
  /** The file's bytes, base64. 1 MiB files at most (core/profile/import.ts MAX_FILE_BYTES). */
  base64: z.string().max(1_500_000),
});
export type ImportFile = z.infer<typeof ImportFileSchema>;

export const ImportSettingsSchema = z.object({
  name: ProfileNameSchema.optional(),
  /** HOST or HOST:PORT; a PEM import needs it, an .ovpn or bundle already names one. */
  gateway: z.string().max(300).optional(),
  proto: ProtoSchema.optional(),
  username: z.string().max(256).optional(),
  noPassword: z.boolean().optional(),
  /** For an encrypted key or PKCS#12 file; asked again if missing or wrong. */
  passphrase: z.string().max(1024).optional(),
});

export const ImportRequestSchema = z.object({
  files: z.array(ImportFileSchema).min(1).max(8),
  settings: ImportSettingsSchema,
});
export type ImportRequest = z.infer<typeof ImportRequestSchema>;

export const ImportPreviewSchema = z.object({
  name: z.string(),
  gateway: z.string(),
  proto: ProtoSchema,
  username: z.string(),
  passwordRequired: z.boolean(),
  certificates: z.array(CertificateSummarySchema),
  warnings: z.array(z.string()),
});
export type ImportPreview = z.infer<typeof ImportPreviewSchema>;

/**
 * The registry's entry for a profile as of `asOf` (its change counter): the renderer keeps
 * whichever of a listing and a `tunnel` event is newer, by that number.
 */
export const TunnelStateSchema = z.object({
  asOf: z.number().int(),
  /** Absent: no tunnel, nor an outcome worth showing. */
  tunnel: TunnelSchema.optional(),
});
export type TunnelState = z.infer<typeof TunnelStateSchema>;

export const ProfileViewSchema = TunnelStateSchema.extend({
  profile: ProfileSchema,
  savedPassword: z.boolean(),
  savedOtpSecret: z.boolean(),
});
export type ProfileView = z.infer<typeof ProfileViewSchema>;

export const SettingsSchema = z.object({
  language: z.enum(['system', 'zh-CN', 'en']),
  theme: z.enum(['system', 'light', 'dark']),
  startAtLogin: z.boolean(),
});
export type Settings = z.infer<typeof SettingsSchema>;

export const PromptKindSchema = z.enum(['password', 'otp', 'challenge', 'key-passphrase']);

/** Something the core asks a person while connecting; answered with `answerPrompt`. */
export const PromptSchema = z.object({
  id: z.string(),
  profile: z.string(),
  kind: PromptKindSchema,
  /** The username the password is for, or the challenge's text. */
  text: z.string(),
  echo: z.boolean(),
  /** Set when a previous answer was refused (wrong password): say so next to the field. */
  rejected: z.string().optional(),
  /** A re-login: the gateway ended the login session (its session token refused), not a wrong password. */
  expired: z.boolean().optional(),
});
export type Prompt = z.infer<typeof PromptSchema>;

export const LogEntrySchema = z.object({ time: z.string(), message: z.string() });
export type LogEntry = z.infer<typeof LogEntrySchema>;

const ByName = z.object({ name: z.string().min(1).max(64) });
const Empty = z.object({}).strict();

// ---- the calls -------------------------------------------------------------------------

export const contract = {
  listProfiles: { request: Empty, response: z.array(ProfileViewSchema) },
  /** Validates the files and shows what would be saved; stores nothing. */
  previewImport: { request: ImportRequestSchema, response: ImportPreviewSchema },
  saveImport: { request: ImportRequestSchema, response: ProfileViewSchema },
  certificates: { request: ByName, response: z.array(CertificateSummarySchema) },
  /** Allowed while connected (rename included); `appliesAtNextConnect`: the running tunnel keeps its old connection settings. */
  updateProfile: { request: ByName.extend({ edit: ProfileEditSchema }), response: ProfileViewSchema.extend({ appliesAtNextConnect: z.boolean() }) },
  removeProfile: { request: ByName, response: z.object({ removed: z.string() }) },
  connect: {
    request: ByName.extend({
      /** Given up front by the login form; otherwise the core asks through a prompt. */
      password: z.string().max(1024).optional(),
      otp: z.string().max(64).optional(),
      rememberPassword: z.boolean().optional(),
    }),
    response: TunnelStateSchema,
  },
  /** Whoever runs the tunnel (this app, `ferry connect` in a terminal); a failure shown is dismissed. */
  disconnect: { request: ByName, response: TunnelStateSchema },
  answerPrompt: {
    request: z.object({
      id: z.string().max(64),
      /** undefined = the person cancelled. */
      value: z.string().max(1024).optional(),
      rememberPassword: z.boolean().optional(),
    }),
    response: z.object({ accepted: z.boolean() }),
  },
  logs: { request: ByName, response: z.array(LogEntrySchema) },
  /** Writes the log to a file the person chooses (main shows the save dialog). */
  exportLogs: { request: ByName, response: z.object({ path: z.string().optional() }) },
  getSettings: { request: Empty, response: SettingsSchema },
  setSettings: { request: SettingsSchema.partial(), response: SettingsSchema },
  appInfo: {
    request: Empty,
    response: z.object({
      version: z.string(),
      /** The OS language, for "follow the system". */
      systemLanguage: z.string(),
      platform: z.string(),
      /** How tunnels are started here: directly (root) or through ferry-helper; missing = explain. */
      launcher: z.enum(['direct', 'helper', 'service', 'missing']),
    }),
  },
} as const;

export type Contract = typeof contract;
export type Channel = keyof Contract;
export type RequestOf<C extends Channel> = z.input<Contract[C]['request']>;
export type ResponseOf<C extends Channel> = z.output<Contract[C]['response']>;

/**
 * Why a call failed: `said` (a refusal by code, core/session/messages.ts) or `failure` (a
 * session's failure) when the core gave one, for the window to word in its language at
 * display time; `message` is the English wording, for anything else.
 */
export const ResultErrorSchema = z.object({ message: z.string(), file: z.string().optional(), said: MessageSchema.optional(), failure: FailureSchema.optional() });
export type ResultError = z.infer<typeof ResultErrorSchema>;

/** What every call resolves to: never a thrown error across the boundary. */
export type Result<T> = { ok: true; value: T } | { ok: false; error: ResultError };

// ---- events, main → renderer -----------------------------------------------------------

export const EventSchema = z.discriminatedUnion('type', [
  /** The registry changed for this profile id (state, byte counts, owner; tunnel absent: gone). */
  TunnelStateSchema.extend({ type: z.literal('tunnel'), id: z.string() }),
  z.object({ type: z.literal('log'), id: z.string(), entry: LogEntrySchema }),
  /** Worth telling the person, no state change: a code the window words (core/session/messages.ts). */
  z.object({ type: z.literal('notice'), profile: z.string(), notice: MessageSchema }),
  z.object({ type: z.literal('prompt'), prompt: PromptSchema }),
  /** The prompt was answered elsewhere or its session ended: close the dialog. */
  z.object({ type: z.literal('prompt-closed'), id: z.string() }),
  z.object({ type: z.literal('profiles-changed') }),
  z.object({ type: z.literal('settings'), settings: SettingsSchema }),
  /** A file opened with Ferry (double-click on a .ovpn or bundle .zip): start the import. */
  z.object({ type: z.literal('open-import'), files: z.array(ImportFileSchema) }),
]);
export type FerryEvent = z.infer<typeof EventSchema>;

/** What the preload puts on `window.ferry`, and what the test host's bridge provides too. */
export type FerryApi = { [C in Channel]: (request: RequestOf<C>) => Promise<Result<ResponseOf<C>>> } & {
  onEvent(listener: (event: FerryEvent) => void): () => void;
};

export const IPC_INVOKE_PREFIX = 'ferry:';
export const IPC_EVENT_CHANNEL = 'ferry:event';
