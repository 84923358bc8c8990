/**
 * Read-only facts for the real-Electron test (test/electron/app.e2e.ts), which cannot
 * otherwise see the tray (Electron has no API that lists trays). Only when
 * FERRY_E2E_PROBE=1 is in the environment: then the tray's tooltip is recorded as it is
 * set, and `globalThis.ferryE2EProbe` tells whether the tray exists and what its tooltip
 * says — nothing else, and nothing that can change the app. Otherwise the tray is
 * returned untouched.
 */
export interface TrayLike {
  isDestroyed(): boolean;
  setToolTip(text: string): void;
}

export interface E2EProbe {
  trayAlive(): boolean;
  trayTooltip(): string | undefined;
}

export function withTrayProbe<T extends TrayLike>(tray: T, env: NodeJS.ProcessEnv = process.env, target: object = globalThis): T {
  if (env.FERRY_E2E_PROBE !== '1') return tray;
  let tooltip: string | undefined;
  const setToolTip = tray.setToolTip.bind(tray);
  tray.setToolTip = (text: string) => {
    tooltip = text;
    setToolTip(text);
  };
  const probe: E2EProbe = Object.freeze({ trayAlive: () => !tray.isDestroyed(), trayTooltip: () => (tray.isDestroyed() ? undefined : tooltip) });
  Object.defineProperty(target, 'ferryE2EProbe', { value: probe, configurable: true, writable: false, enumerable: false });
  return tray;
}
