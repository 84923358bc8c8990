/**
 * The theme in one place: `data-theme` on <html> is always "light" or "dark", and
 * "system" follows the OS (and its later changes), so styles.css holds each palette once.
 */
import type { Settings } from '../../electron/contract';

const systemDark = window.matchMedia('(prefers-color-scheme: dark)');
let chosen: Settings['theme'] = 'system';

function paint(): void {
  document.documentElement.dataset.theme = chosen === 'system' ? (systemDark.matches ? 'dark' : 'light') : chosen;
}

systemDark.addEventListener('change', () => {
  if (chosen === 'system') paint();
});

export function applyTheme(theme: Settings['theme']): void {
  chosen = theme;
  paint();
}
