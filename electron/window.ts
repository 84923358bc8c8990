/**
 * The one window factory and the app:// protocol that serves the built renderer. Every
 * security setting lives here as an exported constant, so a unit test can hold them to
 * the checklist in DESIGN.md: contextIsolation, sandbox, no nodeIntegration, webSecurity,
 * no <webview>, a strict CSP on every page, navigation / new windows / permissions denied.
 *
 * Pages come from app://ferry/ (a privileged, secure standard scheme) and never from the
 * network or file://: a file:// page could read any other file:// URL, and app:// gives
 * the page an origin of its own that the IPC wrapper checks on every message.
 *
 * Electron's modules are passed in (only types are imported), so this file loads in
 * unit tests and in the IPC wrapper without Electron.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserWindow, BrowserWindowConstructorOptions, Protocol, Session, WebContents, WebPreferences } from 'electron';

export const APP_SCHEME = 'app';
export const APP_HOST = 'ferry';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_URL = `${APP_ORIGIN}/index.html`;

/** Nothing from the network, no inline script or style, no plugins, no framing, no form posts. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Registered before `ready`: standard (relative URLs, an origin), secure (like https), fetch
 * for the page's own files, and CORS, which Vite's `<script type="module" crossorigin>` needs.
 */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true },
} as const;

export function webPreferences(preload: string): WebPreferences {
  return {
    preload,
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
  };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/**
 * The app:// handler: a file of the built renderer, or 404. Only GET, only host "ferry",
 * only regular files inside `root` after resolving symlinks; every answer carries the CSP.
 */
export function appRequestHandler(root: string): (request: { url: string; method?: string }) => Promise<Response> {
  const headers = (type: string) => ({
    'content-type': type,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cross-origin-opener-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  });
  const refuse = (status: number) => new Response(null, { status, headers: headers('text/plain; charset=utf-8') });
  let realRoot: Promise<string> | undefined;
  return async (request) => {
    if (request.method !== undefined && request.method !== 'GET' && request.method !== 'HEAD') return refuse(405);
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return refuse(400);
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return refuse(404);
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return refuse(400);
    }
    if (pathname.includes('\0') || pathname.includes('\\')) return refuse(400);
    if (pathname === '/' || pathname === '') pathname = '/index.html';
    realRoot ??= realpath(root);
    const base = await realRoot;
    const wanted = path.resolve(base, `.${pathname}`);
    if (!wanted.startsWith(base + path.sep)) return refuse(404);
    // A symlink may lead out of the folder even when the name does not.
    const real = await realpath(wanted).catch(() => undefined);
    if (!real || !real.startsWith(base + path.sep)) return refuse(404);
    const info = await stat(real).catch(() => undefined);
    if (!info?.isFile()) return refuse(404);
    const type = TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream';
    return new Response(new Uint8Array(await readFile(real)), { status: 200, headers: headers(type) });
  };
}

/** Serves `root` (dist/renderer) on app://ferry/ in the given session's protocol. */
export function serveApp(protocol: Pick<Protocol, 'handle'>, root: string): void {
  const handler = appRequestHandler(root);
  protocol.handle(APP_SCHEME, (request) => handler(request));
}

/** The only place web contents get their guards; main applies it to every webContents created. */
export function lockDownContents(contents: Pick<WebContents, 'on' | 'setWindowOpenHandler'>): void {
  // A single-page app never navigates: any navigation is a bug or an attack.
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Camera, microphone, notifications from the page, clipboard reads …: all refused. */
export function lockDownSession(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

export interface WindowOptions {
  preload: string;
  icon?: string;
  /** Start hidden (the tray is enough; e.g. started at login). */
  show?: boolean;
}

export function windowOptions(opts: WindowOptions): BrowserWindowConstructorOptions {
  return {
    width: 1000,
    height: 700,
    minWidth: 720,
    minHeight: 520,
    title: 'Ferry',
    show: false,
    autoHideMenuBar: true,
    ...(opts.icon ? { icon: opts.icon } : {}),
    webPreferences: webPreferences(opts.preload),
  };
}

type WindowClass = new (options: BrowserWindowConstructorOptions) => BrowserWindow;

/** Creates the main window, locked down, loading app://ferry/index.html. */
export function createWindow(BrowserWindowClass: WindowClass, opts: WindowOptions): BrowserWindow {
  const win = new BrowserWindowClass(windowOptions(opts));
  lockDownContents(win.webContents);
  if (opts.show !== false) win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_URL);
  return win;
}
