/**
 * The preload (electron/preload.ts) with `electron` mocked: window.ferry is exactly the
 * contract's functions plus onEvent, each invoking its own channel; the page never sees
 * the IPC event object; events sent before the page subscribed are not lost.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { contract, IPC_EVENT_CHANNEL, IPC_INVOKE_PREFIX, type FerryApi, type FerryEvent } from '../../electron/contract.js';
import { CHANNELS, EVENT_CHANNEL, INVOKE_PREFIX } from '../../electron/channels.js';

const electron = vi.hoisted(() => {
  const listeners = new Map<string, Array<(...args: unknown[]) => void>>();
  return {
    exposed: new Map<string, unknown>(),
    listeners,
    invoke: vi.fn(async (channel: string, request: unknown) => ({ ok: true, value: { channel, request } })),
    emit: (channel: string, ...args: unknown[]) => {
      for (const l of listeners.get(channel) ?? []) l(...args);
    },
  };
});

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => electron.exposed.set(key, api) },
  ipcRenderer: {
    invoke: electron.invoke,
    on: (channel: string, listener: (...args: unknown[]) => void) => electron.listeners.set(channel, [...(electron.listeners.get(channel) ?? []), listener]),
    removeListener: vi.fn(),
  },
}));

let api: FerryApi;
beforeAll(async () => {
  await import('../../electron/preload.js');
  api = electron.exposed.get('ferry') as FerryApi;
});

describe('preload', () => {
  it('exposes only window.ferry, with exactly the contract channels and onEvent', () => {
    expect([...electron.exposed.keys()]).toEqual(['ferry']);
    expect(Object.keys(api).sort()).toEqual([...Object.keys(contract), 'onEvent'].sort());
    expect(Object.isFrozen(api)).toBe(true);
    expect(Object.values(api).every((v) => typeof v === 'function')).toBe(true);
  });

  it('the channel list and wire names are the contract\'s', () => {
    expect([...CHANNELS].sort()).toEqual(Object.keys(contract).sort());
    expect(INVOKE_PREFIX).toBe(IPC_INVOKE_PREFIX);
    expect(EVENT_CHANNEL).toBe(IPC_EVENT_CHANNEL);
  });

  it('each function invokes its own channel with the request, nothing else', async () => {
    electron.invoke.mockClear();
    await api.connect({ name: 'Office', rememberPassword: true });
    await api.listProfiles({});
    expect(electron.invoke.mock.calls).toEqual([
      ['ferry:connect', { name: 'Office', rememberPassword: true }],
      ['ferry:listProfiles', {}],
    ]);
  });

  it('holds events until the page subscribes, then delivers them without the IPC event object', () => {
    const ipcEvent = { sender: { secret: 'the ipcRenderer itself' } };
    const early: FerryEvent = { type: 'open-import', files: [{ name: 'office.ovpn', base64: 'Y2xpZW50Cg==' }] };
    electron.emit(IPC_EVENT_CHANNEL, ipcEvent, early);
    electron.emit(IPC_EVENT_CHANNEL, ipcEvent, { type: 'profiles-changed' }); // stale by the time anyone looks: dropped
    const seen: unknown[][] = [];
    const off = api.onEvent((...args: unknown[]) => seen.push(args));
    expect(seen).toEqual([[early]]);
    electron.emit(IPC_EVENT_CHANNEL, ipcEvent, { type: 'settings', settings: { language: 'en', theme: 'dark', startAtLogin: false } });
    expect(seen).toHaveLength(2);
    expect(seen[1]).toEqual([{ type: 'settings', settings: { language: 'en', theme: 'dark', startAtLogin: false } }]);
    off();
    electron.emit(IPC_EVENT_CHANNEL, ipcEvent, { type: 'profiles-changed' });
    expect(seen).toHaveLength(2);
  });
});
