/**
 * Failures, notices and refusals in words: every code and detail has an English and a
 * Chinese wording with the same blanks; the window's locale files carry the same templates
 * as the core's catalogue; the terminal's language is read as POSIX orders it.
 */
import { describe, expect, it } from 'vitest';
import { CATALOGUES, EN, ZH_CN, failureHeading, failureText, messageText, terminalLanguage } from '../../core/session/failure-text.js';
import { FAILURE_CODES, FAILURE_DETAILS, NETWORK_ERRORS, classifyLogLine, failure } from '../../core/session/failures.js';
import { MessageError, refusal } from '../../core/session/message-error.js';
import { MESSAGE_CODES, MessageSchema, message } from '../../core/session/messages.js';
import { FailureSchema, SessionStateSchema } from '../../core/session/snapshot.js';

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
      expect(locale.message, language).toEqual(words.message);
      expect(locale.messageState, language).toEqual(words.state);
    }
  });

  it('tells macOS users to reinstall Ferry\'s package, not Homebrew: the macOS helper runs only an openvpn root alone can change', () => {
    // native/helper/darwin.ts binaryRefusal refuses /opt/homebrew; the pkg installs the one it runs.
    const missing = failure('openvpn-missing', 'openvpn-missing');
    expect(failureText(missing, 'en')).toMatch(/macOS: reinstall the Ferry package, which carries the openvpn/);
    expect(failureText(missing, 'zh-CN')).toMatch(/macOS：重新安装 Ferry 的安装包，其中带有助手所运行的 openvpn/);
    for (const language of ['en', 'zh-CN'] as const) expect(failureText(missing, language), language).not.toMatch(/brew/);
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

  it('words every notice and refusal in both languages, with the same blanks', () => {
    for (const code of MESSAGE_CODES) {
      expect(EN.message[code], code).toBeTruthy();
      expect(EN.message[code], code).not.toMatch(HAN);
      expect(ZH_CN.message[code], code).toMatch(HAN);
      expect(blanks(ZH_CN.message[code]), code).toEqual(blanks(EN.message[code]));
    }
    expect(Object.keys(EN.message).sort()).toEqual([...MESSAGE_CODES].sort());
    expect(Object.keys(ZH_CN.message).sort()).toEqual([...MESSAGE_CODES].sort());
    for (const state of SessionStateSchema.options) {
      expect(EN.state[state], state).toBeTruthy();
      expect(ZH_CN.state[state], state).toMatch(HAN);
    }
  });

  it('words notices with their params; what the gateway or openvpn said stays verbatim', () => {
    const asks = message('gateway-asks', { text: 'Enter the PIN sent to your phone' });
    expect(MessageSchema.parse(asks)).toEqual(asks);
    expect(messageText(asks, 'en')).toBe('the gateway asks: Enter the PIN sent to your phone');
    expect(messageText(asks, 'zh-CN')).toBe('网关询问：Enter the PIN sent to your phone');
    const restart = message('engine-restarting-killed', { signal: 'SIGKILL' });
    expect(messageText(restart, 'en')).toBe('openvpn stopped unexpectedly (killed by SIGKILL); restarting it');
    expect(messageText(restart, 'zh-CN')).toBe('openvpn 意外停止（被 SIGKILL 终止），正在重新启动');
  });

  it('words a tunnel state param, and a cause (a refusal, a failure, plain text) into {{cause}}', () => {
    const busy = message('remove-while-running-other', { profile: 'Office', state: 'CONNECTED', pid: 4242 });
    expect(messageText(busy, 'en')).toBe('"Office" is connected in another Ferry process (pid 4242); disconnect it first');
    expect(messageText(busy, 'zh-CN')).toBe('“Office”在另一个 Ferry 进程（pid 4242）中已连接；请先断开连接');
    const byRefusal = message('auto-connect-failed', {}, { message: message('running-in-other-process', { profile: 'Office', state: 'RECONNECTING', pid: 7 }) });
    expect(MessageSchema.parse(byRefusal)).toEqual(byRefusal);
    expect(messageText(byRefusal, 'en')).toBe('auto-connect failed: "Office" is already reconnecting in another Ferry process (pid 7)');
    expect(messageText(byRefusal, 'zh-CN')).toBe('自动连接失败：“Office”已在另一个 Ferry 进程（pid 7）中正在重连');
    const byFailure = message('auto-connect-failed', {}, { failure: failure('openvpn-missing', 'openvpn-missing') });
    expect(messageText(byFailure, 'zh-CN')).toMatch(/^自动连接失败：找不到 openvpn/);
    expect(messageText(message('auto-connect-failed', {}, { text: 'disk full' }), 'zh-CN')).toBe('自动连接失败：disk full');
  });

  it('a refusal thrown by the core: English for logs, the terminal\'s language for the CLI', () => {
    const err = refusal('profile-name-taken', { name: 'Office' });
    expect(err).toBeInstanceOf(MessageError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('a profile named "Office" already exists');
    const lang = process.env.LC_ALL;
    try {
      process.env.LC_ALL = 'zh_CN.UTF-8';
      expect(err.localized()).toBe('名为“Office”的配置已存在');
      process.env.LC_ALL = 'en_US.UTF-8';
      expect(err.localized()).toBe(err.message);
    } finally {
      if (lang === undefined) delete process.env.LC_ALL;
      else process.env.LC_ALL = lang;
    }
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
