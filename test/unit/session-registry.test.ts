/**
 * The session registry (core/session/registry.ts) and the status socket's watch stream
 * (core/session/status-socket.ts), on real unix sockets in a temporary runtime dir: a slow
 * watcher gets the newest snapshot rather than a growing queue, a peer that breaks the
 * protocol is dropped, a process killed mid-session leaves the registry (or is handed to
 * ferry-helper's entry), and every change comes as one {id, before, after} with a rising rev.
 */
import { EventEmitter } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionRegistry, type Tunnel, type TunnelChange } from '../../core/session/registry.js';
import type { Session } from '../../core/session/session.js';
import type { SessionSnapshot, SessionState } from '../../core/session/snapshot.js';
import { LiveSessionSchema, MAX_WATCH_LINE, publishSession, statusSocketPath, watchSession } from '../../core/session/status-socket.js';
import { LineFramer } from '../../core/util/line-framer.js';
import { tempDir } from '../support/cli.js';

const snap = (state: SessionState, bytesIn = 0): SessionSnapshot => ({ profile: 'Office', state, since: '2026-01-01T00:00:00.000Z', stats: { bytesIn, bytesOut: 0, rateIn: 0, rateOut: 0 } });

/** What publishSession reads from a Session: snapshot(), disconnect(), 'state' and 'stats'. */
class FakeSession extends EventEmitter {
  current = snap('CONNECTED');
  snapshot(): SessionSnapshot {
    return this.current;
  }
  async disconnect(): Promise<void> {
    this.set(snap('DISCONNECTED'));
  }
  set(next: SessionSnapshot): void {
    const stateChanged = next.state !== this.current.state;
    this.current = next;
    this.emit(stateChanged ? 'state' : 'stats', next);
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves when the registry's entry for `id` satisfies `check` (now or at a later change). */
function reaches(registry: SessionRegistry, id: string, check: (t: Tunnel | undefined) => boolean): Promise<void> {
  if (check(registry.get(id))) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (c: TunnelChange) => {
      if (c.id === id && check(c.after)) {
        registry.off('change', on);
        resolve();
      }
    };
    registry.on('change', on);
  });
}

/** A peer on <dir>/<id>.sock that answers `watch` with one snapshot and then does what the test says. */
async function fakePeer(dir: string, id: string): Promise<{ server: Server; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => socket.write(`${JSON.stringify({ pid: 4242, profileId: id, snapshot: snap('CONNECTED', 7) })}\n`));
  });
  const socketPath = await statusSocketPath(dir, id);
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { server, sockets };
}

describe('status socket: watch', () => {
  it('a watcher that does not read gets the newest snapshot once it does, not every one in between', async () => {
    const dir = await tempDir('ferry-watch-');
    const session = new FakeSession();
    const published = await publishSession(dir, 'office-1', session as unknown as Session);
    cleanups.push(() => published.close());
    const socket = createConnection(await statusSocketPath(dir, 'office-1'));
    const seen: SessionSnapshot[] = [];
    const framer = new LineFramer((line) => seen.push(LiveSessionSchema.parse(JSON.parse(line)).snapshot), { maxLineLength: MAX_WATCH_LINE });
    socket.write('{"op":"watch"}\n');
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();
    // Far more updates than any socket buffer holds (~40 MB as lines).
    const updates = 200_000;
    for (let i = 1; i <= updates; i++) session.set(snap('CONNECTED', i));
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.resume();
    session.set(snap('DISCONNECTED'));
    await published.close();
    await ended;
    expect(seen.length).toBeLessThan(updates / 2);
    // In order, and nothing lost that matters: the final state is the last word.
    const counts = seen.filter((s) => s.state === 'CONNECTED').map((s) => s.stats.bytesIn);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(seen.at(-1)!.state).toBe('DISCONNECTED');
  });

  it('a disconnect request gets its reply even though it ends the session (and with it the socket)', async () => {
    const dir = await tempDir('ferry-watch-');
    const session = new FakeSession();
    const published = await publishSession(dir, 'office-1', session as unknown as Session);
    session.on('state', (s: SessionSnapshot) => void (s.state === 'DISCONNECTED' && published.close()));
    const registry = new SessionRegistry({ runtimeDir: async () => dir, keptRunning: async () => [] });
    await registry.refresh();
    expect(registry.get('office-1')).toMatchObject({ owner: 'other-process', snapshot: { state: 'CONNECTED' } });
    await registry.disconnect('office-1');
    expect(registry.get('office-1')).toBeUndefined();
  });

  it('a peer that sends an over-long line is dropped as garbage', async () => {
    const dir = await tempDir('ferry-watch-');
    const server = createServer((socket) => socket.once('data', () => socket.write('x'.repeat(MAX_WATCH_LINE + 10))));
    const socketPath = await statusSocketPath(dir, 'odd');
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const why = await new Promise((resolve) => watchSession(dir, 'odd', () => expect.unreachable('no snapshot in garbage'), resolve));
    expect(why).toBe('garbage');
  });
});

describe('SessionRegistry', () => {
  it('follows another process: its session appears, and when the process dies without a last word it leaves (or becomes ferry-helper\'s)', async () => {
    const dir = await tempDir('ferry-registry-');
    let kept: string[] = [];
    const registry = new SessionRegistry({ runtimeDir: async () => dir, keptRunning: async () => kept });
    cleanups.push(() => registry.close());
    const changes: TunnelChange[] = [];
    registry.on('change', (c) => changes.push(c));
    await registry.follow();

    // A process appears after follow(): seen through the directory watch.
    const first = await fakePeer(dir, 'office-1');
    await reaches(registry, 'office-1', (t) => t?.owner === 'other-process');
    expect(registry.get('office-1')).toMatchObject({ pid: 4242, snapshot: { state: 'CONNECTED', stats: { bytesIn: 7 } } });
    // Killed (SIGKILL: the stream just breaks) with nothing left running: gone.
    first.server.close();
    for (const s of first.sockets) s.destroy();
    await reaches(registry, 'office-1', (t) => t === undefined);

    // Killed while ferry-helper keeps its openvpn: the helper's entry takes over.
    const second = await fakePeer(dir, 'home-2');
    await reaches(registry, 'home-2', (t) => t?.owner === 'other-process');
    kept = ['home-2'];
    second.server.close();
    for (const s of second.sockets) s.destroy();
    await reaches(registry, 'home-2', (t) => t?.owner === 'helper');
    expect(registry.get('home-2')!.snapshot).toBeUndefined();

    // One change per step, each with its before, revs rising.
    expect(changes.map((c) => [c.id, c.before?.owner, c.after?.owner])).toEqual([
      ['office-1', undefined, 'other-process'],
      ['office-1', 'other-process', undefined],
      ['home-2', undefined, 'other-process'],
      ['home-2', 'other-process', undefined],
      ['home-2', undefined, 'helper'],
    ]);
    const revs = changes.flatMap((c) => (c.after ? [c.after.rev] : []));
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    expect(registry.revision).toBeGreaterThanOrEqual(revs.at(-1)!);
  });

  it('a leftover socket of a killed process is removed, not reported', async () => {
    const dir = await tempDir('ferry-registry-');
    const peer = await fakePeer(dir, 'stale-1');
    // Stop listening but keep the file, as a killed process leaves it.
    await new Promise((resolve) => peer.server.close(resolve));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'stale-1.sock'), '');
    const registry = new SessionRegistry({ runtimeDir: async () => dir, keptRunning: async () => [] });
    await registry.refresh();
    expect(registry.list()).toEqual([]);
  });
});
