/**
 * The window factory and app:// protocol (electron/window.ts): the webPreferences and CSP
 * exactly as DESIGN.md's checklist lists them, navigation / new windows / permissions
 * denied, and the protocol serving only the built renderer's own files, each with the CSP.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  APP_SCHEME_PRIVILEGES,
  APP_URL,
  appRequestHandler,
  CONTENT_SECURITY_POLICY,
  createWindow,
  lockDownContents,
  lockDownSession,
  serveApp,
  webPreferences,
  windowOptions,
} from '../../electron/window.js';
import { tempDir } from '../support/cli.js';

vi.mock('electron', () => {
  throw new Error('window.ts must not load electron at run time');
});

describe('window security settings', () => {
  it('webPreferences: isolated, sandboxed, no Node, web security on, no <webview>', () => {
    expect(webPreferences('/app/dist/electron/preload.cjs')).toEqual({
      preload: '/app/dist/electron/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      experimentalFeatures: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
      spellcheck: false,
    });
    expect(windowOptions({ preload: '/p.cjs' }).webPreferences).toEqual(webPreferences('/p.cjs'));
    expect(windowOptions({ preload: '/p.cjs' }).show).toBe(false);
  });

  it('CSP: nothing from the network, no inline code, no framing, no form posts', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-|\*|https?:/);
  });

  it('app:// is a secure standard scheme', () => {
    expect(APP_SCHEME_PRIVILEGES).toEqual({ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } });
    expect(APP_URL).toBe('app://ferry/index.html');
  });
});

type Listener = (event: { preventDefault: () => void }, ...args: unknown[]) => void;

function fakeContents() {
  const listeners = new Map<string, Listener>();
  let openHandler: ((details: { url: string }) => { action: string }) | undefined;
  return {
    listeners,
    on: vi.fn((event: string, listener: Listener) => listeners.set(event, listener)),
    setWindowOpenHandler: vi.fn((h: (details: { url: string }) => { action: string }) => (openHandler = h)),
    open: (url: string) => openHandler!({ url }),
  };
}

describe('lockDownContents / lockDownSession', () => {
  it('denies navigation, redirects, <webview> and new windows', () => {
    const contents = fakeContents();
    lockDownContents(contents as never);
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const preventDefault = vi.fn();
      contents.listeners.get(event)!({ preventDefault }, 'https://evil.example/');
      expect(preventDefault, event).toHaveBeenCalledTimes(1);
    }
    expect(contents.open('https://evil.example/')).toEqual({ action: 'deny' });
    expect(contents.open('app://ferry/index.html')).toEqual({ action: 'deny' });
  });

  it('refuses every permission request and check', () => {
    let request: ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void) | undefined;
    let check: ((wc: unknown, permission: string) => boolean) | undefined;
    lockDownSession({ setPermissionRequestHandler: (h: never) => (request = h), setPermissionCheckHandler: (h: never) => (check = h) } as never);
    for (const permission of ['media', 'notifications', 'geolocation', 'clipboard-read', 'openExternal']) {
      const callback = vi.fn();
      request!({}, permission, callback);
      expect(callback).toHaveBeenCalledWith(false);
      expect(check!({}, permission)).toBe(false);
    }
  });

  it('createWindow builds the window from these settings and loads app://ferry/', () => {
    const made: Array<{ options: unknown; win: ReturnType<typeof fakeWindow> }> = [];
    function fakeWindow(options: unknown) {
      return { options, webContents: fakeContents(), loadURL: vi.fn(async () => {}), once: vi.fn(), show: vi.fn() };
    }
    const BrowserWindow = function (this: unknown, options: unknown) {
      const win = fakeWindow(options);
      made.push({ options, win });
      return win;
    } as unknown as Parameters<typeof createWindow>[0];
    createWindow(BrowserWindow, { preload: '/app/preload.cjs', show: true });
    const [{ options, win }] = made as [(typeof made)[number]];
    expect((options as { webPreferences: unknown }).webPreferences).toEqual(webPreferences('/app/preload.cjs'));
    expect(win.loadURL).toHaveBeenCalledWith('app://ferry/index.html');
    expect(win.webContents.setWindowOpenHandler).toHaveBeenCalled();
    expect(win.webContents.listeners.has('will-navigate')).toBe(true);
  });
});

describe('app:// protocol', () => {
  async function site() {
    const base = await tempDir('ferry-app-');
    const root = path.join(base, 'renderer');
    await mkdir(path.join(root, 'assets'), { recursive: true });
    await writeFile(path.join(root, 'index.html'), '<!doctype html><title>Ferry</title>');
    await writeFile(path.join(root, 'assets', 'index.js'), 'console.log(1)');
    await writeFile(path.join(base, 'secret.txt'), 'outside');
    await symlink(path.join(base, 'secret.txt'), path.join(root, 'assets', 'link.txt'));
    return appRequestHandler(root);
  }

  it('serves the renderer\'s files with the CSP on every answer', async () => {
    const handle = await site();
    const index = await handle({ url: 'app://ferry/' });
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(await index.text()).toContain('<title>Ferry</title>');
    const script = await handle({ url: 'app://ferry/assets/index.js', method: 'GET' });
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('x-content-type-options')).toBe('nosniff');
    const missing = await handle({ url: 'app://ferry/nope.js' });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });

  it.each([
    ['dot segments', 'app://ferry/../secret.txt'],
    ['encoded dot segments', 'app://ferry/%2e%2e/secret.txt'],
    ['encoded slashes', 'app://ferry/assets%2f..%2f..%2fsecret.txt'],
    ['a symlink out of the folder', 'app://ferry/assets/link.txt'],
    ['another host', 'app://evil/index.html'],
    ['a directory', 'app://ferry/assets'],
  ])('refuses %s', async (_what, url) => {
    const handle = await site();
    const response = await handle({ url });
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('outside');
  });

  it('refuses backslashes, NUL and methods other than GET', async () => {
    const handle = await site();
    expect((await handle({ url: 'app://ferry/assets%5c..%5c..%5csecret.txt' })).status).toBe(400);
    expect((await handle({ url: 'app://ferry/index.html%00.js' })).status).toBe(400);
    expect((await handle({ url: 'app://ferry/index.html', method: 'POST' })).status).toBe(405);
  });

  it('serveApp registers the handler for the app scheme', () => {
    const protocol = { handle: vi.fn() };
    serveApp(protocol as never, '/nowhere');
    expect(protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
  });
});
