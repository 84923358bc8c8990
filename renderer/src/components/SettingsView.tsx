/** App settings: language (follow the OS by default), theme, start at login; and what this install is. */
import { useTranslation } from 'react-i18next';
import type { Settings } from '../api';
import { pickLanguage } from '../i18n';
import { saveSettings, useStore } from '../store';

const LANGUAGE_NAMES = { 'zh-CN': '简体中文', en: 'English' } as const;

export function SettingsView() {
  const { t } = useTranslation();
  const settings = useStore((s) => s.settings);
  const info = useStore((s) => s.appInfo);
  const system = pickLanguage(info.systemLanguage || navigator.language);
  const themes: Array<[Settings['theme'], string]> = [
    ['system', t('settings.themeSystem')],
    ['light', t('settings.themeLight')],
    ['dark', t('settings.themeDark')],
  ];
  return (
    <section className="pane" aria-labelledby="settings-title">
      <header className="pane-header">
        <div className="pane-heading">
          <h1 id="settings-title">{t('settings.title')}</h1>
        </div>
      </header>
      <div className="pane-body settings-body">
        <section className="card form-card" aria-labelledby="settings-appearance">
          <h2 id="settings-appearance" className="card-title">
            {t('settings.appearance')}
          </h2>
          <div className="setting-row">
            <label htmlFor="settings-language">{t('settings.language')}</label>
            <select id="settings-language" value={settings.language} onChange={(e) => void saveSettings({ language: e.target.value as Settings['language'] })}>
              <option value="system">{t('settings.languageSystem', { language: LANGUAGE_NAMES[system] })}</option>
              {/* Each language named in itself, so a person who cannot read the current one still finds theirs. */}
              <option value="zh-CN" lang="zh-CN">
                简体中文
              </option>
              <option value="en" lang="en">
                English
              </option>
            </select>
          </div>
          <div className="setting-row">
            <span id="settings-theme-label">{t('settings.theme')}</span>
            <div className="segmented" role="radiogroup" aria-labelledby="settings-theme-label">
              {themes.map(([value, label]) => (
                <label key={value} className={`segment${settings.theme === value ? ' is-checked' : ''}`}>
                  <input type="radio" name="theme" value={value} checked={settings.theme === value} onChange={() => void saveSettings({ theme: value })} />
                  {label}
                </label>
              ))}
            </div>
          </div>
        </section>

        <section className="card form-card" aria-labelledby="settings-startup">
          <h2 id="settings-startup" className="card-title">
            {t('settings.startup')}
          </h2>
          <label className="switch-row">
            <span>{t('settings.startAtLogin')}</span>
            <input type="checkbox" role="switch" className="switch" checked={settings.startAtLogin} onChange={(e) => void saveSettings({ startAtLogin: e.target.checked })} />
          </label>
        </section>

        <section className="card form-card" aria-labelledby="settings-about">
          <h2 id="settings-about" className="card-title">
            {t('settings.about')}
          </h2>
          <dl className="summary">
            <dt>{t('settings.version')}</dt>
            <dd>Ferry {info.version}</dd>
            <dt>{t('settings.platform')}</dt>
            <dd>{info.platform}</dd>
            <dt>{t('settings.engine')}</dt>
            <dd className={info.launcher === 'missing' ? 'text-error' : undefined}>{t(`settings.launcher_${info.launcher}`)}</dd>
          </dl>
        </section>
      </div>
    </section>
  );
}
