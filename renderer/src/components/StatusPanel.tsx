/** The tunnel at a glance: banners for what needs attention, then figures and the rate graph. */
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { ProfileView, SessionSnapshot } from '../api';
import { failureHeading, failureText } from '../failure';
import { formatBytes, formatDuration, formatGateway, formatRate, formatTime } from '../format';
import { useNow } from '../hooks';
import { connect, idOf, navigate, sessionOf, useStore, type RatePoint } from '../store';
import { AlertIcon, ClockIcon, DownloadIcon, ShieldIcon, UploadIcon } from './Icons';
import { RateGraph } from './RateGraph';
import { StateBadge } from './StateBadge';

const EMPTY_RATES: RatePoint[] = [];

export function StatusPanel({ view }: { view: ProfileView }) {
  const { t } = useTranslation();
  const name = view.profile.name;
  const session = useStore((s) => sessionOf(s, name));
  const rates = useStore((s) => s.rates[idOf(s, name) ?? ''] ?? EMPTY_RATES);
  const state = session?.state ?? 'DISCONNECTED';
  const ticking = state === 'CONNECTED' || state === 'RECONNECTING' || state === 'CONNECTING' || state === 'AUTH';
  const now = useNow(ticking);
  const stats = session?.stats;
  const up = state === 'CONNECTED' || state === 'RECONNECTING';
  const none = t('status.none');
  const since = stats?.connectedSince ? Date.parse(stats.connectedSince) : undefined;

  return (
    <div className="status">
      {state === 'FAILED' && session?.failure ? <FailureBanner name={name} session={session} /> : null}
      {state === 'RECONNECTING' ? <ReconnectBanner session={session!} timeoutSec={view.profile.reconnectTimeoutSec} now={now} /> : null}
      {state === 'CONNECTING' || state === 'AUTH' ? (
        <div className="banner banner-info" role="status">
          <span className="spinner" aria-hidden="true" />
          <div className="banner-text">
            <strong>{t(`state.${state}`)}</strong>
            <span>{t('status.connecting', { gateway: formatGateway(view.profile.remotes[0]) })}</span>
          </div>
        </div>
      ) : null}

      <div className="stat-grid">
        <Stat label={t('status.state')} value={<StateBadge state={state} compact />} testId="stat-state" />
        <Stat label={t('status.virtualIp')} value={up && stats?.virtualIp ? stats.virtualIp : none} mono testId="stat-virtual-ip" />
        <Stat label={t('status.server')} value={up && stats?.server ? stats.server : none} mono testId="stat-server" />
        <Stat
          label={t('status.duration')}
          value={up && since !== undefined ? formatDuration((now - since) / 1000) : none}
          hint={up && stats?.connectedSince ? t('status.since', { time: formatTime(stats.connectedSince) }) : undefined}
          mono
          testId="stat-duration"
        />
        <Stat label={t('status.received')} icon={<DownloadIcon />} value={formatBytes(stats?.bytesIn ?? 0)} raw={stats?.bytesIn ?? 0} hint={up ? formatRate(stats?.rateIn ?? 0) : undefined} mono testId="stat-bytes-in" />
        <Stat label={t('status.sent')} icon={<UploadIcon />} value={formatBytes(stats?.bytesOut ?? 0)} raw={stats?.bytesOut ?? 0} hint={up ? formatRate(stats?.rateOut ?? 0) : undefined} mono testId="stat-bytes-out" />
        <Stat label={t('status.cipher')} icon={<ShieldIcon />} value={up && stats?.cipher ? stats.cipher : none} mono testId="stat-cipher" wide />
      </div>

      <section className="card graph-card" aria-labelledby="traffic-heading">
        <div className="card-header">
          <h2 id="traffic-heading">{t('status.traffic')}</h2>
          <div className="legend">
            <span className="legend-item legend-in">
              {t('status.rateIn')} <strong>{formatRate(up ? (stats?.rateIn ?? 0) : 0)}</strong>
            </span>
            <span className="legend-item legend-out">
              {t('status.rateOut')} <strong>{formatRate(up ? (stats?.rateOut ?? 0) : 0)}</strong>
            </span>
          </div>
        </div>
        <RateGraph points={up ? rates : EMPTY_RATES} empty={up ? undefined : t('status.idleHint')} />
      </section>
    </div>
  );
}

/** `raw`: the exact figure behind a rounded display, for tests and tools reading the page. */
function Stat(props: { label: string; value: ReactNode; raw?: number; hint?: string | undefined; icon?: ReactNode; mono?: boolean; testId: string; wide?: boolean }) {
  return (
    <div className={`stat${props.wide ? ' stat-wide' : ''}`} data-testid={props.testId} data-value={props.raw}>
      <div className="stat-label">
        {props.icon}
        {props.label}
      </div>
      <div className={`stat-value${props.mono ? ' mono' : ''}`}>{props.value}</div>
      {props.hint ? <div className="stat-hint">{props.hint}</div> : null}
    </div>
  );
}

function FailureBanner({ name, session }: { name: string; session: SessionSnapshot }) {
  const { t } = useTranslation();
  const failure = session.failure!;
  return (
    <div className="banner banner-error" role="alert" data-testid="failure-banner">
      <AlertIcon className="banner-icon" width={22} height={22} />
      <div className="banner-text">
        <strong>{failureHeading(t, failure)}</strong>
        <span data-testid="failure-reason">{sentence(failureText(t, failure))}</span>
      </div>
      <div className="banner-actions">
        <button type="button" className="button button-secondary" onClick={() => navigate({ kind: 'profile', name, tab: 'log' })}>
          {t('actions.viewLog')}
        </button>
        <button type="button" className="button button-primary" onClick={() => void connect(name)}>
          {t('actions.retry')}
        </button>
      </div>
    </div>
  );
}

function ReconnectBanner({ session, timeoutSec, now }: { session: SessionSnapshot; timeoutSec: number; now: number }) {
  const { t } = useTranslation();
  // The snapshot's deadline when it has one; the RECONNECTING event itself may come just
  // before the core arms it, and the core gives up `timeoutSec` after entering the state.
  const deadline = session.deadline ? Date.parse(session.deadline) : Date.parse(session.since) + timeoutSec * 1000;
  // `now` ticks once a second and may predate the event: never show more than the timeout.
  const left = Number.isNaN(deadline) ? undefined : Math.min(timeoutSec, Math.max(0, (deadline - Math.max(now, Date.now())) / 1000));
  return (
    <div className="banner banner-warn" role="status" data-testid="reconnect-banner">
      <ClockIcon className="banner-icon" width={22} height={22} />
      <div className="banner-text">
        <strong>{t('status.reconnecting')}</strong>
        {left !== undefined ? <span>{t('status.reconnectCountdown', { time: formatDuration(Math.ceil(left)) })}</span> : null}
      </div>
    </div>
  );
}

/** Reasons are worded as clauses ("the gateway rejected …"); a banner shows a sentence. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
