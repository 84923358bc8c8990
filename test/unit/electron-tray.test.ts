/**
 * The tray (electron/tray.ts) with an injected fake Tray and Menu: the menu and icon
 * follow the sessions' states, clicks reach the right action; and the notification /
 * minimize rules (electron/session-watch.ts).
 */
import type { MenuItemConstructorOptions } from 'electron';
import { describe, expect, it, vi } from 'vitest';
import type { SessionSnapshot, SessionState } from '../../core/session/snapshot.js';
import type { TrayEntry } from '../../electron/contract-handlers.js';
import { reactionTo } from '../../electron/session-watch.js';
import type { Tunnel } from '../../core/session/registry.js';
import { stringsFor } from '../../electron/strings.js';
import { TrayController, trayIconState, type TrayIconState } from '../../electron/tray.js';

vi.mock('electron', () => {
  throw new Error('tray.ts must get Electron injected, not import it');
});

const en = stringsFor('en', 'en-US');

function setup() {
  const tray = { setImage: vi.fn(), setToolTip: vi.fn(), setContextMenu: vi.fn(), on: vi.fn(), destroy: vi.fn() };
  const actions = { connect: vi.fn(), disconnect: vi.fn(), open: vi.fn(), quit: vi.fn() };
  const createTray = vi.fn(() => tray);
  const controller = new TrayController({
    createTray,
    buildMenu: (template) => template,
    iconPath: (state: TrayIconState) => `/assets/tray/${state}.png`,
    actions,
  });
  const menu = () => tray.setContextMenu.mock.lastCall![0] as MenuItemConstructorOptions[];
  const item = (id: string) => menu().find((i) => i.id === id);
  const click = (id: string) => (item(id)!.click as () => void)();
  return { tray, actions, controller, createTray, menu, item, click };
}

const entry = (name: string, state: SessionState, extra: Partial<TrayEntry> = {}): TrayEntry => ({ name, state, minimizeOnConnect: false, ...extra });

describe('TrayController', () => {
  it('starts disconnected; a connected profile offers Disconnect, the others Connect; the icon turns connected', () => {
    const t = setup();
    expect(t.createTray).toHaveBeenCalledWith('/assets/tray/disconnected.png');
    t.controller.update([entry('Home', 'DISCONNECTED'), entry('Office', 'CONNECTED')], en);
    expect(t.tray.setImage).toHaveBeenLastCalledWith('/assets/tray/connected.png');
    expect(t.item('disconnect:Office')?.label).toBe('Disconnect');
    expect(t.item('connect:Office')).toBeUndefined();
    expect(t.item('connect:Home')?.label).toBe('Connect');
    expect(t.menu().map((i) => i.label ?? i.type)).toEqual(['Home — Disconnected', 'Connect', 'Office — Connected', 'Disconnect', 'separator', 'Open Ferry', 'Quit Ferry']);
    t.click('disconnect:Office');
    expect(t.actions.disconnect).toHaveBeenCalledWith('Office');
    t.click('connect:Home');
    expect(t.actions.connect).toHaveBeenCalledWith('Home');
    t.click('open');
    t.click('quit');
    expect(t.actions.open).toHaveBeenCalledTimes(1);
    expect(t.actions.quit).toHaveBeenCalledTimes(1);
    expect(t.tray.setToolTip).toHaveBeenLastCalledWith('Ferry\nHome: Disconnected\nOffice: Connected');
  });

  it('follows the state: connecting, failed, back to disconnected', () => {
    const t = setup();
    t.controller.update([entry('Office', 'AUTH')], en);
    expect(t.controller.iconState).toBe('connecting');
    expect(t.tray.setImage).toHaveBeenLastCalledWith('/assets/tray/connecting.png');
    expect(t.item('disconnect:Office')).toBeDefined(); // a connect under way can be cancelled
    t.controller.update([entry('Office', 'FAILED', { failure: { code: 'auth', detail: 'auth-rejected', params: {} } })], en);
    expect(t.tray.setImage).toHaveBeenLastCalledWith('/assets/tray/error.png');
    expect(t.item('connect:Office')).toBeDefined();
    expect(t.tray.setToolTip).toHaveBeenLastCalledWith('Ferry\nOffice: Failed (the gateway rejected the username or password; check them and connect again)');
    t.controller.update([entry('Office', 'DISCONNECTED')], en);
    expect(t.tray.setImage).toHaveBeenLastCalledWith('/assets/tray/disconnected.png');
    // The image is only set when it changes.
    const calls = t.tray.setImage.mock.calls.length;
    t.controller.update([entry('Office', 'DISCONNECTED')], en);
    expect(t.tray.setImage.mock.calls.length).toBe(calls);
  });

  it('speaks the chosen language, and says so when there are no profiles', () => {
    const t = setup();
    t.controller.update([entry('办公室', 'CONNECTED')], stringsFor('system', 'zh-CN'));
    expect(t.menu().map((i) => i.label ?? i.type)).toEqual(['办公室 — 已连接', '断开', 'separator', '打开 Ferry', '退出 Ferry']);
    t.controller.update([], en);
    expect(t.menu()[0]).toMatchObject({ label: 'No profiles yet', enabled: false });
  });

  it('clicking the icon opens the window', () => {
    const t = setup();
    const [event, listener] = t.tray.on.mock.calls[0] as [string, () => void];
    expect(event).toBe('click');
    listener();
    expect(t.actions.open).toHaveBeenCalled();
  });

  it('one icon for several profiles: busy beats connected beats failed', () => {
    expect(trayIconState([entry('a', 'CONNECTED'), entry('b', 'RECONNECTING')])).toBe('connecting');
    expect(trayIconState([entry('a', 'CONNECTED'), entry('b', 'FAILED')])).toBe('connected');
    expect(trayIconState([entry('a', 'DISCONNECTED'), entry('b', 'FAILED')])).toBe('error');
    expect(trayIconState([])).toBe('disconnected');
  });
});

