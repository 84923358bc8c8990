/**
 * The one router for the client's management messages (doc/management-notes.txt): every
 * real-time line openvpn sends becomes one typed EngineEvent, or nothing. Pure, so the
 * formats are unit-tested line by line; the session decides what each event means.
 */
import type { Notification } from '../management/connection.js';

export interface StaticChallengePrompt {
  echo: boolean;
  text: string;
}

/** A CRV1 dynamic challenge (management-notes "Challenge/response protocol"). */
export interface DynamicChallenge {
  stateId: string;
  username: string;
  echo: boolean;
  responseRequired: boolean;
  text: string;
}

export type EngineEvent =
  | { kind: 'state'; time: number; name: string; description: string; localIp?: string; remoteIp?: string; remotePort?: number }
  | { kind: 'bytecount'; bytesIn: number; bytesOut: number }
  | { kind: 'log'; time: number; flags: string; message: string }
  /** openvpn waits for `hold release`; `pauseSeconds` is how long it would have paused on its own. */
  | { kind: 'hold'; pauseSeconds: number }
  | { kind: 'fatal'; message: string }
  | { kind: 'need-auth'; staticChallenge?: StaticChallengePrompt }
  | { kind: 'need-private-key' }
  | { kind: 'need-other-password'; tag: string }
  | { kind: 'verification-failed'; tag: string; reason?: string; dynamicChallenge?: DynamicChallenge }
  /** The server sent an auth token; openvpn keeps it for reconnects. Its value stays out of events. */
  | { kind: 'auth-token' }
  /** Auth pending with a challenge text (`>INFOMSG:CR_TEXT:flags:text`), answered with `cr-response`. */
  | { kind: 'cr-text'; echo: boolean; responseRequired: boolean; text: string }
  | { kind: 'info'; message: string };

export function routeNotification(n: Notification): EngineEvent | undefined {
  switch (n.type) {
    case 'STATE':
      return parseState(n.body);
    case 'BYTECOUNT': {
      const [inText, outText] = n.body.split(',');
      const bytesIn = Number(inText);
      const bytesOut = Number(outText);
      return Number.isFinite(bytesIn) && Number.isFinite(bytesOut) ? { kind: 'bytecount', bytesIn, bytesOut } : undefined;
    }
    case 'LOG': {
      const first = n.body.indexOf(',');
      const second = n.body.indexOf(',', first + 1);
      if (first < 0 || second < 0) return undefined;
      return { kind: 'log', time: Number(n.body.slice(0, first)), flags: n.body.slice(first + 1, second), message: n.body.slice(second + 1) };
    }
    case 'HOLD':
      return { kind: 'hold', pauseSeconds: Number(/:(\d+)\s*$/.exec(n.body)?.[1] ?? 0) };
    case 'FATAL':
      return { kind: 'fatal', message: n.body };
    case 'PASSWORD':
      return parsePassword(n.body);
    case 'INFOMSG':
      return parseInfoMessage(n.body);
    case 'INFO':
      return { kind: 'info', message: n.body };
    default:
      return undefined;
  }
}

function parseState(body: string): EngineEvent | undefined {
  // time,STATE,description,local tun IP,remote IP,remote port,local IP,local port,tun IPv6
  const [time, name, description = '', localIp, remoteIp, remotePort] = body.split(',');
  if (!time || !name) return undefined;
  return {
    kind: 'state',
    time: Number(time),
    name,
    description,
    ...(localIp ? { localIp } : {}),
    ...(remoteIp ? { remoteIp } : {}),
    ...(remotePort && Number.isFinite(Number(remotePort)) ? { remotePort: Number(remotePort) } : {}),
  };
}

function parsePassword(body: string): EngineEvent | undefined {
  if (body.startsWith('Auth-Token:')) return { kind: 'auth-token' };
  const need = /^Need '([^']+)' (?:username\/password|password)(?: SC:(\d+),(.*))?$/.exec(body);
  if (need) {
    const tag = need[1]!;
    if (tag === 'Auth') {
      return need[2] !== undefined ? { kind: 'need-auth', staticChallenge: { echo: (Number(need[2]) & 1) === 1, text: need[3] ?? '' } } : { kind: 'need-auth' };
    }
    if (tag === 'Private Key') return { kind: 'need-private-key' };
    return { kind: 'need-other-password', tag };
  }
  const failed = /^Verification Failed: '([^']+)'(?: \['(.*)'\])?$/.exec(body);
  if (failed) {
    const tag = failed[1]!;
    const reason = failed[2];
    const dynamicChallenge = reason !== undefined ? parseCrv1(reason) : undefined;
    return { kind: 'verification-failed', tag, ...(reason !== undefined ? { reason } : {}), ...(dynamicChallenge ? { dynamicChallenge } : {}) };
  }
  return undefined;
}

/** `CRV1:<flags>:<state_id>:<base64 username>:<challenge text>`; flags: E = echo, R = response required. */
export function parseCrv1(reason: string): DynamicChallenge | undefined {
  const m = /^CRV1:([^:]*):([^:]*):([^:]*):(.*)$/s.exec(reason);
  if (!m) return undefined;
  const flags = m[1]!.split(',');
  return {
    stateId: m[2]!,
    username: Buffer.from(m[3]!, 'base64').toString('utf8'),
    echo: flags.includes('E'),
    responseRequired: flags.includes('R'),
    text: m[4]!,
  };
}

function parseInfoMessage(body: string): EngineEvent | undefined {
  const m = /^CR_TEXT:([^:]*):(.*)$/s.exec(body);
  if (!m) return undefined;
  const flags = m[1]!.split(',');
  return { kind: 'cr-text', echo: flags.includes('E'), responseRequired: flags.includes('R'), text: m[2]! };
}
