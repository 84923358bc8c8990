// An in-page `window.ferry` for bench:ui: canned answers that resolve at once, so the
// benchmark measures the renderer's own cost (parse, i18n, first render) and not IPC.
// Plain browser JavaScript, served as a classic script before the app (no inline script:
// the page runs under the app's CSP).
(() => {
  'use strict';
  const now = Date.now();
  const iso = (ms) => new Date(ms).toISOString();
  const profile = (id, name, host, extra) => ({
    version: 1,
    id,
    name,
    remotes: [{ host, port: 1194, proto: 'tcp' }],
    username: 'alice',
    passwordRequired: true,
    otp: { kind: 'none', digits: 6, period: 30, algorithm: 'SHA1', counter: 0 },
    reconnectTimeoutSec: 60,
    autoConnect: false,
    minimizeOnConnect: false,
    keyEncrypted: false,
    files: ['ca.crt', 'client.crt', 'client.key'],
    engine: { dev: 'tun', remoteCertTls: 'server' },
    createdAt: iso(now - 86400000),
    ...extra,
  });
  const stats = { bytesIn: 5242880, bytesOut: 1048576, rateIn: 20480, rateOut: 4096, virtualIp: '198.18.100.2', server: '198.18.1.1:1194', connectedSince: iso(now - 754000), cipher: 'AES-256-GCM' };
  const views = [
    { profile: profile('vpc-2', 'vpc-2', '198.18.1.1'), savedPassword: true, savedOtpSecret: false, session: { profile: 'vpc-2', state: 'CONNECTED', since: iso(now - 754000), stats } },
    { profile: profile('office', 'office', '198.18.1.5'), savedPassword: false, savedOtpSecret: false },
  ];
  const ok = (value) => Promise.resolve({ ok: true, value });
  const settings = { language: 'system', theme: 'system', startAtLogin: false };
  const api = {
    listProfiles: () => ok(views),
    appInfo: () => ok({ version: '0.1.0', systemLanguage: navigator.language, platform: 'linux', launcher: 'direct' }),
    getSettings: () => ok(settings),
    setSettings: (patch) => ok(Object.assign(settings, patch)),
    certificates: () => ok([]),
    logs: () => ok([]),
    onEvent: () => () => {},
  };
  const missing = () => Promise.resolve({ ok: false, error: { message: 'not in the bench stub' } });
  for (const channel of ['previewImport', 'saveImport', 'updateProfile', 'removeProfile', 'connect', 'disconnect', 'answerPrompt', 'exportLogs']) api[channel] = missing;
  Object.defineProperty(window, 'ferry', { value: Object.freeze(api) });
})();
