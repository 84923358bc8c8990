/**
 * Power and network events for the sessions: waking from sleep calls the core's
 * wokeUp(); a network change (new Wi-Fi, cable plugged, VPN-unrelated address change)
 * calls networkChanged(), so a tunnel reconnects at once instead of after a timeout.
 *
 * Electron's main process has no online/offline event, so the interfaces are polled and
 * compared; changes are debounced (a Wi-Fi join changes several things within a second).
 * Tunnel devices are left out of the comparison: otherwise our own tun0 appearing on
 * connect would count as a network change and restart the tunnel it belongs to.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import os from 'node:os';

export interface PowerMonitorLike {
  on(event: 'resume', listener: () => void): unknown;
  removeListener(event: 'resume', listener: () => void): unknown;
}

export interface PowerTarget {
  wokeUp(): void;
  networkChanged(): void;
}

export interface PowerOptions {
  powerMonitor: PowerMonitorLike;
  target: PowerTarget;
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** Electron's net.isOnline(), when there is one. */
  isOnline?: () => boolean;
  pollMs?: number;
  /** How long the network must stay unchanged before it counts. */
  settleMs?: number;
}

/** Tunnel and VPN devices (ours and others'): tun/tap/utun/ppp/WireGuard, the Windows adapters. */
const VPN_DEVICE = /^(tun|tap|utun|ppp|wg|ipsec)|openvpn|wintun|tap-windows|data channel offload/i;

/** What identifies "the network we are on": the non-VPN interfaces and their routable addresses. */
export function networkFingerprint(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>, online?: boolean): string {
  const parts: string[] = [];
  for (const [name, addresses] of Object.entries(interfaces)) {
    if (VPN_DEVICE.test(name)) continue;
    for (const a of addresses ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && /^fe80:/i.test(a.address)) continue; // link-local: every interface has one
      if (a.family === 'IPv4' && a.address.startsWith('169.254.')) continue;
      parts.push(`${name}=${a.address}/${a.netmask}`);
    }
  }
  parts.sort();
  if (online !== undefined) parts.push(online ? 'online' : 'offline');
  return parts.join(',');
}

/** Starts watching; returns a function that stops. */
export function watchPowerAndNetwork(opts: PowerOptions): () => void {
  const read = () => networkFingerprint((opts.networkInterfaces ?? os.networkInterfaces)(), opts.isOnline?.());
  const settleMs = opts.settleMs ?? 2_000;
  let known = read();
  let settle: NodeJS.Timeout | undefined;
  /** After a wake-up the network settles on its own; that is part of the wake, not a second event. */
  let quietUntil = 0;
  /** A fingerprint seen but not yet settled. */
  let pending: string | undefined;

  const onResume = () => {
    opts.target.wokeUp();
    quietUntil = Date.now() + settleMs * 2;
    if (settle) clearTimeout(settle);
    settle = undefined;
    pending = undefined;
  };
  opts.powerMonitor.on('resume', onResume);

  const poll = setInterval(() => {
    const now = read();
    if (now === known) {
      // Back to where it was (a flap): nothing happened after all.
      pending = undefined;
      if (settle) clearTimeout(settle);
      settle = undefined;
      return;
    }
    if (Date.now() < quietUntil) {
      known = now;
      return;
    }
    if (now === pending) return; // unchanged since last time: let it settle
    pending = now;
    if (settle) clearTimeout(settle);
    settle = setTimeout(() => {
      settle = undefined;
      pending = undefined;
      const settled = read();
      if (settled === known) return;
      known = settled;
      opts.target.networkChanged();
    }, settleMs);
  }, opts.pollMs ?? 3_000);
  poll.unref?.();

  return () => {
    clearInterval(poll);
    if (settle) clearTimeout(settle);
    opts.powerMonitor.removeListener('resume', onResume);
  };
}
