/**
 * The main process's wiring (electron/main.ts) with the whole `electron` module mocked:
 * app:// registered before ready, one instance, IPC registered for every channel and
 * sender-checked, the window built by the factory, closing hides it to the tray, files
 * opened with Ferry become an open-import event, every webContents gets locked down.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contract, IPC_EVENT_CHANNEL, IPC_INVOKE_PREFIX } from '../../electron/contract.js';
import { APP_SCHEME_PRIVILEGES, APP_URL, webPreferences } from '../../electron/window.js';
import { tempDir } from '../support/cli.js';

const h = vi.hoisted(() => {
  type Listener = (...args: unknown[]) => unknown;
  // Waiting on the mocks: a condition is checked again whenever a mock records something, so
  // a test waits for what it expects however long a loaded machine takes, never for a time
  // (a test that never sees it fails at vitest's test timeout).
  const waiters = new Set<() => void>();
  const changed = () => {
    for (const check of [...waiters]) check();
  };
  const when = (condition: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!condition()) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  class Emitter {
    readonly listeners = new Map<string, Listener[]>();
    on(event: string, listener: Listener) {
      this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
      return this;
    }
    once(event: string, listener: Listener) {
      return this.on(event, listener);
    }
    removeListener(event: string, listener: Listener) {
      this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== listener));
      return this;
    }
    emit(event: string, ...args: unknown[]) {
      for (const l of this.listeners.get(event) ?? []) l(...args);
    }
  }
  const order: string[] = [];
  const lock = { value: true };
  const appPath = '/opt/Ferry/resources/app.asar';
  const app = Object.assign(new Emitter(), {
    requestSingleInstanceLock: () => {
      order.push('lock');
      return lock.value;
    },
    whenReady: () => {
      order.push('whenReady');
      return Promise.resolve();
    },
    quit: (() => changed()) as () => void,
    exit: (() => {}) as (code: number) => void,
    getAppPath: () => appPath,
    getLocale: () => 'en-US',
    getVersion: () => '0.1.0',
    getPath: () => '/tmp',
    setAppUserModelId: () => {},
    setLoginItemSettings: () => {},
  });
  const windows: Array<Emitter & Record<string, unknown>> = [];
  class BrowserWindow extends Emitter {
    readonly webContents = Object.assign(new Emitter(), { id: 11, sent: [] as unknown[][], send: (...a: unknown[]) => {
        this.webContents.sent.push(a);
        changed();
      }, isLoading: () => false, isDestroyed: () => false, setWindowOpenHandler: () => {} });
    calls: string[] = [];
    constructor(readonly options: Record<string, unknown>) {
      super();
      windows.push(this as never);
      changed();
    }
    loadURL(url: string) {
      this.calls.push(`loadURL ${url}`);
      return Promise.resolve();
    }
    show() {
      this.calls.push('show');
    }
    hide() {
      this.calls.push('hide');
    }
    focus() {
      this.calls.push('focus');
      changed();
    }
    restore() {}
    minimize() {}
    isDestroyed() {
      return false;
    }
    isMinimized() {
      return false;
    }
    isVisible() {
      return true;
    }
  }
  const trays: Array<Record<string, unknown>> = [];
  class Tray {
    readonly menus: unknown[] = [];
    readonly images: string[] = [];
    constructor(readonly icon: string) {
      trays.push(this as never);
      changed();
    }
    setImage(image: string) {
      this.images.push(image);
    }
    setToolTip() {}
    setContextMenu(menu: unknown) {
      this.menus.push(menu);
    }
    on() {}
    destroy() {}
  }
  const ipcHandlers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  return {
    when,
    changed,
    order,
    lock,
    app,
    appPath,
    windows,
    trays,
    ipcHandlers,
    BrowserWindow,
    Tray,
    Emitter,
    powerMonitor: new Emitter(),
    schemes: [] as unknown[],
    permissionHandlers: [] as string[],
    protocolHandlers: [] as string[],
  };
});

vi.mock('electron', () => ({
  app: h.app,
  BrowserWindow: h.BrowserWindow,
  Tray: h.Tray,
  ipcMain: {
    handle: (channel: string, listener: (...args: unknown[]) => Promise<unknown>) => {
      h.ipcHandlers.set(channel, listener);
      h.changed();
    },
    removeHandler: (channel: string) => h.ipcHandlers.delete(channel),
  },
  protocol: {
    registerSchemesAsPrivileged: (schemes: unknown[]) => {
      h.order.push('registerSchemes');
      h.schemes.push(...schemes);
    },
  },
  session: {
    defaultSession: {
      setPermissionRequestHandler: () => h.permissionHandlers.push('request'),
      setPermissionCheckHandler: () => h.permissionHandlers.push('check'),
      protocol: { handle: (scheme: string) => h.protocolHandlers.push(scheme) },
    },
  },
  Menu: { buildFromTemplate: (t: unknown) => t, setApplicationMenu: () => {} },
  Notification: Object.assign(function Notification() {
    return { show: () => {} };
  }, { isSupported: () => true }),
  dialog: { showSaveDialog: async () => ({ canceled: true }), showMessageBox: async () => ({}), showErrorBox: () => {} },
  powerMonitor: h.powerMonitor,
  net: { isOnline: () => true },
}));


const argv = process.argv;
let dir: string;
const ovpn = 'client\nremote 198.18.1.1 1194\n';

beforeAll(async () => {
  dir = await tempDir('ferry-main-');
  vi.stubEnv('FERRY_HOME', path.join(dir, 'home'));
  vi.stubEnv('XDG_RUNTIME_DIR', dir);
  await writeFile(path.join(dir, 'office.ovpn'), ovpn);
  process.argv = ['/opt/Ferry/ferry', path.join(dir, 'office.ovpn'), '--some-chromium-switch'];
  await import('../../electron/main.js');
  await h.when(() => h.windows.length === 1 && h.ipcHandlers.size === Object.keys(contract).length && h.trays.length === 1);
});

afterAll(() => {
  process.argv = argv;
  vi.unstubAllEnvs();
});

const win = () => h.windows[0]! as unknown as InstanceType<typeof h.BrowserWindow>;

describe('main process', () => {
  it('registers app:// as privileged before ready and takes the single-instance lock', () => {
    expect(h.order.slice(0, 3)).toEqual(['registerSchemes', 'lock', 'whenReady']);
    expect(h.schemes).toEqual([APP_SCHEME_PRIVILEGES]);
    expect(h.protocolHandlers).toEqual(['app']);
    expect(h.permissionHandlers.sort()).toEqual(['check', 'request']);
  });

  it('opens the window from the factory: locked-down preferences, app:// page', () => {
    expect(win().options.webPreferences).toEqual(webPreferences(path.join(h.appPath, 'dist/electron/preload.cjs')));
    expect(win().calls).toContain(`loadURL ${APP_URL}`);
  });

  it('registers every channel; a call from the window works, one from elsewhere is refused', async () => {
    expect([...h.ipcHandlers.keys()].sort()).toEqual(Object.keys(contract).map((c) => IPC_INVOKE_PREFIX + c).sort());
    const handler = h.ipcHandlers.get(`${IPC_INVOKE_PREFIX}getSettings`)!;
    expect(await handler({ sender: { id: 11 }, senderFrame: { url: 'app://ferry/index.html', parent: null } }, {})).toEqual({
      ok: true,
      value: { language: 'system', theme: 'system', startAtLogin: false },
    });
    expect(await handler({ sender: { id: 12 }, senderFrame: { url: 'app://ferry/index.html', parent: null } }, {})).toMatchObject({ ok: false });
  });

  it('turns a .ovpn named on the command line into an open-import event', async () => {
    const event = [IPC_EVENT_CHANNEL, { type: 'open-import', files: [{ name: 'office.ovpn', base64: Buffer.from(ovpn).toString('base64') }] }];
    // The file is read asynchronously after start-up: wait for the event itself, not for a time.
    await h.when(() => win().webContents.sent.some((sent) => JSON.stringify(sent) === JSON.stringify(event)));
  });

  it('a second instance focuses the window and hands over its files', async () => {
    const before = win().webContents.sent.length;
    h.app.emit('second-instance', {}, ['/opt/Ferry/ferry', 'office.ovpn'], dir);
    await h.when(() => win().webContents.sent.length > before);
    expect(win().calls).toContain('focus');
    expect(win().webContents.sent.at(-1)).toEqual([IPC_EVENT_CHANNEL, { type: 'open-import', files: [{ name: 'office.ovpn', base64: Buffer.from(ovpn).toString('base64') }] }]);
  });

  it('closing the window hides it to the tray; the tray starts disconnected', () => {
    const preventDefault = vi.fn();
    win().emit('close', { preventDefault });
    expect(preventDefault).toHaveBeenCalled();
    expect(win().calls.at(-1)).toBe('hide');
    const tray = h.trays[0]! as unknown as { icon: string; menus: Array<Array<{ label?: string }>> };
    expect(tray.icon).toBe(path.join(h.appPath, 'assets/tray/disconnected.png'));
    expect(tray.menus.at(-1)!.map((i) => i.label)).toEqual(['No profiles yet', undefined, 'Open Ferry', 'Quit Ferry']);
  });

  it('locks down every webContents that is created, and listens for resume', () => {
    const contents = Object.assign(new h.Emitter(), { setWindowOpenHandler: vi.fn() });
    h.app.emit('web-contents-created', {}, contents);
    expect(contents.setWindowOpenHandler).toHaveBeenCalled();
    expect(contents.listeners.has('will-navigate')).toBe(true);
    expect(h.powerMonitor.listeners.get('resume')).toHaveLength(1);
  });

  it('Quit first closes the sessions, then quits for real', async () => {
    const quit = vi.spyOn(h.app, 'quit');
    const preventDefault = vi.fn();
    h.app.emit('before-quit', { preventDefault });
    expect(preventDefault).toHaveBeenCalled();
    await h.when(() => quit.mock.calls.length > 0);
    h.app.emit('before-quit', { preventDefault: () => expect.unreachable('the second before-quit must pass') });
  });

  it('a second instance that does not get the lock quits at once', async () => {
    vi.resetModules();
    h.lock.value = false;
    const quit = vi.spyOn(h.app, 'quit');
    const readies = h.order.filter((o) => o === 'whenReady').length;
    await import('../../electron/main.js');
    expect(quit).toHaveBeenCalled();
    expect(h.order.filter((o) => o === 'whenReady').length).toBe(readies);
  });
});
