/**
 * i18next with both languages bundled: together they are a few KB, far less than the
 * round trip a lazily loaded locale would cost at start-up. "Follow the system" uses the
 * OS language main reports (appInfo.systemLanguage), else the browser's.
 */
import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import type { Settings } from './api';
import en from './locales/en';
import zhCN from './locales/zh-CN';

export type Language = 'zh-CN' | 'en';

/** Any Chinese locale (zh, zh-CN, zh-Hans-SG, zh-TW…) reads the Simplified Chinese strings; all else English. */
export function pickLanguage(tag: string | undefined): Language {
  return tag && /^zh\b/i.test(tag) ? 'zh-CN' : 'en';
}

export function resolveLanguage(setting: Settings['language'], systemLanguage: string | undefined): Language {
  return setting === 'system' ? pickLanguage(systemLanguage || navigator.language) : setting;
}

export function initI18n(language: Language): typeof i18next {
  void i18next.use(initReactI18next).init({
    resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
    lng: language,
    fallbackLng: 'en',
    // Resources are in memory: initialise synchronously so the first render is translated.
    initAsync: false,
    interpolation: { escapeValue: false }, // React escapes
  });
  document.documentElement.lang = language;
  return i18next;
}

export async function setLanguage(language: Language): Promise<void> {
  if (i18next.language !== language) await i18next.changeLanguage(language);
  document.documentElement.lang = language;
}
