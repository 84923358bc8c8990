/**
 * Failures in words: every code and detail has an English and a Chinese wording with the
 * same blanks; the window's locale files carry the same templates as the core's catalogue;
 * the terminal's language is read as POSIX orders it.
 */
import { describe, expect, it } from 'vitest';
import { CATALOGUES, EN, ZH_CN, failureHeading, failureText, terminalLanguage } from '../../core/session/failure-text.js';
import { FAILURE_CODES, FAILURE_DETAILS, NETWORK_ERRORS, classifyLogLine, failure } from '../../core/session/failures.js';
import { FailureSchema } from '../../core/session/snapshot.js';

/**
 * The renderer's locale files, loaded by path: they are type-checked by renderer/tsconfig.json
 * (bundler resolution), which this project's NodeNext check cannot follow into.
 */
const locale = async (name: string) => ((await import(`../../renderer/src/locales/${name}.ts`)) as { default: Record<string, unknown> }).default;
const en = await locale('en');
const zhCN = await locale('zh-CN');

const blanks = (template: string) => [...template.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
const HAN = /\p{Script=Han}/u;

describe('the failure catalogue', () => {
  it('words every code and every detail in both languages, with the same blanks', () => {
    for (const code of FAILURE_CODES) {
      expect(EN.heading[code], code).toBeTruthy();
      expect(ZH_CN.heading[code], code).toMatch(HAN);
    }
    for (const detail of FAILURE_DETAILS) {
      expect(EN.detail[detail], detail).toBeTruthy();
      expect(ZH_CN.detail[detail], detail).toMatch(HAN);
      expect(blanks(ZH_CN.detail[detail]), detail).toEqual(blanks(EN.detail[detail]));
    }
    for (const error of NETWORK_ERRORS) expect(ZH_CN.network[error]).toMatch(HAN);
    expect(Object.keys(EN.detail).sort()).toEqual([...FAILURE_DETAILS].sort());
    expect(Object.keys(ZH_CN.detail).sort()).toEqual([...FAILURE_DETAILS].sort());
  });

  it('the window words failures with the same templates (renderer/src/locales)', () => {
    for (const [language, locale] of [['en', en], ['zh-CN', zhCN]] as const) {
      const words = CATALOGUES[language];
      expect(locale.failure, language).toEqual(words.heading);
      expect(locale.failureDetail, language).toEqual(words.detail);
      expect(locale.failureNetwork, language).toEqual(words.network);
      expect(locale.failureFrame, language).toEqual(words.frame);
    }
  });

  it('fills params, words network errors, frames openvpn\'s line, repeats and the timeout', () => {
    const refused = classifyLogLine('TCP: connect to [AF_INET]198.18.1.1:1194 failed: Connection refused')!.failure;
    expect(FailureSchema.parse(refused)).toEqual(refused);
    const gaveUp = { ...refused, code: 'reconnect-timeout' as const, gaveUp: { seconds: 60, wasConnected: true } };
    expect(failureText(gaveUp, 'en')).toBe(
      'lost the connection and could not reconnect within 60 s: the gateway 198.18.1.1:1194 cannot be reached (connection refused): check the gateway address, that the gateway is running, and your network connection',
    );
    expect(failureText(gaveUp, 'zh-CN')).toBe('连接已断开，60 秒内未能重新连接：无法访问网关 198.18.1.1:1194（连接被拒绝）：请检查网关地址、网关是否在运行，以及您的网络连接');
    expect(failureHeading(gaveUp, 'zh-CN')).toBe('未能及时重连');

    const pushed = { ...classifyLogLine('OPTIONS ERROR: server pushed compression settings that are not allowed and will result in a non-working connection.')!.failure, repeated: 3 };
    expect(failureText(pushed, 'en')).toMatch(/^the gateway pushes compression .* — openvpn: "OPTIONS ERROR: server pushed compression settings .*" \(the same on 3 attempts in a row\)$/);
    expect(failureText(pushed, 'zh-CN')).toMatch(/^网关推送了压缩设置.*——openvpn：“OPTIONS ERROR: server pushed compression settings .*”（连续 3 次尝试均如此）$/);
  });

  it.each([
    ['unreachable', failure('unreachable', 'no-answer')],
    ['TLS', failure('tls', 'server-cert-wrong-ca')],
    ['certificate', failure('cert-expired', 'cert-expired-local', { date: '2026-01-01' })],
    ['password', failure('auth', 'auth-rejected-said', { said: 'wrong password' })],
    ['connection limit', failure('connection-limit', 'connection-limit', { said: 'connection limit reached (2 clients)' })],
    ['pool overlap', failure('pool-overlap', 'pool-overlap', { address: '198.18.7.7', network: '198.18.7.0/24', interface: 'eth0' })],
    ['openvpn missing', failure('openvpn-missing', 'openvpn-missing')],
    ['helper missing', failure('helper-missing', 'helper-not-running', { socket: '/run/ferry/helper.sock' })],
    ['reconnect timeout', { ...failure('reconnect-timeout', 'no-answer'), gaveUp: { seconds: 60, wasConnected: true } }],
  ])('%s: a Chinese heading over a Chinese explanation', (_name, f) => {
    expect(failureHeading(f, 'zh-CN')).toMatch(HAN);
    const text = failureText(f, 'zh-CN');
    expect(text).toMatch(HAN);
    // Only params and names (addresses, openvpn, ferry-helper, commands) stay in Latin letters.
    expect(text).not.toMatch(/\b(the|gateway|your|ask|check)\b/);
    expect(text).not.toMatch(/\{\{/);
    expect(failureText(f, 'en')).not.toMatch(HAN);
  });

  it('reads the terminal language as LC_ALL, then LC_MESSAGES, then LANG', () => {
    expect(terminalLanguage({ LANG: 'zh_CN.UTF-8' })).toBe('zh-CN');
    expect(terminalLanguage({ LANG: 'en_US.UTF-8' })).toBe('en');
    expect(terminalLanguage({ LANG: 'zh_TW.UTF-8' })).toBe('zh-CN');
    expect(terminalLanguage({ LC_ALL: 'en_US.UTF-8', LANG: 'zh_CN.UTF-8' })).toBe('en');
    expect(terminalLanguage({ LC_ALL: '', LC_MESSAGES: 'zh_CN.UTF-8', LANG: 'en_US.UTF-8' })).toBe('zh-CN');
    expect(terminalLanguage({ LANG: 'C.UTF-8' })).toBe('en');
    expect(terminalLanguage({})).toBe('en');
    expect(terminalLanguage({ LANG: 'zhx' })).toBe('en');
  });
});
