/**
 * The test host's guard and plumbing, without a browser: the WebSocket refuses a
 * handshake without the right token or from another origin; requests are parsed with the
 * contract's schemas before a handler sees them; events reach the page; the HTTP side
 * serves only the renderer, with the CSP and the bridge before the app's script.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { FerryEvent } from '../../electron/contract.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/window.js';
import { startHost, type Host, type HostService } from './host.js';

class StubService extends EventEmitter implements HostService {
  readonly calls: Array<{ channel: string; request: unknown }> = [];
  readonly handlers = {
    listProfiles: async (request: unknown) => {
      this.calls.push({ channel: 'listProfiles', request });
      return { ok: true, value: [] };
    },
    disconnect: async (request: { name: string }) => {
      this.calls.push({ channel: 'disconnect', request });
      return { ok: true, value: { profile: request.name, state: 'DISCONNECTED', since: new Date(0).toISOString(), stats: { bytesIn: 0, bytesOut: 0, rateIn: 0, rateOut: 0 } } };
    },
    logs: async () => ({ ok: true, value: [{ time: 'not a date', message: 1 }] }), // breaks the contract on purpose
  } as unknown as HostService['handlers'];
  override on(event: 'event', listener: (event: FerryEvent) => void): this {
    return super.on(event, listener);
  }
}

function handshake(url: string, origin: string | undefined): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, origin ? { origin } : {});
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', () => resolve({ status: -1 }));
  });
}

function get(port: number, pathname: string, host = `127.0.0.1:${port}`): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: pathname, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('test host (renderer ⇄ ContractHandlers bridge)', () => {
  let host: Host;
  let service: StubService;
  let outside: string;
  const logged: string[] = [];
  const open: WebSocket[] = [];

  beforeAll(async () => {
    // A stand-in for dist/renderer: the host's serving does not depend on what the app is.
    const root = await mkdtemp(path.join(tmpdir(), 'ferry-host-test-'));
    await writeFile(path.join(root, 'index.html'), '<!doctype html><html><head><script type="module" src="./assets/app.js"></script></head><body></body></html>');
    await writeFile(path.join(root, 'secret.txt'), 'inside root');
    outside = `outside-${path.basename(root)}.txt`;
    await writeFile(path.join(path.dirname(root), outside), 'outside root');
    service = new StubService();
    host = await startHost({ root, service, log: (line) => logged.push(line) });
  });

  afterAll(async () => {
    for (const ws of open) ws.terminate();
    await host?.close();
  });

  async function connected(): Promise<WebSocket> {
    const { status, ws } = await handshake(`${host.wsUrl}?token=${host.token}`, host.origin);
    expect(status).toBe(101);
    open.push(ws!);
    return ws!;
  }

  function call(ws: WebSocket, id: number, channel: string, request: unknown): Promise<{ id: number; result: { ok: boolean; value?: unknown; error?: { message: string } } }> {
    return new Promise((resolve) => {
      const onMessage = (data: WebSocket.RawData) => {
        const msg = JSON.parse(data.toString()) as { id: number; result: { ok: boolean } };
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        resolve(msg as never);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, channel, request }));
    });
  }

  it('refuses a WebSocket handshake without the token, with a wrong one, or from another origin', async () => {
    expect((await handshake(host.wsUrl, host.origin)).status).toBe(401);
    const wrong = host.token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')); // same length, one character off
    expect((await handshake(`${host.wsUrl}?token=${wrong}`, host.origin)).status).toBe(401);
    expect((await handshake(`${host.wsUrl}?token=${host.token}`, 'http://evil.example')).status).toBe(401);
    expect((await handshake(`${host.wsUrl}?token=${host.token}`, undefined)).status).toBe(401);
    expect((await handshake(`${host.wsUrl.replace('/bridge', '/other')}?token=${host.token}`, host.origin)).status).toBe(401);
    expect(service.calls).toEqual([]);
    // …and accepts the right one.
    await connected();
  });

  it('parses every request with the contract before the handler sees it, and checks responses', async () => {
    const ws = await connected();
    const ok = await call(ws, 1, 'listProfiles', {});
    expect(ok.result).toEqual({ ok: true, value: [] });
    // `Empty` is strict: an extra field is refused before the handler runs.
    const extra = await call(ws, 2, 'listProfiles', { sneaky: true });
    expect(extra.result.ok).toBe(false);
    expect(extra.result.error!.message).toMatch(/invalid listProfiles request/);
    const badName = await call(ws, 3, 'disconnect', { name: '' });
    expect(badName.result.ok).toBe(false);
    expect(badName.result.error!.message).toMatch(/invalid disconnect request: name/);
    const unknown = await call(ws, 4, 'constructor', {});
    expect(unknown.result).toEqual({ ok: false, error: { message: 'unknown channel constructor' } });
    expect(service.calls.map((c) => c.channel)).toEqual(['listProfiles']);
    // A response that breaks the contract becomes an error, and is logged.
    const broken = await call(ws, 5, 'logs', { name: 'x' });
    expect(broken.result).toEqual({ ok: false, error: { message: 'logs response breaks the contract' } });
    expect(logged.join('\n')).toMatch(/logs response breaks the contract/);
  });

  it('forwards the service’s events to the page, and drops events that break the contract', async () => {
    const ws = await connected();
    const received: unknown[] = [];
    ws.on('message', (data) => received.push(JSON.parse(data.toString())));
    service.emit('event', { type: 'bogus' });
    service.emit('event', { type: 'profiles-changed' });
    await expect.poll(() => received.length).toBe(1);
    expect(received).toEqual([{ event: { type: 'profiles-changed' } }]);
    expect(logged.join('\n')).toMatch(/event breaks the contract/);
  });

  it('serves the page with the CSP and the bridge script before the app, and nothing outside the renderer', async () => {
    const index = await get(host.port, '/');
    expect(index.status).toBe(200);
    // Electron's policy, word for word, except connect-src: the bridge's socket and nothing else.
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toBe(CONTENT_SECURITY_POLICY.replace("connect-src 'none'", `connect-src ws://127.0.0.1:${host.port}/bridge`));
    expect(csp).toMatch(/(^|; )default-src 'none'(;|$)/);
    expect(csp).toMatch(/(^|; )script-src 'self'(;|$)/);
    expect(csp).toMatch(/(^|; )style-src 'self'(;|$)/);
    expect(index.body.indexOf('<script src="./ferry-bridge.js"></script>')).toBeGreaterThan(0);
    expect(index.body.indexOf('<script src="./ferry-bridge.js"></script>')).toBeLessThan(index.body.indexOf('./assets/app.js'));
    expect(index.body).not.toContain(host.token); // the token lives in the URL fragment only
    const bridge = await get(host.port, '/ferry-bridge.js');
    expect(bridge.status).toBe(200);
    expect(bridge.body).toContain('"listProfiles"');
    expect(bridge.body).not.toContain(host.token);
    expect((await get(host.port, '/secret.txt')).body).toBe('inside root');
    expect((await get(host.port, `/../${outside}`)).status).toBe(404);
    expect((await get(host.port, `/%2e%2e/${outside}`)).status).toBe(404);
    expect((await get(host.port, `/..%2f${outside}`)).status).toBe(404);
    // Another Host header (DNS rebinding) gets nothing.
    expect((await get(host.port, '/', 'attacker.example')).status).toBe(421);
  });
});
