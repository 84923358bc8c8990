/**
 * The few texts the main process shows itself (tray menu, tooltip, notifications), in
 * the app's two languages; the renderer has its own i18n. Same words as the renderer's
 * locale files, so the tray and the window agree.
 */
import type { Language } from '../core/session/failure-text.js';
import type { SessionState } from '../core/session/snapshot.js';
import type { Settings } from './contract.js';

export interface MainStrings {
  /** Which language these are: failure reasons are worded in it too (core/session/failure-text.ts). */
  language: Language;
  state: Record<SessionState, string>;
  connect: string;
  disconnect: string;
  open: string;
  quit: string;
  noProfiles: string;
  connected: (profile: string) => string;
  connectedBody: (address: string | undefined) => string;
  disconnected: (profile: string) => string;
  failed: (profile: string) => string;
}

const en: MainStrings = {
  language: 'en',
  state: { DISCONNECTED: 'Disconnected', CONNECTING: 'Connecting', AUTH: 'Authenticating', CONNECTED: 'Connected', RECONNECTING: 'Reconnecting', FAILED: 'Failed' },
  connect: 'Connect',
  disconnect: 'Disconnect',
  open: 'Open Ferry',
  quit: 'Quit Ferry',
  noProfiles: 'No profiles yet',
  connected: (p) => `${p} connected`,
  connectedBody: (a) => (a ? `VPN address ${a}` : 'The tunnel is up'),
  disconnected: (p) => `${p} disconnected`,
  failed: (p) => `${p}: connection failed`,
};

const zhCN: MainStrings = {
  language: 'zh-CN',
  state: { DISCONNECTED: '未连接', CONNECTING: '正在连接', AUTH: '正在认证', CONNECTED: '已连接', RECONNECTING: '正在重连', FAILED: '连接失败' },
  connect: '连接',
  disconnect: '断开',
  open: '打开 Ferry',
  quit: '退出 Ferry',
  noProfiles: '还没有连接配置',
  connected: (p) => `${p} 已连接`,
  connectedBody: (a) => (a ? `VPN 地址 ${a}` : '隧道已建立'),
  disconnected: (p) => `${p} 已断开`,
  failed: (p) => `${p}：连接失败`,
};

/** The setting wins; "system" follows the OS language (any Chinese → zh-CN, else English). */
export function stringsFor(language: Settings['language'], systemLanguage: string): MainStrings {
  const chosen = language === 'system' ? (/^zh\b/i.test(systemLanguage) ? 'zh-CN' : 'en') : language;
  return chosen === 'zh-CN' ? zhCN : en;
}
