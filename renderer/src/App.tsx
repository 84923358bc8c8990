/** The window: sidebar + one pane, the login dialog on top, toasts in the corner. */
import { useEffect, useLayoutEffect } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState } from './components/EmptyState';
import { ImportView } from './components/ImportView';
import { PromptHost } from './components/LoginDialog';
import { Notices } from './components/Notices';
import { ProfilePane } from './components/ProfilePane';
import { SettingsView } from './components/SettingsView';
import { Sidebar } from './components/Sidebar';
import { AlertIcon } from './components/Icons';
import { applyTheme } from './theme';
import { resolveLanguage, setLanguage } from './i18n';
import { useStore } from './store';

/** Set when the first real screen (with data) has committed; bench/ui.ts reads it. */
export const FIRST_RENDER_MARK = 'ferry:first-render';

export function App() {
  const { t } = useTranslation();
  const view = useStore((s) => s.view);
  const settings = useStore((s) => s.settings);
  const info = useStore((s) => s.appInfo);

  useLayoutEffect(() => {
    performance.mark(FIRST_RENDER_MARK);
  }, []);

  useEffect(() => {
    void setLanguage(resolveLanguage(settings.language, info.systemLanguage));
  }, [settings.language, info.systemLanguage]);

  useEffect(() => applyTheme(settings.theme), [settings.theme]);

  return (
    <>
      <div id="app" className="app">
        <Sidebar />
        <main className="main">
          {info.launcher === 'missing' ? (
            <div className="banner banner-error helper-banner" role="alert">
              <AlertIcon className="banner-icon" />
              <span className="banner-text">{t('helperMissing')}</span>
            </div>
          ) : null}
          {view.kind === 'profile' ? <ProfilePane key={view.name} name={view.name} tab={view.tab} /> : view.kind === 'import' ? <ImportView /> : view.kind === 'settings' ? <SettingsView /> : <EmptyState />}
        </main>
      </div>
      <PromptHost />
      <Notices />
    </>
  );
}
