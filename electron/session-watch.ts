/**
 * What the shell does about one registry change: a notification when a profile connects,
 * disconnects or fails, and "minimize on connect". The registry hands over `before` and
 * `after`, so this keeps no memory of its own; kept apart from Electron (the caller shows
 * the notification and hides the window) so the rules — announce a change once, not
 * every byte count — are testable.
 */
import { failureText } from '../core/session/failure-text.js';
import type { Tunnel } from '../core/session/registry.js';
import type { SessionState } from '../core/session/snapshot.js';
import type { MainStrings } from './strings.js';

export interface Notice {
  title: string;
  body: string;
}

export interface Reaction {
  notify?: Notice;
  /** The profile asked to minimize once connected. */
  minimize?: boolean;
}

/** The state a tunnel shows: none, or a helper-kept one nobody reports on, is not a state change to announce. */
const stateOf = (tunnel: Tunnel | undefined): SessionState | undefined => tunnel?.snapshot?.state;

/** `name` and `minimizeOnConnect` are the profile's, as stored now (a rename shows at once). */
export function reactionTo(before: Tunnel | undefined, after: Tunnel | undefined, name: string, strings: MainStrings, minimizeOnConnect: boolean): Reaction {
  const was = stateOf(before);
  const now = stateOf(after);
  if (was === now) return {};
  if (now === 'CONNECTED') {
    // A reconnect that succeeded is not news worth a popup: the tunnel was up before.
    if (was === 'RECONNECTING') return {};
    return { notify: { title: strings.connected(name), body: strings.connectedBody(after?.snapshot?.stats.virtualIp) }, minimize: minimizeOnConnect };
  }
  if (now === 'FAILED') {
    const failure = after?.snapshot?.failure;
    return { notify: { title: strings.failed(name), body: failure ? failureText(failure, strings.language) : '' } };
  }
  // Ended (DISCONNECTED), or gone with no last word (another process was killed).
  if ((now === 'DISCONNECTED' || now === undefined) && was !== undefined && was !== 'FAILED' && was !== 'DISCONNECTED') {
    return { notify: { title: strings.disconnected(name), body: '' } };
  }
  return {};
}
