/**
 * The left column: brand, the profiles with their state at a glance, and the ways to
 * import and to settings. Each row has a select button (double-click connects, as in the
 * seed's client) and its own connect/disconnect button.
 */
import { useTranslation } from 'react-i18next';
import type { ProfileView } from '../api';
import { formatGateway } from '../format';
import { connect, disconnect, navigate, sessionOf, useStore } from '../store';
import { GearIcon, LogoIcon, PlusIcon, PowerIcon } from './Icons';
import { isActive, STATE_TONE } from './StateBadge';

export function Sidebar() {
  const { t } = useTranslation();
  const profiles = useStore((s) => s.profiles);
  const view = useStore((s) => s.view);
  return (
    <nav className="sidebar" aria-label={t('nav.main')}>
      <div className="brand">
        <LogoIcon />
        <div>
          <div className="brand-name">{t('app.name')}</div>
          <div className="brand-tagline">{t('app.tagline')}</div>
        </div>
      </div>
      <h2 className="sidebar-heading" id="profiles-heading">
        {t('nav.profiles')}
      </h2>
      {profiles.length === 0 ? <p className="sidebar-empty">{t('profiles.none')}</p> : null}
      <ul className="profile-list" aria-labelledby="profiles-heading">
        {profiles.map((p) => (
          <ProfileRow key={p.profile.id} view={p} selected={view.kind === 'profile' && view.name === p.profile.name} />
        ))}
      </ul>
      <div className="sidebar-footer">
        <button type="button" className={`nav-button${view.kind === 'import' ? ' is-current' : ''}`} aria-current={view.kind === 'import' ? 'page' : undefined} onClick={() => navigate({ kind: 'import' })}>
          <PlusIcon />
          {t('nav.import')}
        </button>
        <button type="button" className={`nav-button${view.kind === 'settings' ? ' is-current' : ''}`} aria-current={view.kind === 'settings' ? 'page' : undefined} onClick={() => navigate({ kind: 'settings' })}>
          <GearIcon />
          {t('nav.settings')}
        </button>
      </div>
    </nav>
  );
}

function ProfileRow({ view, selected }: { view: ProfileView; selected: boolean }) {
  const { t } = useTranslation();
  const name = view.profile.name;
  const state = useStore((s) => sessionOf(s, name)?.state ?? 'DISCONNECTED');
  const active = isActive(state);
  const toggle = () => void (active ? disconnect(name) : connect(name));
  return (
    <li className={`profile-row tone-${STATE_TONE[state]}${selected ? ' is-selected' : ''}`} data-profile={name}>
      <button
        type="button"
        className="profile-select"
        aria-current={selected ? 'true' : undefined}
        title={t('profiles.doubleClickHint')}
        onClick={() => navigate({ kind: 'profile', name, tab: 'status' })}
        onDoubleClick={() => {
          if (!active) void connect(name);
        }}
      >
        <span className="status-dot" aria-hidden="true" />
        <span className="profile-text">
          <span className="profile-name">{name}</span>
          <span className="profile-meta">
            <span className="visually-hidden">{t(`state.${state}`)}, </span>
            {state === 'DISCONNECTED' ? formatGateway(view.profile.remotes[0]) : t(`state.${state}`)}
          </span>
        </span>
      </button>
      <button type="button" className={`icon-button power${active ? ' is-on' : ''}`} aria-label={t(active ? 'actions.disconnectNamed' : 'actions.connectNamed', { name })} title={t(active ? 'actions.disconnect' : 'actions.connect')} onClick={toggle}>
        <PowerIcon />
      </button>
    </li>
  );
}
