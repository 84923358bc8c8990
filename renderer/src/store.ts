/**
 * The renderer's state: what main last told it. One small external store read through
 * useSyncExternalStore, fed by call results and `onEvent`, so every component sees the
 * same session snapshot at the same time (list badge, header and status pane agree).
 * No library: the state is a handful of maps and the updates are a few lines each.
 *
 * Tunnels are the core registry's, keyed by profile id (a rename changes nothing), each
 * with the registry's change counter `asOf`: a listing and an event are merged by keeping
 * the higher one, so neither can overwrite newer news with older.
 */
import { useSyncExternalStore } from 'react';
import type { Words } from './failure';
import { call, type AppInfo, type FerryEvent, type ImportFile, type LogEntry, type ProfileView, type Prompt, type SessionSnapshot, type Settings, type TunnelState } from './api';

/** One rate sample for the graph. */
export interface RatePoint {
  t: number;
  rateIn: number;
  rateOut: number;
}

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  /** The profile a notice of the core is about: shown before its words. */
  profile?: string;
  /** Worded when shown (failure.ts wordsText), so a language switch re-words it. */
  words: Words;
}

export type View = { kind: 'profile'; name: string; tab: 'status' | 'log' | 'edit' } | { kind: 'import' } | { kind: 'settings' } | { kind: 'empty' };

export interface AppState {
  appInfo: AppInfo;
  settings: Settings;
  profiles: ProfileView[];
  /** The registry's entry per profile id, as of its change counter. */
  tunnels: Record<string, TunnelState>;
  /** Per profile id. */
  rates: Record<string, RatePoint[]>;
  /** Per profile id. */
  logs: Record<string, LogEntry[]>;
  prompts: Prompt[];
  notices: Notice[];
  view: View;
  /** Files opened with Ferry (double-click on a .ovpn/.zip), waiting for the import screen. */
  pendingImport: ImportFile[] | undefined;
}

/** Samples kept for the graph: one minute of once-a-second BYTECOUNT updates. */
export const RATE_WINDOW = 60;
const LOG_LIMIT = 2000;

let state: AppState;
const listeners = new Set<() => void>();
let noticeId = 0;

function set(update: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
  const patch = typeof update === 'function' ? update(state) : update;
  state = { ...state, ...patch };
  for (const listener of listeners) listener();
}

export function getState(): AppState {
  return state;
}

/** The id of the profile called `name` now. */
export function idOf(s: AppState, name: string): string | undefined {
  return s.profiles.find((p) => p.profile.name === name)?.profile.id;
}

/** The session snapshot of the profile called `name`, if its tunnel has one. */
export function sessionOf(s: AppState, name: string): SessionSnapshot | undefined {
  const id = idOf(s, name);
  return id === undefined ? undefined : s.tunnels[id]?.tunnel?.snapshot;
}

export function useStore<T>(select: (s: AppState) => T): T {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => select(state),
  );
}

// ---- start-up ----------------------------------------------------------------------------

/** Loads what the first screen needs, in parallel, and subscribes to events. */
export async function bootstrap(): Promise<AppState> {
  const [info, settings, profiles] = await Promise.all([call('appInfo', {}), call('getSettings', {}), call('listProfiles', {})]);
  if (!info.ok) throw new Error(info.error.message);
  state = {
    appInfo: info.value,
    settings: settings.ok ? settings.value : { language: 'system', theme: 'system', startAtLogin: false },
    profiles: profiles.ok ? profiles.value : [],
    tunnels: {},
    rates: {},
    logs: {},
    prompts: [],
    notices: [],
    view: { kind: 'empty' },
    pendingImport: undefined,
  };
  if (profiles.ok) adoptProfiles(profiles.value);
  else notify('error', { error: profiles.error });
  const first = state.profiles[0];
  state = { ...state, view: first ? { kind: 'profile', name: first.profile.name, tab: 'status' } : { kind: 'empty' } };
  window.ferry.onEvent(onEvent);
  return state;
}

function adoptProfiles(profiles: ProfileView[]): void {
  set({ profiles });
  for (const view of profiles) adoptTunnel(view.profile.id, view);
}

/** Takes a registry entry if it is newer than the one held. */
function adoptTunnel(id: string, next: TunnelState): void {
  const held = state.tunnels[id];
  if (held && held.asOf > next.asOf) return;
  set((s) => ({ tunnels: { ...s.tunnels, [id]: { asOf: next.asOf, ...(next.tunnel ? { tunnel: next.tunnel } : {}) } }, rates: { ...s.rates, [id]: nextRates(s.rates[id], next.tunnel?.snapshot) } }));
}

