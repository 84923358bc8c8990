/**
 * The renderer's only door to the rest of Ferry: `window.ferry`, put there by the Electron
 * preload (or by the test host's bridge). Types only come from the contract — importing
 * its zod schemas would pull zod into the bundle and parse what main already parsed.
 */
import type { Channel, FerryApi, RequestOf, ResponseOf, Result } from '../../electron/contract';

declare global {
  interface Window {
    ferry: FerryApi;
  }
}

export type {
  FerryApi,
  FerryEvent,
  ImportFile,
  ImportPreview,
  ImportRequest,
  LogEntry,
  ProfileEdit,
  ProfileView,
  Prompt,
  Result,
  ResultError,
  Message,
  Settings,
  Tunnel,
  TunnelState,
} from '../../electron/contract';
export type { SessionSnapshot, SessionState } from '../../core/session/snapshot';
export type { CertificateSummary } from '../../core/profile/schema';

export type AppInfo = ResponseOf<'appInfo'>;

/** Calls one channel. Never throws: a bridge that breaks down becomes an error Result too. */
export async function call<C extends Channel>(channel: C, request: RequestOf<C>): Promise<Result<ResponseOf<C>>> {
  try {
    const fn = window.ferry[channel] as (r: RequestOf<C>) => Promise<Result<ResponseOf<C>>>;
    return await fn(request);
  } catch (err) {
    return { ok: false, error: { message: err instanceof Error ? err.message : String(err) } };
  }
}
