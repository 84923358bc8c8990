/**
 * The IPC wrapper (electron/ipc.ts) with a fake ipcMain: a message from anything but a
 * top-level frame of our own window on app://ferry/, or with a payload its schema
 * refuses, gets a Result error and never reaches the handler; handler failures become
 * Results (with the file an import error concerns); answers are held to the contract.
 */
import { describe, expect, it, vi } from 'vitest';
import { ImportError } from '../../core/profile/import.js';
import { FailureError } from '../../core/session/failure-error.js';
import { failure } from '../../core/session/failures.js';
import { MessageError } from '../../core/session/message-error.js';
import { FerryError } from '../../core/util/errors.js';
import { contract, IPC_EVENT_CHANNEL, IPC_INVOKE_PREFIX, type Channel, type FerryEvent } from '../../electron/contract.js';
import { broadcast, isTrustedSender, registerIpc, type InvokeEventLike } from '../../electron/ipc.js';
import type { Handlers } from '../../electron/contract-handlers.js';

type Listener = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

function fakeIpcMain() {
  const handlers = new Map<string, Listener>();
  return {
    handlers,
    handle: (channel: string, listener: Listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel: string) => void handlers.delete(channel),
  };
}

const WINDOW_ID = 7;
const ours = (url = 'app://ferry/index.html', id = WINDOW_ID, parent: unknown = null): InvokeEventLike => ({ sender: { id }, senderFrame: { url, parent } });

const snapshot = { profile: 'Office', state: 'CONNECTING' as const, since: '2026-01-01T00:00:00.000Z', stats: { bytesIn: 0, bytesOut: 0, rateIn: 0, rateOut: 0 } };
const tunnelState = { asOf: 3, tunnel: { id: 'office-1', rev: 3, owner: 'here' as const, snapshot } };

function setup(overrides: Partial<Record<Channel, (req: never) => Promise<unknown>>> = {}) {
  const ipcMain = fakeIpcMain();
  const calls: Array<{ channel: string; request: unknown }> = [];
  const spy = (channel: Channel, value: unknown) =>
    vi.fn(async (request: unknown) => {
      calls.push({ channel, request });
      return value;
    });
  const handlers = {
    listProfiles: spy('listProfiles', []),
    connect: spy('connect', tunnelState),
    disconnect: spy('disconnect', tunnelState),
    removeProfile: spy('removeProfile', { removed: 'Office' }),
    getSettings: spy('getSettings', { language: 'system', theme: 'system', startAtLogin: false }),
    ...overrides,
  } as unknown as Handlers;
  const log = vi.fn();
  const unregister = registerIpc({ ipcMain, handlers, windowIds: () => [WINDOW_ID], log });
  const invoke = (channel: Channel, event: InvokeEventLike, ...args: unknown[]) => ipcMain.handlers.get(IPC_INVOKE_PREFIX + channel)!(event, ...args);
  return { ipcMain, calls, invoke, log, unregister };
}

