/** One profile: header with its state and the main action, then Status / Log / Settings tabs. */
import { useRef, type KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { formatGateway } from '../format';
import { connect, disconnect, navigate, sessionOf, useStore } from '../store';
import { LogView } from './LogView';
import { ProfileEditor } from './ProfileEditor';
import { StatusPanel } from './StatusPanel';
import { isActive, StateBadge } from './StateBadge';
import { PowerIcon } from './Icons';

const TABS = ['status', 'log', 'edit'] as const;
type Tab = (typeof TABS)[number];

export function ProfilePane({ name, tab }: { name: string; tab: Tab }) {
  const { t } = useTranslation();
  const view = useStore((s) => s.profiles.find((p) => p.profile.name === name));
  const state = useStore((s) => sessionOf(s, name)?.state ?? 'DISCONNECTED');
  const tabRefs = useRef<Array<HTMLButtonElement | null>>([]);
  if (!view) return null;
  const active = isActive(state);

  // Arrow keys move between tabs (WAI-ARIA tabs pattern); Tab goes on into the panel.
  function onTabKey(event: KeyboardEvent) {
    const index = TABS.indexOf(tab);
    const next = event.key === 'ArrowRight' ? (index + 1) % TABS.length : event.key === 'ArrowLeft' ? (index + TABS.length - 1) % TABS.length : event.key === 'Home' ? 0 : event.key === 'End' ? TABS.length - 1 : -1;
    if (next < 0) return;
    event.preventDefault();
    navigate({ kind: 'profile', name, tab: TABS[next]! });
    tabRefs.current[next]?.focus();
  }

  return (
    <section className="pane" aria-labelledby="pane-title">
      <header className="pane-header">
        <div className="pane-heading">
          <h1 id="pane-title">{name}</h1>
          <div className="pane-subtitle">
            <StateBadge state={state} />
            <span className="muted">
              {formatGateway(view.profile.remotes[0])}
              {view.profile.username ? ` · ${view.profile.username}` : ''}
            </span>
          </div>
        </div>
        <button type="button" className={`button ${active ? 'button-secondary' : 'button-primary'} button-large`} onClick={() => void (active ? disconnect(name) : connect(name))}>
          <PowerIcon />
          {t(active ? 'actions.disconnect' : 'actions.connect')}
        </button>
      </header>
      <div className="tabs" role="tablist" aria-label={t('tabs.label')} onKeyDown={onTabKey}>
        {TABS.map((id, i) => (
          <button
            key={id}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${id}`}
            aria-selected={tab === id}
            aria-controls={`panel-${id}`}
            tabIndex={tab === id ? 0 : -1}
            className="tab"
            onClick={() => navigate({ kind: 'profile', name, tab: id })}
          >
            {t(`tabs.${id}`)}
          </button>
        ))}
      </div>
      <div className="pane-body" role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === 'status' ? <StatusPanel view={view} /> : tab === 'log' ? <LogView name={name} /> : <ProfileEditor key={view.profile.id} view={view} />}
      </div>
    </section>
  );
}
