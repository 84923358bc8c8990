/**
 * Turns the stream of session events into what the shell does about them: a notification
 * when a profile connects, disconnects or fails, and "minimize on connect". Kept apart
 * from Electron (the caller shows the notification and hides the window) so the rules —
 * announce a change once, not every byte count — are testable.
 */
import { failureText } from '../core/session/failure-text.js';
import type { SessionSnapshot, SessionState } from '../core/session/snapshot.js';
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

export class SessionWatch {
  private readonly last = new Map<string, SessionState>();

  /** `minimizeOnConnect` is the profile's setting (from the service). */
  onSnapshot(profile: string, snapshot: SessionSnapshot, strings: MainStrings, minimizeOnConnect: boolean): Reaction {
    const before = this.last.get(profile);
    const now = snapshot.state;
    this.last.set(profile, now);
    if (before === now) return {};
    if (now === 'CONNECTED') {
      // A reconnect that succeeded is not news worth a popup: the tunnel was up before.
      if (before === 'RECONNECTING') return {};
      return { notify: { title: strings.connected(profile), body: strings.connectedBody(snapshot.stats.virtualIp) }, minimize: minimizeOnConnect };
    }
    if (now === 'FAILED') return { notify: { title: strings.failed(profile), body: snapshot.failure ? failureText(snapshot.failure, strings.language) : '' } };
    if (now === 'DISCONNECTED' && before !== undefined && before !== 'FAILED') {
      return { notify: { title: strings.disconnected(profile), body: '' } };
    }
    return {};
  }

  forget(profile: string): void {
    this.last.delete(profile);
  }
}
