/**
 * The preload: puts exactly the contract's functions and `onEvent` on `window.ferry`,
 * nothing else (no generic invoke, no ipcRenderer, no Node). It runs in the sandbox, so it
 * is bundled into one CommonJS file whose only require is 'electron'.
 *
 * Events that arrive before the page has subscribed (a file opened with Ferry while the
 * window was still loading) are held and handed to the first listener, so an import
 * started from the file manager is never lost to a race with React's first render.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { FerryApi, FerryEvent } from './contract.js';
import { CHANNELS, EVENT_CHANNEL, INVOKE_PREFIX } from './channels.js';

const MAX_HELD = 20;

export function buildApi(ipc: Pick<typeof ipcRenderer, 'invoke' | 'on' | 'removeListener'>): FerryApi {
  const listeners = new Set<(event: FerryEvent) => void>();
  let held: FerryEvent[] = [];
  ipc.on(EVENT_CHANNEL, (_event: IpcRendererEvent, payload: FerryEvent) => {
    // The IPC event object itself (with its sender) never reaches the page.
    if (listeners.size === 0) {
      if (payload.type === 'open-import' || payload.type === 'prompt') held = [...held.slice(-(MAX_HELD - 1)), payload];
      return;
    }
    for (const listener of listeners) listener(payload);
  });
  const api: Record<string, unknown> = {};
  for (const channel of CHANNELS) {
    api[channel] = (request: unknown) => ipc.invoke(INVOKE_PREFIX + channel, request);
  }
  api.onEvent = (listener: (event: FerryEvent) => void) => {
    if (typeof listener !== 'function') throw new TypeError('onEvent needs a function');
    listeners.add(listener);
    const pending = held;
    held = [];
    for (const event of pending) listener(event);
    return () => void listeners.delete(listener);
  };
  return Object.freeze(api) as FerryApi;
}

contextBridge.exposeInMainWorld('ferry', buildApi(ipcRenderer));
