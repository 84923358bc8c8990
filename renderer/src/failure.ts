/**
 * A session's failure in the window's language. The core sends it as data (code, detail,
 * params); the words are the locale files' `failure` (heading), `failureDetail`,
 * `failureNetwork` and `failureFrame`, the same templates core/session/failure-text.ts
 * fills for the CLI. Rendered at display time, so a language switch re-words what is shown.
 */
import type { TFunction } from 'i18next';
import type { SessionSnapshot } from './api';

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