export async function reloadProfiles(): Promise<void> {
  const selected = state.view.kind === 'profile' ? idOf(state, state.view.name) : undefined;
  const result = await call('listProfiles', {});
  if (!result.ok) return notify('error', { error: result.error });
  adoptProfiles(result.value);
  const view = state.view;
  if (view.kind !== 'profile' || result.value.some((p) => p.profile.name === view.name)) return;
  // Renamed (here, or with `ferry set` elsewhere): stay on it under its new name; removed: the first one.
  const renamed = result.value.find((p) => p.profile.id === selected);
  const first = result.value[0];
  navigate(renamed ? { ...view, name: renamed.profile.name } : first ? { kind: 'profile', name: first.profile.name, tab: 'status' } : { kind: 'empty' });
}

// ---- events --------------------------------------------------------------------------------

function onEvent(event: FerryEvent): void {
  switch (event.type) {
    case 'tunnel':
      return adoptTunnel(event.id, event);
    case 'log':
      return set((s) => (s.logs[event.id] ? { logs: { ...s.logs, [event.id]: [...s.logs[event.id]!, event.entry].slice(-LOG_LIMIT) } } : {}));
    case 'notice':
      return notify('info', { said: event.notice }, event.profile);
    case 'prompt':
      return set((s) => ({ prompts: [...s.prompts.filter((p) => p.id !== event.prompt.id), event.prompt] }));
    case 'prompt-closed':
      return set((s) => ({ prompts: s.prompts.filter((p) => p.id !== event.id) }));
    case 'profiles-changed':
      void reloadProfiles();
      return;
    case 'settings':
      return set({ settings: event.settings });
    case 'open-import':
      return set({ pendingImport: event.files, view: { kind: 'import' } });
  }
}

/** The graph's samples after a snapshot: one per second while up, a fresh graph for a new session. */
function nextRates(rates: RatePoint[] = [], snapshot: SessionSnapshot | undefined): RatePoint[] {
  if (snapshot?.state === 'CONNECTED' || snapshot?.state === 'RECONNECTING') {
    // openvpn counts bytes once a second (idle or not): one sample per second, the
    // latest snapshot within a second replacing the earlier one.
    const point = { t: Date.now(), rateIn: snapshot.stats.rateIn, rateOut: snapshot.stats.rateOut };
    const last = rates[rates.length - 1];
    return last && point.t - last.t < 900 ? [...rates.slice(0, -1), { ...point, t: last.t }] : [...rates, point].slice(-RATE_WINDOW);
  }
  if (snapshot?.state === 'CONNECTING') return []; // a new session: a new graph
  return rates;
}

// ---- actions -------------------------------------------------------------------------------

export function navigate(view: View): void {
  set({ view });
}

export function notify(kind: Notice['kind'], words: Words, profile?: string): void {
  const id = ++noticeId;
  set((s) => ({ notices: [...s.notices, { id, kind, words, ...(profile !== undefined ? { profile } : {}) }].slice(-4) }));
  setTimeout(() => dismissNotice(id), kind === 'error' ? 10_000 : 6_000);
}

export function dismissNotice(id: number): void {
  set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
}

export async function connect(name: string): Promise<void> {
  const id = idOf(state, name);
  const result = await call('connect', { name });
  if (!result.ok) return notify('error', { error: result.error });
  if (id !== undefined) adoptTunnel(id, result.value);
}

export async function disconnect(name: string): Promise<void> {
  const id = idOf(state, name);
  const result = await call('disconnect', { name });
  if (!result.ok) return notify('error', { error: result.error });
  if (id !== undefined) adoptTunnel(id, result.value);
}

/** Answers a prompt; `value` undefined = cancelled. The dialog closes at once either way. */
export async function answerPrompt(id: string, value: string | undefined, rememberPassword?: boolean): Promise<void> {
  set((s) => ({ prompts: s.prompts.filter((p) => p.id !== id) }));
  const result = await call('answerPrompt', { id, ...(value !== undefined ? { value } : {}), ...(rememberPassword !== undefined ? { rememberPassword } : {}) });
  if (!result.ok) notify('error', { error: result.error });
}

export async function loadLogs(name: string): Promise<void> {
  const id = idOf(state, name);
  const result = await call('logs', { name });
  if (!result.ok) return notify('error', { error: result.error });
  if (id !== undefined) set((s) => ({ logs: { ...s.logs, [id]: result.value.slice(-LOG_LIMIT) } }));
}

export async function saveSettings(patch: Partial<Settings>): Promise<void> {
  set((s) => ({ settings: { ...s.settings, ...patch } })); // optimistic: the switch moves at once
  const result = await call('setSettings', patch);
  if (!result.ok) {
    notify('error', { error: result.error });
    const current = await call('getSettings', {});
    if (current.ok) set({ settings: current.value });
    return;
  }
  set({ settings: result.value });
}

export function takePendingImport(): ImportFile[] | undefined {
  const files = state.pendingImport;
  if (files) set({ pendingImport: undefined });
  return files;
}
