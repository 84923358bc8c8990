/**
 * Test-only host for the renderer (never packaged): the part of Electron the UI tests
 * need, without Electron. It serves the built renderer (dist/renderer) over HTTP on
 * 127.0.0.1 with the app's CSP, and injects a bridge script that defines `window.ferry`
 * (the contract's FerryApi) over a WebSocket back to this process. Here every request is
 * parsed with the contract's zod schema — exactly as electron/ipc.ts does — and handed to
 * the service's handler; its events go back to the page.
 *
 * The WebSocket is guarded by a random token the page gets in its URL fragment (never
 * sent in an HTTP request): a handshake without it, with a wrong one, or from another
 * origin is refused, so nothing else on the machine can drive the core through it.
 *
 * As a program (`node --import tsx test/ui/host.ts [--root DIR]`, run by the UI tests in
 * the lab's client namespace) it serves the real ContractHandlers from electron/contract-handlers.ts
 * and prints one JSON line {"url", "token", "port"} once it listens.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { FerryError } from '../../core/util/errors.js';
import { contract, EventSchema, type Channel, type FerryEvent, type Result } from '../../electron/contract.js';
import { toResultError } from '../../electron/ipc.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/window.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RENDERER_DIR = path.join(ROOT, 'dist/renderer');

/** What the host needs from a service: ContractHandlers has this shape (handlers per channel, 'event'). */
export interface HostService {
  handlers: { [C in Channel]: (request: never) => unknown };
  on(event: 'event', listener: (event: FerryEvent) => void): unknown;
  off?(event: 'event', listener: (event: FerryEvent) => void): unknown;
}

export interface HostOptions {
  /** The built page to serve; default dist/renderer. */
  root?: string;
  /** Bridge window.ferry to this service over the token-guarded WebSocket. */
  service?: HostService;
  /** Instead of the WebSocket bridge, inject this script as /ferry-bridge.js (bench: an in-page stub). */
  bridgeScript?: string;
  /** Log contract violations and handler errors here (default: stderr). */
  log?: (line: string) => void;
}

export interface Host {
  /** The page, with the token in the fragment. */
  url: string;
  origin: string;
  port: number;
  token: string;
  /** The bridge's WebSocket endpoint, without the token. */
  wsUrl: string;
  close(): Promise<void>;
}

export const BRIDGE_PATH = '/ferry-bridge.js';
export const WS_PATH = '/bridge';

