/** The client's management router, line by line (formats from management-notes.txt and real openvpn 2.6 logs); failure reasons are in failures.test.ts. */
import { describe, expect, it } from 'vitest';
import { routeNotification } from '../../core/session/router.js';

const route = (line: string) => {
  const colon = line.indexOf(':');
  return routeNotification({ type: line.slice(1, colon), body: line.slice(colon + 1) });
};

describe('routeNotification', () => {
  it('parses state changes with addresses', () => {
    expect(route('>STATE:1795579355,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,198.18.1.2,45678')).toEqual({
      kind: 'state', time: 1795579355, name: 'CONNECTED', description: 'SUCCESS', localIp: '198.18.100.2', remoteIp: '198.18.1.1', remotePort: 1194,
    });
    expect(route('>STATE:1795579355,RECONNECTING,auth-failure,,,,,')).toEqual({ kind: 'state', time: 1795579355, name: 'RECONNECTING', description: 'auth-failure' });
  });

  it('reads how long openvpn would pause from its hold', () => {
    expect(route('>HOLD:Waiting for hold release:0')).toEqual({ kind: 'hold', pauseSeconds: 0 });
    expect(route('>HOLD:Waiting for hold release:8')).toEqual({ kind: 'hold', pauseSeconds: 8 });
    expect(route('>HOLD:Waiting for hold release')).toEqual({ kind: 'hold', pauseSeconds: 0 });
  });

  it('parses byte counts and refuses garbage', () => {
    expect(route('>BYTECOUNT:2395,2282')).toEqual({ kind: 'bytecount', bytesIn: 2395, bytesOut: 2282 });
    expect(route('>BYTECOUNT:lots,more')).toBeUndefined();
  });

  it('keeps commas inside log messages', () => {
    expect(route(">LOG:1795579355,I,PUSH: Received control message: 'PUSH_REPLY,route 198.18.2.0 255.255.255.0'")).toEqual({
      kind: 'log', time: 1795579355, flags: 'I', message: "PUSH: Received control message: 'PUSH_REPLY,route 198.18.2.0 255.255.255.0'",
    });
  });

  it('tells password queries apart, with the static challenge', () => {
    expect(route(">PASSWORD:Need 'Auth' username/password")).toEqual({ kind: 'need-auth' });
    expect(route(">PASSWORD:Need 'Auth' username/password SC:1,Enter your authenticator code")).toEqual({ kind: 'need-auth', staticChallenge: { echo: true, text: 'Enter your authenticator code' } });
    expect(route(">PASSWORD:Need 'Auth' username/password SC:0,PIN")).toEqual({ kind: 'need-auth', staticChallenge: { echo: false, text: 'PIN' } });
    expect(route(">PASSWORD:Need 'Private Key' password")).toEqual({ kind: 'need-private-key' });
    expect(route(">PASSWORD:Need 'HTTP Proxy' username/password")).toEqual({ kind: 'need-other-password', tag: 'HTTP Proxy' });
  });

  it('decodes a CRV1 dynamic challenge from a verification failure', () => {
    expect(route(">PASSWORD:Verification Failed: 'Auth' ['CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:YWxpY2U=:Enter the PIN: now']")).toEqual({
      kind: 'verification-failed',
      tag: 'Auth',
      reason: 'CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:YWxpY2U=:Enter the PIN: now',
      dynamicChallenge: { stateId: 'Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l', username: 'alice', echo: true, responseRequired: true, text: 'Enter the PIN: now' },
    });
    expect(route(">PASSWORD:Verification Failed: 'Auth'")).toEqual({ kind: 'verification-failed', tag: 'Auth' });
  });

  it('never carries the auth token itself', () => {
    expect(route('>PASSWORD:Auth-Token:SESS_ID_secret')).toEqual({ kind: 'auth-token' });
  });

  it('parses auth-pending challenge text', () => {
    expect(route('>INFOMSG:CR_TEXT:R,E:Enter OTP')).toEqual({ kind: 'cr-text', echo: true, responseRequired: true, text: 'Enter OTP' });
    expect(route('>INFOMSG:WEB_AUTH::https://example.invalid')).toBeUndefined();
  });

  it('ignores message types it does not know', () => {
    expect(route('>NEED-OK:Need \'token-insertion-request\' confirmation MSG:Please insert your token')).toBeUndefined();
  });
});