describe('registerIpc', () => {
  it('registers exactly one handler per contract channel, and removes them again', () => {
    const { ipcMain, unregister } = setup();
    expect([...ipcMain.handlers.keys()].sort()).toEqual(Object.keys(contract).map((c) => IPC_INVOKE_PREFIX + c).sort());
    unregister();
    expect(ipcMain.handlers.size).toBe(0);
  });

  it('answers a valid call from our window with ok and the value', async () => {
    const { invoke, calls } = setup();
    expect(await invoke('connect', ours(), { name: 'Office', password: 'pw' })).toEqual({ ok: true, value: tunnelState });
    expect(calls).toEqual([{ channel: 'connect', request: { name: 'Office', password: 'pw' } }]);
  });

  it.each([
    ['another webContents', ours('app://ferry/index.html', 99)],
    ['a page that navigated to the web', ours('https://evil.example/index.html')],
    ['a file:// page', ours('file:///home/me/ferry.html')],
    ['a look-alike origin', ours('app://ferry.evil/index.html')],
    ['another scheme with the same host', ours('http://ferry/index.html')],
    ['a subframe of our window', ours('app://ferry/index.html', WINDOW_ID, { url: 'app://ferry/' })],
    ['a frame that is gone', { sender: { id: WINDOW_ID }, senderFrame: null }],
    ['an unparsable URL', ours('not a url')],
  ])('refuses a message from %s without calling the handler', async (_what, event) => {
    const { invoke, calls, log } = setup();
    const result = await invoke('connect', event, { name: 'Office', password: 'Secret-In-Payload' });
    expect(result).toEqual({ ok: false, error: { message: 'refused: this page may not use Ferry' } });
    expect(calls).toEqual([]);
    expect(log).toHaveBeenCalledTimes(1);
    // The refusal log names the channel, never the payload (it may hold a password).
    expect(String(log.mock.calls[0]![0])).not.toContain('Secret-In-Payload');
  });

  it.each([
    ['a wrong type', [{ name: 42 }]],
    ['a missing field', [{}]],
    ['an over-long password', [{ name: 'Office', password: 'x'.repeat(2000) }]],
    ['no argument', []],
    ['two arguments', [{ name: 'Office' }, { name: 'Home' }]],
    ['a non-object', ['Office']],
  ])('refuses a payload with %s without calling the handler', async (_what, args) => {
    const { invoke, calls } = setup();
    const result = (await invoke('connect', ours(), ...args)) as { ok: boolean; error: { message: string } };
    expect(result.ok).toBe(false);
    expect(result.error.message).toMatch(/^invalid request for connect: /);
    expect(calls).toEqual([]);
  });

  it('refuses unknown keys where the contract says the request is empty', async () => {
    const { invoke, calls } = setup();
    expect(await invoke('listProfiles', ours(), { extra: true })).toMatchObject({ ok: false });
    expect(await invoke('listProfiles', ours(), {})).toEqual({ ok: true, value: [] });
    expect(calls).toHaveLength(1);
  });

  it('turns handler failures into Result errors; an import error keeps its file', async () => {
    const { invoke } = setup({
      connect: async () => {
        throw new FerryError('"Office" is already connected in another Ferry process (pid 12)');
      },
      disconnect: async () => {
        throw new ImportError('client.key does not belong to the certificate in client.crt', 'client.key');
      },
      listProfiles: async () => {
        throw new TypeError('boom\nstack line');
      },
    });
    expect(await invoke('connect', ours(), { name: 'Office' })).toEqual({ ok: false, error: { message: '"Office" is already connected in another Ferry process (pid 12)' } });
    expect(await invoke('disconnect', ours(), { name: 'Office' })).toEqual({
      ok: false,
      error: { message: 'client.key does not belong to the certificate in client.crt', file: 'client.key' },
    });
    expect(await invoke('listProfiles', ours(), {})).toEqual({ ok: false, error: { message: 'boom' } });
  });

  it('a refusal or failure by code crosses as its code, for the window to word in its language', async () => {
    const said = { code: 'running-in-other-process' as const, params: { profile: 'Office', state: 'CONNECTED', pid: 12 } };
    const { invoke } = setup({
      connect: async () => {
        throw new MessageError(said);
      },
      disconnect: async () => {
        throw new FailureError(failure('openvpn-missing', 'openvpn-missing'));
      },
    });
    expect(await invoke('connect', ours(), { name: 'Office' })).toEqual({ ok: false, error: { message: '"Office" is already connected in another Ferry process (pid 12)', said } });
    const missing = await invoke('disconnect', ours(), { name: 'Office' });
    expect(missing).toMatchObject({ ok: false, error: { message: expect.stringMatching(/^openvpn not found/), failure: { code: 'openvpn-missing', detail: 'openvpn-missing', params: {} } } });
  });

  it('holds answers to the contract: unknown fields are dropped, a malformed answer is an error', async () => {
    const { invoke } = setup({
      removeProfile: async () => ({ removed: 'Office', password: 'Leaked-Secret' }),
      getSettings: async () => ({ language: 'klingon' }),
    });
    expect(await invoke('removeProfile', ours(), { name: 'Office' })).toEqual({ ok: true, value: { removed: 'Office' } });
    const bad = (await invoke('getSettings', ours(), {})) as { ok: boolean; error: { message: string } };
    expect(bad).toMatchObject({ ok: false, error: { message: expect.stringMatching(/internal error/) } });
  });
});

describe('isTrustedSender / broadcast', () => {
  it('accepts only our window ids as they are at the time of the message', () => {
    let ids = [1];
    expect(isTrustedSender(ours('app://ferry/', 1), ids)).toBe(true);
    ids = [2];
    expect(isTrustedSender(ours('app://ferry/', 1), ids)).toBe(false);
  });

  it('sends events to live windows only', () => {
    const live = { isDestroyed: () => false, send: vi.fn() };
    const gone = { isDestroyed: () => true, send: vi.fn() };
    const event: FerryEvent = { type: 'profiles-changed' };
    broadcast([live, gone], event);
    expect(live.send).toHaveBeenCalledWith(IPC_EVENT_CHANNEL, event);
    expect(gone.send).not.toHaveBeenCalled();
  });
});
