/**
 * A stock openvpn client connects to `ferry-server run` with only the bundle's files, over
 * TCP and UDP, and reaches the vpc host through the tunnel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, ferryServer, initServer, unpackBundle } from '../support/cli.js';
import { CONNECTED, handWrittenConfig, readyGateway, startOpenvpnClient, type Watched } from '../support/processes.js';
import path from 'node:path';

describe.skipIf(labSkipReason()).each(['tcp', 'udp'] as const)('gateway over %s', (proto) => {
  let lab: Lab;
  let dir: string;
  let gateway: Watched;
  let passwords: Map<string, string>;

  beforeAll(async () => {
    lab = await createLab();
    dir = await initServer(['--proto', proto, '--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet, '--port', '1194']);
    passwords = await addAccounts(dir, ['alice', 'bob', 'carol']);
    gateway = await readyGateway(lab, dir);
  });

  afterAll(async () => {
    await gateway?.stop();
    await lab?.teardown();
  });

  it('hand-written config with the three PEM files: connects, pings the vpc host, shows in status', async () => {
    const files = await unpackBundle(dir, 'alice');
    const config = await handWrittenConfig(files, { host: lab.addr.gatewayUnderlay, port: 1194, proto, credentials: ['alice', passwords.get('alice')!] });
    const client = startOpenvpnClient(lab, config);
    try {
      await client.waitFor(CONNECTED);
      expect(await lab.ping('client', lab.addr.vpcHost, 3)).toBe(true);
      const status = JSON.parse((await ferryServer(['status', '--dir', dir, '--json'])).stdout) as {
        server: { running: boolean };
        clients: Array<{ account: string; realAddress: string; virtualAddress: string; bytesReceived: number; bytesSent: number; connectedSince: string }>;
      };
      expect(status.server.running).toBe(true);
      const alice = status.clients.find((c) => c.account === 'alice');
      expect(alice?.realAddress).toMatch(new RegExp(`^${lab.addr.client.replace(/\./g, '\\.')}:\\d+$`));
      expect(alice?.virtualAddress).toMatch(/^198\.18\.100\.\d+$/);
      expect(alice!.bytesReceived).toBeGreaterThan(0);
      expect(alice!.bytesSent).toBeGreaterThan(0);
      expect(Date.parse(alice!.connectedSince)).not.toBeNaN();
      const list = JSON.parse((await ferryServer(['client', 'list', '--dir', dir, '--json'])).stdout) as Array<{ account: string; connected: boolean }>;
      expect(list.find((a) => a.account === 'alice')?.connected).toBe(true);
      expect(list.find((a) => a.account === 'bob')?.connected).toBe(false);
    } finally {
      await client.stop();
    }
  });

  it("the bundle's .ovpn works as is in a stock client", async () => {
    const files = await unpackBundle(dir, 'bob');
    const credentials = await handWrittenConfig(files, { host: '', port: 0, proto, credentials: ['bob', passwords.get('bob')!] });
    const client = startOpenvpnClient(lab, path.join(files, 'bob.ovpn'), ['--auth-user-pass', path.join(path.dirname(credentials), 'credentials')]);
    try {
      await client.waitFor(CONNECTED);
      await client.waitFor(/Data Channel: cipher 'AES-256-GCM'/);
      expect(await lab.ping('client', lab.addr.vpcHost, 3)).toBe(true);
    } finally {
      await client.stop();
    }
  });

  it('pushes as soon as it admits a client: a client-pending-auth wakes openvpn, no waiting for the PUSH_REQUEST', async () => {
    // openvpn's own log, through ferry-server's stdout, in order. Without the wake-up
    // (server/gateway.ts admitAndWake) openvpn sits on the answer until the client's
    // PUSH_REQUEST, a second after its start, makes it look again (over TCP; over UDP its own
    // one-second timer may come first, so the AUTH_PENDING the client saw is checked too).
    const from = gateway.lines.length;
    const files = await unpackBundle(dir, 'carol');
    const config = await handWrittenConfig(files, { host: lab.addr.gatewayUnderlay, port: 1194, proto, credentials: ['carol', passwords.get('carol')!] });
    const client = startOpenvpnClient(lab, config);
    try {
      await client.waitFor(CONNECTED);
      await gateway.waitFor(/SENT CONTROL \[carol\]: 'PUSH_REPLY/);
      const log = gateway.lines.slice(from);
      const admitted = log.findIndex((l) => /MANAGEMENT: CMD 'client-auth-nt /.test(l));
      const pushed = log.findIndex((l) => /SENT CONTROL \[carol\]: 'PUSH_REPLY/.test(l));
      expect(admitted).toBeGreaterThanOrEqual(0);
      expect(pushed).toBeGreaterThan(admitted);
      expect(log.slice(admitted, pushed).filter((l) => /PUSH: Received control message: 'PUSH_REQUEST'/.test(l))).toEqual([]);
      // What the client sees of it: AUTH_PENDING with its own default timeout, then the push.
      const seen = client.lines.findIndex((l) => /AUTH_PENDING received, extending handshake timeout from 60s to 60s/.test(l));
      expect(seen).toBeGreaterThanOrEqual(0);
      expect(client.lines.findIndex((l) => /PUSH: Received control message: 'PUSH_REPLY/.test(l))).toBeGreaterThan(seen);
    } finally {
      await client.stop();
    }
  });
});
