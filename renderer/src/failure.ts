/**
 * Failures, notices and refusals in the window's language. The core sends them as data
 * (code, detail, params); the words are the locale files' `failure` (heading),
 * `failureDetail`, `failureNetwork`, `failureFrame`, `message` and `messageState`, the same
 * templates core/session/failure-text.ts fills for the CLI. Rendered at display time, so
 * a language switch re-words what is shown (toasts included: they keep `Words`, not text).
 */
import type { TFunction } from 'i18next';
import type { Message, ResultError, SessionSnapshot } from './api';

export type Failure = NonNullable<SessionSnapshot['failure']>;

export function failureHeading(t: TFunction, failure: Pick<Failure, 'code'>): string {
  return t(`failure.${failure.code}`, { defaultValue: t('failure.title') });
}

export function failureText(t: TFunction, failure: Failure): string {
  const params: Record<string, string | number> = { ...failure.params };
  if (typeof params.error === 'string') params.error = t(`failureNetwork.${params.error}`, { defaultValue: params.error });
  let text = t(`failureDetail.${failure.detail}`, { ...params, defaultValue: failure.detail });
  if (typeof params.openvpn === 'string') text = t('failureFrame.openvpnSaid', { text, openvpn: params.openvpn });
  if (failure.repeated) text = t('failureFrame.repeated', { text, count: failure.repeated });
  if (failure.gaveUp) text = t(failure.gaveUp.wasConnected ? 'failureFrame.gaveUpReconnecting' : 'failureFrame.gaveUpConnecting', { text, seconds: failure.gaveUp.seconds });
  return text;
}

/** A notice or refusal (core/session/messages.ts); its `cause` fills the `{{cause}}` blank. */
export function messageText(t: TFunction, message: Message): string {
  const params: Record<string, string | number> = { ...message.params };
  if (typeof params.state === 'string') params.state = t(`messageState.${params.state}`, { defaultValue: params.state });
  const cause = message.cause;
  if (cause) params.cause = 'failure' in cause ? failureText(t, cause.failure) : 'message' in cause ? messageText(t, cause.message) : cause.text;
  return t(`message.${message.code}`, { ...params, defaultValue: message.code });
}

/** A call's error: by its code when the core gave one, else the main process's words. */
export function resultErrorText(t: TFunction, error: ResultError): string {
  if (error.said) return messageText(t, error.said);
  if (error.failure) return failureText(t, error.failure);
  return error.message;
}

/**
 * What a toast says, kept as data until it is shown: locale keys (joined by a space), a
 * message from the core, a call's error, or text from elsewhere (a clipboard error).
 */
export type Words = { keys: Array<{ key: string; params?: Record<string, string | number> }> } | { said: Message } | { error: ResultError } | { text: string };

export function wordsText(t: TFunction, words: Words): string {
  if ('keys' in words) return words.keys.map(({ key, params }) => t(key, params ?? {})).join(' ');
  if ('said' in words) return messageText(t, words.said);
  if ('error' in words) return resultErrorText(t, words.error);
  return words.text;
}

/** One locale key as Words. */
export const key = (k: string, params?: Record<string, string | number>): Words => ({ keys: [{ key: k, ...(params ? { params } : {}) }] });