/** Electron's CSP (electron/window.ts), except that connect-src must allow the bridge's socket. */
export function contentSecurityPolicy(connect: string): string {
  const policy = CONTENT_SECURITY_POLICY.replace("connect-src 'none'", `connect-src ${connect}`);
  if (!policy.includes(`connect-src ${connect}`)) throw new Error(`electron/window.ts's CSP has no "connect-src 'none'" to open for the bridge: ${CONTENT_SECURITY_POLICY}`);
  return policy;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export async function startHost(opts: HostOptions = {}): Promise<Host> {
  const root = await realpath(opts.root ?? RENDERER_DIR);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const token = randomBytes(32).toString('base64url');
  const sockets = new Set<WebSocket>();
  let port = 0;
  const origin = () => `http://127.0.0.1:${port}`;

  const indexHtml = await readFile(path.join(root, 'index.html'), 'utf8').catch(() => {
    throw new Error(`${root}/index.html not found: build the renderer first (npm run build)`);
  });
  const inject = opts.service !== undefined || opts.bridgeScript !== undefined;
  // The bridge must define window.ferry before the app's module script runs: a classic
  // script placed before it (module scripts are deferred anyway; this keeps the order obvious).
  const page = inject ? indexHtml.replace(/<script\b/, `<script src=".${BRIDGE_PATH}"></script>\n    <script`) : indexHtml;
  if (inject && page === indexHtml) throw new Error('index.html has no <script> to put the bridge before');
  const bridge = opts.service ? wsBridgeScript(Object.keys(contract)) : (opts.bridgeScript ?? '');

  const server = createServer((req, res) => {
    void serve(req, res).catch((err: Error) => {
      log(`host: ${req.url}: ${err.message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = {
      'Content-Security-Policy': contentSecurityPolicy(opts.service ? `ws://127.0.0.1:${port}${WS_PATH}` : "'none'"),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    };
    // Only our own origin: a page on another host name (DNS rebinding) gets nothing.
    if (req.headers.host !== `127.0.0.1:${port}` || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 421 : 405, headers).end();
      return;
    }
    const pathname = decodeURIComponent(new URL(req.url ?? '/', origin()).pathname);
    if (pathname === '/' || pathname === '/index.html') {
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html']! }).end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    if (pathname === BRIDGE_PATH && inject) {
      res.writeHead(200, { ...headers, 'Content-Type': TYPES['.js']! }).end(req.method === 'HEAD' ? undefined : bridge);
      return;
    }
    const file = path.resolve(root, `.${pathname}`);
    if (!file.startsWith(`${root}${path.sep}`)) {
      res.writeHead(404, headers).end();
      return;
    }
    const real = await realpath(file).catch(() => undefined);
    const data = real?.startsWith(`${root}${path.sep}`) ? await readFile(real).catch(() => undefined) : undefined;
    if (!data) {
      res.writeHead(404, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(req.method === 'HEAD' ? undefined : data);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', origin());
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    const expected = Buffer.from(token);
    const ok =
      opts.service !== undefined &&
      url.pathname === WS_PATH &&
      req.headers.host === `127.0.0.1:${port}` &&
      req.headers.origin === origin() &&
      given.length === expected.length &&
      timingSafeEqual(given, expected);
    if (!ok) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => void onMessage(ws, data.toString()));
    });
  });

  async function onMessage(ws: WebSocket, text: string): Promise<void> {
    let id: unknown;
    let result: Result<unknown>;
    try {
      const message = JSON.parse(text) as { id?: unknown; channel?: unknown; request?: unknown };
      id = message.id;
      result = await dispatch(message.channel, message.request);
    } catch (err) {
      result = { ok: false, error: { message: `bad bridge message: ${(err as Error).message}` } };
    }
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, result }));
  }

  /** As electron/ipc.ts: known channel, request parsed by its schema, a Result whatever happens. */
  async function dispatch(channel: unknown, request: unknown): Promise<Result<unknown>> {
    if (typeof channel !== 'string' || !Object.hasOwn(contract, channel)) return { ok: false, error: { message: `unknown channel ${String(channel)}` } };
    const spec = contract[channel as Channel];
    const parsed = spec.request.safeParse(request ?? {});
    if (!parsed.success) return { ok: false, error: { message: `invalid ${channel} request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ')}` } };
    const handler = opts.service!.handlers[channel as Channel] as (r: unknown) => unknown;
    let out: unknown;
    try {
      out = await handler(parsed.data);
    } catch (err) {
      // ContractHandlers throws errors a person can act on (FerryError, ImportError with the
      // file it concerns); anything else is a bug worth a log line. Mapped exactly as
      // electron/ipc.ts maps them, so the page sees what it would see in the app.
      if (!(err instanceof FerryError)) log(`host: ${channel} threw: ${(err as Error).stack ?? String(err)}`);
      return toResultError(err);
    }
    const result = isResult(out) ? out : { ok: true as const, value: out };
    if (!result.ok) return result;
    // The response must match the contract too: a drift between service and contract fails the tests loudly.
    const checked = spec.response.safeParse(result.value);
    if (!checked.success) {
      log(`host: ${channel} response breaks the contract: ${checked.error.message}`);
      return { ok: false, error: { message: `${channel} response breaks the contract` } };
    }
    return { ok: true, value: checked.data };
  }

  const onEvent = (event: FerryEvent) => {
    const checked = EventSchema.safeParse(event);
    if (!checked.success) return log(`host: event breaks the contract: ${checked.error.message} ${JSON.stringify(event).slice(0, 300)}`);
    const text = JSON.stringify({ event: checked.data });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(text);
  };
  opts.service?.on('event', onEvent);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `${origin()}/#token=${token}`,
    origin: origin(),
    port,
    token,
    wsUrl: `ws://127.0.0.1:${port}${WS_PATH}`,
    async close() {
      opts.service?.off?.('event', onEvent);
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function isResult(value: unknown): value is Result<unknown> {
  return typeof value === 'object' && value !== null && 'ok' in value && typeof (value as { ok: unknown }).ok === 'boolean' && ('value' in value || 'error' in value);
}

/**
 * The page side: `window.ferry` as the preload exposes it — one function per channel
 * resolving to a Result, plus onEvent. Calls made before the socket opens wait for it; a
 * closed socket answers every pending call with an error Result (never a rejection).
 */
function wsBridgeScript(channels: string[]): string {
  return `// Ferry test host bridge: window.ferry over a token-guarded WebSocket (test only).
(() => {
  'use strict';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const ws = new WebSocket('ws://' + location.host + ${JSON.stringify(WS_PATH)} + '?token=' + encodeURIComponent(token));
  const pending = new Map();
  const listeners = new Set();
  let nextId = 1;
  let closed = false;
  const opened = new Promise((resolve) => ws.addEventListener('open', () => resolve(true)));
  const down = (message) => ({ ok: false, error: { message } });
  ws.addEventListener('message', (m) => {
    const msg = JSON.parse(m.data);
    if (msg.event) {
      for (const listener of [...listeners]) {
        try { listener(msg.event); } catch (err) { console.error(err); }
      }
      return;
    }
    const resolve = pending.get(msg.id);
    pending.delete(msg.id);
    if (resolve) resolve(msg.result);
  });
  ws.addEventListener('close', () => {
    closed = true;
    for (const resolve of pending.values()) resolve(down('the Ferry host closed the connection'));
    pending.clear();
  });
  const invoke = (channel) => (request) => {
    if (closed) return Promise.resolve(down('the Ferry host closed the connection'));
    return opened.then(() => new Promise((resolve) => {
      if (closed) return resolve(down('the Ferry host closed the connection'));
      const id = nextId++;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, channel, request: request === undefined ? {} : request }));
    }));
  };
  const api = {
    onEvent(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
  };
  for (const channel of ${JSON.stringify(channels)}) api[channel] = invoke(channel);
  Object.defineProperty(window, 'ferry', { value: Object.freeze(api), enumerable: true });
})();
`;
}

// ---- as a program: the real ContractHandlers -----------------------------------------------

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const rootIndex = args.indexOf('--root');
  const root = rootIndex >= 0 ? args[rootIndex + 1] : undefined;
  const { createTestService } = await import('./service-factory.js');
  const service = await createTestService();
  const host = await startHost({ service, ...(root ? { root } : {}) });
  process.stdout.write(`${JSON.stringify({ url: host.url, token: host.token, port: host.port })}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await host.close();
    await service.dispose();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    process.stderr.write(`host: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
