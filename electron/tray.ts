/**
 * The tray: an icon per overall state (disconnected, connecting, connected, error), a
 * tooltip listing each profile's state, and a menu with each profile's Connect or
 * Disconnect, Open (Linux tray menus need it: a click on the icon may not reach us) and
 * Quit. Electron's Tray and Menu are injected (as in Signal's SystemTrayService), so the
 * menu can be tested against session states without Electron.
 */
import type { MenuItemConstructorOptions } from 'electron';
import { failureText } from '../core/session/failure-text.js';
import type { SessionState } from '../core/session/snapshot.js';
import type { TrayEntry } from './contract-handlers.js';
import type { MainStrings } from './strings.js';

export type TrayIconState = 'disconnected' | 'connecting' | 'connected' | 'error';
export const TRAY_ICON_STATES: readonly TrayIconState[] = ['disconnected', 'connecting', 'connected', 'error'];

/** The parts of Electron's Tray used here. */
export interface TrayLike {
  setImage(image: string): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export interface TrayActions {
  connect(profile: string): void;
  disconnect(profile: string): void;
  open(): void;
  quit(): void;
}

export interface TrayDeps {
  createTray(icon: string): TrayLike;
  /** Electron: Menu.buildFromTemplate. */
  buildMenu(template: MenuItemConstructorOptions[]): unknown;
  iconPath(state: TrayIconState): string;
  actions: TrayActions;
}

const BUSY: ReadonlySet<SessionState> = new Set(['CONNECTING', 'AUTH', 'RECONNECTING']);

/** One icon for all profiles: in-between states first (something is happening), then up, then a failure. */
export function trayIconState(entries: readonly TrayEntry[]): TrayIconState {
  if (entries.some((e) => BUSY.has(e.state))) return 'connecting';
  if (entries.some((e) => e.state === 'CONNECTED')) return 'connected';
  if (entries.some((e) => e.state === 'FAILED')) return 'error';
  return 'disconnected';
}

/** A session that exists (up, or on its way) is offered Disconnect; anything else Connect. */
export function isActive(state: SessionState): boolean {
  return state === 'CONNECTED' || BUSY.has(state);
}

export function trayMenuTemplate(entries: readonly TrayEntry[], strings: MainStrings, actions: TrayActions): MenuItemConstructorOptions[] {
  const items: MenuItemConstructorOptions[] = [];
  if (entries.length === 0) items.push({ label: strings.noProfiles, enabled: false });
  for (const entry of entries) {
    items.push({ label: `${entry.name} — ${strings.state[entry.state]}`, enabled: false });
    items.push(
      isActive(entry.state)
        ? { id: `disconnect:${entry.name}`, label: `${strings.disconnect}`, click: () => actions.disconnect(entry.name) }
        : { id: `connect:${entry.name}`, label: `${strings.connect}`, click: () => actions.connect(entry.name) },
    );
  }
  items.push({ type: 'separator' }, { id: 'open', label: strings.open, click: () => actions.open() }, { id: 'quit', label: strings.quit, click: () => actions.quit() });
  return items;
}

export function trayTooltip(entries: readonly TrayEntry[], strings: MainStrings): string {
  if (entries.length === 0) return 'Ferry';
  return ['Ferry', ...entries.map((e) => `${e.name}: ${strings.state[e.state]}${e.state === 'FAILED' && e.failure ? ` (${failureText(e.failure, strings.language).slice(0, 80)})` : ''}`)].join('\n');
}

export class TrayController {
  private readonly tray: TrayLike;
  private icon: TrayIconState = 'disconnected';

  constructor(private readonly deps: TrayDeps) {
    this.tray = deps.createTray(deps.iconPath('disconnected'));
    // Windows and macOS: a click on the icon opens the window; Linux shows the menu instead.
    this.tray.on('click', () => deps.actions.open());
  }

  /** Rebuilds icon, tooltip and menu from the current sessions. */
  update(entries: readonly TrayEntry[], strings: MainStrings): void {
    const icon = trayIconState(entries);
    if (icon !== this.icon) {
      this.icon = icon;
      this.tray.setImage(this.deps.iconPath(icon));
    }
    this.tray.setToolTip(trayTooltip(entries, strings));
    this.tray.setContextMenu(this.deps.buildMenu(trayMenuTemplate(entries, strings, this.deps.actions)));
  }

  get iconState(): TrayIconState {
    return this.icon;
  }

  destroy(): void {
    this.tray.destroy();
  }
}
