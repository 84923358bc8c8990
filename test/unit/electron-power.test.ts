/**
 * Power and network wiring (electron/power.ts) with a fake powerMonitor and fake
 * interfaces under fake timers: resume calls wokeUp; a settled network change calls
 * networkChanged once; our own tun device or a flap that goes back does not.
 */
import { EventEmitter } from 'node:events';
import type { NetworkInterfaceInfo } from 'node:os';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { networkFingerprint, watchPowerAndNetwork } from '../../electron/power.js';

vi.mock('electron', () => {
  throw new Error('power.ts must get powerMonitor injected, not import it');
});

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal, cidr: `${address}/24` });

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function setup() {
  const powerMonitor = new EventEmitter();
  const target = { wokeUp: vi.fn(), networkChanged: vi.fn() };
  let interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = { lo: [v4('127.0.0.1', true)], eth0: [v4('198.18.0.10')] };
  const stop = watchPowerAndNetwork({
    powerMonitor: powerMonitor as never,
    target,
    networkInterfaces: () => interfaces,
    pollMs: 1_000,
    settleMs: 2_000,
  });
  return { powerMonitor, target, stop, set: (next: typeof interfaces) => (interfaces = next) };
}

describe('watchPowerAndNetwork', () => {
  it('resume → wokeUp', () => {
    const s = setup();
    s.powerMonitor.emit('resume');
    expect(s.target.wokeUp).toHaveBeenCalledTimes(1);
    expect(s.target.networkChanged).not.toHaveBeenCalled();
    s.stop();
    s.powerMonitor.emit('resume');
    expect(s.target.wokeUp).toHaveBeenCalledTimes(1);
  });

  it('a new network → networkChanged once, after it settled', () => {
    const s = setup();
    s.set({ wlan0: [v4('198.18.5.20')] });
    vi.advanceTimersByTime(1_000); // seen
    expect(s.target.networkChanged).not.toHaveBeenCalled();
    s.set({ wlan0: [v4('198.18.5.21')] }); // still changing: the wait starts again
    vi.advanceTimersByTime(1_000);
    vi.advanceTimersByTime(1_500);
    expect(s.target.networkChanged).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(s.target.networkChanged).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10_000);
    expect(s.target.networkChanged).toHaveBeenCalledTimes(1);
    s.stop();
  });

  it('our own tunnel device appearing is not a network change', () => {
    const s = setup();
    s.set({ lo: [v4('127.0.0.1', true)], eth0: [v4('198.18.0.10')], tun0: [v4('198.18.100.2')] });
    vi.advanceTimersByTime(10_000);
    expect(s.target.networkChanged).not.toHaveBeenCalled();
    s.stop();
  });

  it('a flap that goes back before it settles is nothing', () => {
    const s = setup();
    s.set({ lo: [v4('127.0.0.1', true)] });
    vi.advanceTimersByTime(1_000);
    s.set({ lo: [v4('127.0.0.1', true)], eth0: [v4('198.18.0.10')] });
    vi.advanceTimersByTime(10_000);
    expect(s.target.networkChanged).not.toHaveBeenCalled();
    s.stop();
  });

  it('the network settling right after a wake-up is part of the wake-up', () => {
    const s = setup();
    s.powerMonitor.emit('resume');
    s.set({ wlan0: [v4('198.18.7.7')] });
    vi.advanceTimersByTime(10_000);
    expect(s.target.wokeUp).toHaveBeenCalledTimes(1);
    expect(s.target.networkChanged).not.toHaveBeenCalled();
    s.stop();
  });

  it('the fingerprint ignores loopback, link-local and VPN devices; online state counts', () => {
    const fp = networkFingerprint({
      lo: [v4('127.0.0.1', true)],
      eth0: [v4('198.18.0.10'), { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr: 'fe80::1/64', scopeid: 2 }, v4('169.254.3.3')],
      tun0: [v4('198.18.100.2')],
      utun3: [v4('198.18.100.3')],
      'OpenVPN Data Channel Offload': [v4('198.18.100.4')],
    });
    expect(fp).toBe('eth0=198.18.0.10/255.255.255.0');
    expect(networkFingerprint({}, false)).not.toBe(networkFingerprint({}, true));
  });
});
