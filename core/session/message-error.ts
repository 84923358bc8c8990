/**
 * A notice-catalogue message carried by an exception (messages.ts), as failure-error.ts
 * carries a failure: for refusals of the core's operations (remove while connected, a
 * name taken…). The app sends `said` over IPC (electron/ipc.ts) for the window to word;
 * the CLI prints `localized()`; `message` is the English wording, for logs.
 */
import { FerryError } from '../util/errors.js';
import { messageText, terminalLanguage } from './failure-text.js';
import { message, type Message, type MessageCode, type MessageParams } from './messages.js';

export class MessageError extends FerryError {
  constructor(
    readonly said: Message,
    exitCode: 1 | 2 = 1,
  ) {
    super(messageText(said, 'en'), exitCode);
    this.name = 'MessageError';
  }

  override localized(): string {
    return messageText(this.said, terminalLanguage());
  }
}

/** A refusal by code: bad input (exit code 2) unless said otherwise. */
export const refusal = (code: MessageCode, params: MessageParams = {}, exitCode: 1 | 2 = 2): MessageError => new MessageError(message(code, params), exitCode);