describe('reactionTo (notifications, minimize on connect) over registry changes', () => {
  const snap = (state: SessionState, extra: Partial<SessionSnapshot> = {}): SessionSnapshot => ({
    profile: 'Office',
    state,
    since: '2026-01-01T00:00:00.000Z',
    stats: { bytesIn: 0, bytesOut: 0, rateIn: 0, rateOut: 0, virtualIp: '198.18.100.2' },
    ...extra,
  });
  let rev = 0;
  const tunnel = (state: SessionState, extra: Partial<SessionSnapshot> = {}): Tunnel => ({ id: 'office-1', rev: ++rev, owner: 'here', snapshot: snap(state, extra) });

  /** Feeds a sequence of registry entries as the registry would: each change with its before. */
  function replay(steps: Array<[Tunnel | undefined, boolean?]>, name = 'Office') {
    let before: Tunnel | undefined;
    return steps.map(([after, minimize]) => {
      const reaction = reactionTo(before, after, name, en, minimize ?? false);
      before = after;
      return reaction;
    });
  }

  it('notifies once per change: connected (with the address), failed (with the reason), disconnected', () => {
    const reactions = replay([
      [tunnel('CONNECTING')],
      [tunnel('AUTH')],
      [tunnel('CONNECTED')],
      [tunnel('CONNECTED')], // a byte count: no news
      [tunnel('RECONNECTING')],
      [tunnel('CONNECTED'), true], // back after a blip: quiet
      [tunnel('DISCONNECTED')],
      [tunnel('CONNECTING')],
      [tunnel('FAILED', { failure: { code: 'auth', detail: 'auth-rejected', params: {} } })],
      [undefined], // the failure dismissed: not a second piece of news
    ]);
    expect(reactions).toEqual([
      {},
      {},
      { notify: { title: 'Office connected', body: 'VPN address 198.18.100.2' }, minimize: false },
      {},
      {},
      {},
      { notify: { title: 'Office disconnected', body: '' } },
      {},
      { notify: { title: 'Office: connection failed', body: 'the gateway rejected the username or password; check them and connect again' } },
      {},
    ]);
  });

  it('a tunnel of another process that vanishes with no last word (killed) is announced as disconnected, under the current name', () => {
    const reactions = replay([[{ id: 'office-1', rev: 1, owner: 'other-process', pid: 42, snapshot: snap('CONNECTED') }], [undefined]], 'Renamed');
    expect(reactions[1]).toEqual({ notify: { title: 'Renamed disconnected', body: '' } });
  });

  it('minimizes on connect only when the profile asks for it', () => {
    expect(replay([[tunnel('CONNECTING'), true], [tunnel('CONNECTED'), true]])[1]!.minimize).toBe(true);
    expect(replay([[tunnel('CONNECTING')], [tunnel('CONNECTED')]])[1]!.minimize).toBe(false);
  });
});

describe('the real-Electron test\'s tray probe (electron/e2e-probe.ts)', () => {
  it('without FERRY_E2E_PROBE=1 the tray is untouched and nothing is exposed', async () => {
    const { withTrayProbe } = await import('../../electron/e2e-probe.js');
    const setToolTip = (_t: string) => {};
    const tray = { isDestroyed: () => false, setToolTip };
    const target: Record<string, unknown> = {};
    expect(withTrayProbe(tray, {}, target)).toBe(tray);
    expect(tray.setToolTip).toBe(setToolTip);
    expect('ferryE2EProbe' in target).toBe(false);
  });

  it('with it, the tooltip is recorded and passed on; the probe only reads', async () => {
    const { withTrayProbe } = await import('../../electron/e2e-probe.js');
    const set: string[] = [];
    let destroyed = false;
    const tray = { isDestroyed: () => destroyed, setToolTip: (t: string) => void set.push(t) };
    const target: { ferryE2EProbe?: { trayAlive(): boolean; trayTooltip(): string | undefined } } = {};
    withTrayProbe(tray, { FERRY_E2E_PROBE: '1' }, target);
    tray.setToolTip('Ferry — alice: disconnected');
    expect(set).toEqual(['Ferry — alice: disconnected']);
    expect(target.ferryE2EProbe!.trayAlive()).toBe(true);
    expect(target.ferryE2EProbe!.trayTooltip()).toBe('Ferry — alice: disconnected');
    expect(Object.isFrozen(target.ferryE2EProbe)).toBe(true);
    destroyed = true;
    expect(target.ferryE2EProbe!.trayAlive()).toBe(false);
  });
});
