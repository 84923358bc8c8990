/** How `ferry connect` and `ferry status` print states and sizes for people. */
import { formatHostPort } from '../profile/host-port.js';
import type { Remote } from '../profile/schema.js';
import { failureText, type Language } from '../session/failure-text.js';
import type { SessionSnapshot } from '../session/snapshot.js';

/** `language`: the failure's words (the terminal's language, failure-text.ts terminalLanguage). */
export function stateLine(snapshot: SessionSnapshot, remote: Remote, language: Language = 'en'): string {
  const s = snapshot.stats;
  switch (snapshot.state) {
    case 'CONNECTING':
      return `CONNECTING to ${formatHostPort(remote.host, remote.port)} (${remote.proto})`;
    case 'CONNECTED':
      return `CONNECTED  address ${s.virtualIp ?? '?'}, gateway ${s.server ?? remote.host}${s.cipher ? `, ${s.cipher}` : ''}`;
    case 'RECONNECTING':
      return `RECONNECTING${snapshot.deadline ? ` (gives up at ${new Date(snapshot.deadline).toLocaleTimeString()})` : ''}`;
    case 'FAILED':
      return `FAILED: ${snapshot.failure ? failureText(snapshot.failure, language) : 'unknown reason'}`;
    default:
      return snapshot.state;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
