/** The session state as a coloured badge: colour for a glance, text for everyone. */
import { useTranslation } from 'react-i18next';
import type { SessionState } from '../api';

export const STATE_TONE: Record<SessionState, 'off' | 'busy' | 'on' | 'warn' | 'error'> = {
  DISCONNECTED: 'off',
  CONNECTING: 'busy',
  AUTH: 'busy',
  CONNECTED: 'on',
  RECONNECTING: 'warn',
  FAILED: 'error',
};

export function StateBadge({ state, compact }: { state: SessionState; compact?: boolean }) {
  const { t } = useTranslation();
  return (
    <span className={`badge badge-${STATE_TONE[state]}${compact ? ' badge-compact' : ''}`} data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {t(`state.${state}`)}
    </span>
  );
}

export function isActive(state: SessionState): boolean {
  return state === 'CONNECTING' || state === 'AUTH' || state === 'CONNECTED' || state === 'RECONNECTING';
}
