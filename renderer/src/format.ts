/** Numbers, sizes and times as a person reads them, in the UI's language. */
import i18next from 'i18next';

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/**
 * Intl formatters cost milliseconds to create the first time (ICU loads locale data), and
 * the status screen is the first screen: plain arithmetic where both languages write
 * numbers alike (values below 1024, '.' decimals, 24-hour clock), Intl only for dates.
 */
const dateFormats = new Map<string, Intl.DateTimeFormat>();

function number(value: number, digits: number): string {
  return String(Number(value.toFixed(digits)));
}

const two = (n: number) => String(n).padStart(2, '0');

/** 1536 → "1.5 KB" (binary steps, as file managers show them). */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${number(value, unit === 0 ? 0 : value < 10 ? 2 : 1)} ${i18next.t(`units.${UNITS[unit]!}`)}`;
}

export function formatRate(bytesPerSecond: number): string {
  return i18next.t('units.perSecond', { value: formatBytes(bytesPerSecond) });
}

/** Seconds → "1:02:03" or "2:03". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  let format = dateFormats.get(i18next.language);
  if (!format) dateFormats.set(i18next.language, (format = new Intl.DateTimeFormat(i18next.language, { dateStyle: 'medium', timeStyle: 'short' })));
  return format.format(date);
}

export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** "198.18.1.1:1194 · TCP" for the profile's first remote. */
export function formatGateway(remote: { host: string; port: number; proto: string } | undefined): string {
  if (!remote) return '';
  const host = remote.host.includes(':') ? `[${remote.host}]` : remote.host;
  return `${host}:${remote.port} · ${remote.proto.toUpperCase()}`;
}
