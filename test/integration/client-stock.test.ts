/**
 * The `ferry` client against gateways nobody here configured: stock openvpn servers with
 * PKIs made by Debian's easy-rsa and hand-written configs (test/support/stock-server.ts).
 * Also the one-time-code schemes (static challenge with a keychain TOTP secret, CRV1
 * dynamic challenge) and the network faults, which need the fast dead-peer detection a
 * hand-written server config can set.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { tempDir } from '../support/cli.js';
import { clientHome, clientLeftovers, ferry, filesText, keychainSkipReason, processArgvAndEnv, startConnect, STATE, statesOf, type ClientHome } from '../support/ferry.js';
import type { Watched } from '../support/processes.js';
import { makeEasyRsaPki, startStockServer, type EasyRsaPki, type StockServer } from '../support/stock-server.js';

const skip = labSkipReason() ?? (await keychainSkipReason());

const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe.skipIf(skip)('ferry client against stock OpenVPN servers', () => {
  let lab: Lab;
  let rsa: EasyRsaPki;
  let ec: EasyRsaPki;
  let server: StockServer | undefined;
  const running: Watched[] = [];

  function connect(client: ClientHome, name: string, opts: { stdin?: string; args?: string[] } = {}): Watched {
    const w = startConnect(lab, client, name, opts);
    running.push(w);
    return w;
  }

  /** Imports an easy-rsa client's three files (any order) as a profile named after the client. */
  async function importPki(pki: EasyRsaPki, user: string, port: number, proto: 'tcp' | 'udp', extra: string[] = []): Promise<ClientHome> {
    const client = await clientHome();
    const result = await ferry(client, ['import', pki.clients[user]!.cert, pki.ca, pki.clients[user]!.key, '--name', user, '--gateway', `${lab.addr.gatewayUnderlay}:${port}`, '--proto', proto, ...extra]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return client;
  }

  async function leftovers(): Promise<{ openvpn: number; tun: number }> {
    const { openvpnPids, tunDevices } = await clientLeftovers(lab);
    return { openvpn: openvpnPids.length, tun: tunDevices.length };
  }

  beforeAll(async () => {
    lab = await createLab();
    const dir = await tempDir('ferry-easyrsa-');
    [rsa, ec] = await Promise.all([
      makeEasyRsaPki(path.join(dir, 'rsa'), { algo: 'rsa', clients: ['alice', 'dave'] }),
      makeEasyRsaPki(path.join(dir, 'ec'), { algo: 'ec', clients: ['bob', 'erin'] }),
    ]);
  });

  afterEach(async () => {
    for (const w of running.splice(0)) await w.stop('SIGINT');
    await server?.stop();
    server = undefined;
  });

  afterAll(async () => {
    await lab?.teardown();
  });

  for (const [algo, proto] of [['rsa', 'udp'], ['ec', 'tcp']] as const) {
    it(`imports an easy-rsa ${algo.toUpperCase()} client's three files and connects over ${proto} (certificate only)`, async () => {
      const pki = algo === 'rsa' ? rsa : ec;
      const user = algo === 'rsa' ? 'alice' : 'bob';
      server = await startStockServer(lab, { pki, proto, port: 1194 });
      const client = await importPki(pki, user, 1194, proto, ['--no-password']);
      const session = connect(client, user);
      await session.waitFor(STATE('CONNECTED'));
      expect(await lab.ping('client', lab.addr.vpcHost, 3)).toBe(true);
      expect(await session.stop('SIGINT')).toBe(0);
      expect(await leftovers()).toEqual({ openvpn: 0, tun: 0 });
    });
  }

  it('answers a static challenge with SCRV1: the password plus a code made from the keychain TOTP secret; the server checks both', async () => {
    server = await startStockServer(lab, { pki: rsa, proto: 'udp', auth: { kind: 'static-otp', users: { dave: { password: 'dave-pass-1', totpSecret: TOTP_SECRET } } } });
    // OTP servers ship an .ovpn with `static-challenge`; this one names its files relatively.
    const dir = await tempDir('ferry-ovpn-');
    for (const [name, from] of [['ca.crt', rsa.ca], ['dave.crt', rsa.clients.dave!.cert], ['dave.key', rsa.clients.dave!.key]] as const) {
      await writeFile(path.join(dir, name), await readFile(from));
    }
    const ovpn = ['client', 'dev tun', 'proto udp', `remote ${lab.addr.gatewayUnderlay} 1194`, 'nobind', 'persist-key', 'ca ca.crt', 'cert dave.crt', 'key dave.key', 'remote-cert-tls server', 'auth-user-pass', 'static-challenge "Enter your authenticator code" 1', 'verb 3', ''];
    await writeFile(path.join(dir, 'office.ovpn'), ovpn.join('\n'));
    const client = await clientHome();
    const imported = await ferry(client, ['import', path.join(dir, 'office.ovpn'), '--username', 'dave']);
    expect(imported.code).toBe(0);
    const set = await ferry(client, ['set', 'office', '--otp', 'totp', '--otp-secret-stdin'], `${TOTP_SECRET}\n`);
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);

    const session = connect(client, 'office', { stdin: 'dave-pass-1\n', args: ['--password-stdin'] });
    await session.waitFor(STATE('CONNECTED'));
    expect(await readFile(server.verifyLog!, 'utf8')).toMatch(/user dave: password ok, otp ok/);
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);

    // The OTP secret and the password are nowhere on disk, in the output or in any argv/environment.
    const onDisk = await filesText(client.home);
    for (const secret of [TOTP_SECRET, 'dave-pass-1']) {
      expect(onDisk).not.toContain(secret);
      expect(session.lines.join('\n')).not.toContain(secret);
    }
    const procs = await processArgvAndEnv();
    expect(procs).not.toContain(TOTP_SECRET);
    expect(procs).not.toContain('dave-pass-1');
  });

  it('surfaces a CRV1 dynamic challenge and answers it', async () => {
    server = await startStockServer(lab, {
      pki: ec,
      proto: 'tcp',
      auth: { kind: 'crv1', users: { erin: 'erin-pass-1' }, challengeText: 'Enter the PIN sent to your phone', expectedResponse: '424242' },
      extraConfig: ['auth-gen-token'],
    });
    const client = await importPki(ec, 'erin', 1194, 'tcp', ['--username', 'erin']);
    const session = connect(client, 'erin', { stdin: 'erin-pass-1\n424242\n', args: ['--password-stdin', '--otp-stdin'] });
    await session.waitFor(STATE('CONNECTED'));
    expect(session.lines.join('\n')).toContain('the gateway asks: Enter the PIN sent to your phone');
    expect(await readFile(server.verifyLog!, 'utf8')).toMatch(/response ok/);

    // With no answer to give, the challenge ends the session with the question in the reason.
    await session.stop('SIGINT');
    const unanswered = connect(client, 'erin', { stdin: 'erin-pass-1\n', args: ['--password-stdin'] });
    expect(await unanswered.exited).toBe(1);
    expect(unanswered.lines.join('\n')).toMatch(/the gateway asks "Enter the PIN sent to your phone"/);
  });

  describe('network faults (server pushes keepalive 1 4)', () => {
    async function faultSetup(reconnectTimeout: number): Promise<{ client: ClientHome; session: Watched }> {
      server = await startStockServer(lab, { pki: rsa, proto: 'udp', keepalive: [1, 4] });
      const client = await importPki(rsa, 'alice', 1194, 'udp', ['--no-password']);
      expect((await ferry(client, ['set', 'alice', '--reconnect-timeout', String(reconnectTimeout)])).code).toBe(0);
      const session = connect(client, 'alice');
      await session.waitFor(STATE('CONNECTED'));
      return { client, session };
    }

    it('gateway link down for a while: RECONNECTING, then CONNECTED again', async () => {
      const { session } = await faultSetup(60);
      await lab.setUnderlay(false);
      try {
        await session.waitFor(STATE('RECONNECTING'), 30_000);
      } finally {
        await lab.setUnderlay(true);
      }
      await session.waitForCount(STATE('CONNECTED'), 2);
      // AUTH is openvpn's TLS phase, certificate-only profiles pass through it too.
      expect(statesOf(session)).toEqual(['CONNECTING', 'AUTH', 'CONNECTED', 'RECONNECTING', 'CONNECTED']);
      expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    });

    it('gateway link down past the reconnect timeout: FAILED with the reason, nothing left behind', async () => {
      const { session } = await faultSetup(5);
      await lab.setUnderlay(false);
      try {
        expect(await session.exited).toBe(1);
      } finally {
        await lab.setUnderlay(true);
      }
      const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
      expect(failed.code).toBe('reconnect-timeout');
      expect(failed.reason).toMatch(/lost the connection and could not reconnect within 5 s/);
      expect(await leftovers()).toEqual({ openvpn: 0, tun: 0 });
    });

    it('an unreachable gateway fails with "cannot be reached" advice after the timeout', async () => {
      const client = await importPki(rsa, 'alice', 1194, 'udp', ['--no-password']);
      expect((await ferry(client, ['set', 'alice', '--reconnect-timeout', '5'])).code).toBe(0);
      const session = connect(client, 'alice');
      expect(await session.exited).toBe(1);
      const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
      expect(failed.code).toBe('unreachable');
      expect(failed.reason).toMatch(/could not connect within 5 s/);
    });
  });

  it('a server whose certificate comes from another CA is a TLS failure naming the CA file', async () => {
    server = await startStockServer(lab, { pki: ec, proto: 'udp' });
    const client = await importPki(rsa, 'alice', 1194, 'udp', ['--no-password']);
    const session = connect(client, 'alice');
    expect(await session.exited).toBe(1);
    const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
    expect(failed.code).toBe('tls');
    expect(failed.reason).toMatch(/not signed by this profile's CA certificate/);
  });
});
