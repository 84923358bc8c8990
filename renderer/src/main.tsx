/**
 * Start-up: ask main for settings, app info and profiles in parallel, pick the language,
 * then render once with real data — no flash of an empty or untranslated window.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { initI18n, pickLanguage, resolveLanguage } from './i18n';
import { bootstrap } from './store';
import { applyTheme } from './theme';
import './styles.css';

const root = createRoot(document.getElementById('root')!);

bootstrap().then(
  (state) => {
    applyTheme(state.settings.theme);
    initI18n(resolveLanguage(state.settings.language, state.appInfo.systemLanguage));
    root.render(
      <StrictMode>
        <App />
      </StrictMode>,
    );
  },
  (err: unknown) => {
    // Without main there are no settings: say so in the browser's language.
    const i18n = initI18n(pickLanguage(navigator.language));
    root.render(
      <p className="fatal" role="alert">
        {i18n.t('app.bridgeDown', { message: err instanceof Error ? err.message : String(err) })}
      </p>,
    );
  },
);
