/**
 * The one IPC wrapper: every contract channel is registered here and nowhere else, and
 * every message goes through the same three gates before a handler sees it:
 *
 *   1. the sender: a frame of one of our own windows, showing a page of our own origin
 *      (app://ferry/) — a page that navigated elsewhere, a subframe or another
 *      webContents gets nothing;
 *   2. the payload: parsed with the channel's zod schema (unknown keys dropped);
 *   3. the answer: always a Result; nothing is thrown across the boundary, and the
 *      response is parsed with its schema too, so no field the contract does not name
 *      can slip out to the renderer.
 *
 * `ipcMain` is injected, so this runs under unit tests without Electron.
 */
import { z } from 'zod';
import { ImportError } from '../core/profile/import.js';
import { FailureError } from '../core/session/failure-error.js';
import { MessageError } from '../core/session/message-error.js';
import { describeError } from '../core/util/errors.js';
import { describeSchemaError } from '../core/util/schema-error.js';
import { contract, IPC_EVENT_CHANNEL, IPC_INVOKE_PREFIX, type Channel, type FerryEvent, type Result, type ResultError } from './contract.js';
import type { Handlers } from './contract-handlers.js';
import { APP_HOST, APP_SCHEME } from './window.js';

/** The parts of Electron's IpcMainInvokeEvent this wrapper reads. */
export interface InvokeEventLike {
  sender: { id: number };
  senderFrame: { url: string; parent: unknown } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

export interface IpcOptions {
  ipcMain: IpcMainLike;
  handlers: Handlers;
  /** The webContents ids of our windows, asked on every message (windows come and go). */
  windowIds: () => Iterable<number>;
  /** Where refusals and handler crashes are reported (never the payload: it may hold a password). */
  log?: (line: string) => void;
}

/** True for a top-level frame of one of our windows, showing app://ferry/… */
export function isTrustedSender(event: InvokeEventLike, windowIds: Iterable<number>): boolean {
  const frame = event.senderFrame;
  if (!frame || frame.parent) return false;
  if (![...windowIds].includes(event.sender.id)) return false;
  let url: URL;
  try {
    url = new URL(frame.url);
  } catch {
    return false;
  }
  return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
}

/** Turns any failure into the Result's error: the message a person can act on, and the file it concerns. */
export function toResultError(err: unknown): { ok: false; error: ResultError } {
  const file = err instanceof ImportError && err.file !== undefined ? { file: err.file } : {};
  // Coded: the window words it in its language, and again after a switch.
  if (err instanceof MessageError) return { ok: false, error: { message: err.message, said: err.said } };
  if (err instanceof FailureError) return { ok: false, error: { message: err.message, failure: err.failure } };
  if (err instanceof z.ZodError) {
    // A value the core's own schemas refused: its first issue is the readable part.
    return { ok: false, error: { message: describeSchemaError(err, undefined, { whole: 'value' }) } };
  }
  return { ok: false, error: { message: describeError(err), ...file } };
}

/** Registers every channel; returns a function that removes them again. */
export function registerIpc(opts: IpcOptions): () => void {
  const log = opts.log ?? ((line: string) => console.error(`ferry: ${line}`));
  const channels = Object.keys(contract) as Channel[];
  for (const channel of channels) {
    opts.ipcMain.handle(IPC_INVOKE_PREFIX + channel, (event, ...args) => invoke(channel, event, args));
  }

  async function invoke<C extends Channel>(channel: C, event: InvokeEventLike, args: unknown[]): Promise<Result<unknown>> {
    if (!isTrustedSender(event, opts.windowIds())) {
      log(`refused ${channel}: the message did not come from a Ferry window (${event.senderFrame?.url ?? 'no frame'})`);
      return { ok: false, error: { message: 'refused: this page may not use Ferry' } };
    }
    const spec = contract[channel];
    const parsed = args.length === 1 ? spec.request.safeParse(args[0]) : undefined;
    if (!parsed?.success) {
      const where = parsed ? describeSchemaError(parsed.error, undefined, { whole: 'request' }) : `expected one argument, got ${args.length}`;
      log(`refused ${channel}: invalid request (${where})`);
      return { ok: false, error: { message: `invalid request for ${channel}: ${where}` } };
    }
    let value: unknown;
    try {
      const handler = opts.handlers[channel] as (request: unknown) => Promise<unknown>;
      value = await handler(parsed.data);
    } catch (err) {
      return toResultError(err);
    }
    const checked = spec.response.safeParse(value);
    if (!checked.success) {
      log(`${channel} produced an answer outside the contract: ${describeSchemaError(checked.error, undefined, { whole: 'answer' })}`);
      return { ok: false, error: { message: `Ferry could not answer ${channel} (internal error); see the log` } };
    }
    return { ok: true, value: checked.data };
  }

  return () => {
    for (const channel of channels) opts.ipcMain.removeHandler(IPC_INVOKE_PREFIX + channel);
  };
}

export interface EventTarget {
  isDestroyed(): boolean;
  send(channel: string, event: FerryEvent): void;
}

/** Sends a service event to every live window. */
export function broadcast(targets: Iterable<EventTarget>, event: FerryEvent): void {
  for (const target of targets) if (!target.isDestroyed()) target.send(IPC_EVENT_CHANNEL, event);
}
