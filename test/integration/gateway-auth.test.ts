/**
 * Who gets in: two-factor passwords checked against the certificate's account, revocation
 * (refused next time, live session cut at once), the connection limit, and a clean stop.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, ferryServer, initServer, unpackBundle } from '../support/cli.js';
import { AUTH_FAILED, CONNECTED, handWrittenConfig, readyGateway, startOpenvpnClient, type Watched } from '../support/processes.js';

interface Status {
  clients: Array<{ account: string }>;
}

async function connectedAccounts(dir: string): Promise<string[]> {
  const status = JSON.parse((await ferryServer(['status', '--dir', dir, '--json'])).stdout) as Status;
  return status.clients.map((c) => c.account).sort();
}

describe.skipIf(labSkipReason())('gateway admission (two-factor on, max 2 clients)', () => {
  let lab: Lab;
  let dir: string;
  let gateway: Watched;
  let passwords: Map<string, string>;
  const host = () => ({ host: lab.addr.gatewayUnderlay, port: 1194, proto: 'tcp' as const });

  const bundles = new Map<string, string>();
  async function client(account: string, credentials?: [string, string]): Promise<Watched> {
    const files = bundles.get(account) ?? (await unpackBundle(dir, account));
    bundles.set(account, files);
    const config = await handWrittenConfig(files, { ...host(), ...(credentials ? { credentials } : {}) });
    return startOpenvpnClient(lab, config);
  }

  async function restartGateway(old: Watched): Promise<Watched> {
    await old.stop();
    return readyGateway(lab, dir);
  }

  beforeAll(async () => {
    lab = await createLab();
    dir = await initServer(['--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet, '--max-clients', '2']);
    passwords = await addAccounts(dir, ['alice', 'bob', 'carol', 'dave']);
    gateway = await readyGateway(lab, dir);
  });

  afterAll(async () => {
    await gateway?.stop();
    await lab?.teardown();
  });

  it('refuses a wrong password', async () => {
    const c = await client('alice', ['alice', 'not-the-password']);
    expect(await c.waitForAny({ refused: AUTH_FAILED, connected: CONNECTED })).toBe('refused');
    await gateway.waitFor(/refused alice: wrong password/);
    await c.exited;
  });

  it("refuses another account's password", async () => {
    const c = await client('alice', ['alice', passwords.get('bob')!]);
    expect(await c.waitForAny({ refused: AUTH_FAILED, connected: CONNECTED })).toBe('refused');
    await c.exited;
  });

  it('refuses a username that does not match the certificate, even with its own password', async () => {
    const c = await client('alice', ['bob', passwords.get('bob')!]);
    expect(await c.waitForAny({ refused: AUTH_FAILED, connected: CONNECTED })).toBe('refused');
    await gateway.waitFor(/refused alice: username "bob" does not match the certificate/);
    await c.exited;
  });

  it('refuses a client that sends no password', async () => {
    const c = await client('alice');
    // OpenVPN itself drops a peer that sends no credentials when two-factor is on.
    await gateway.waitFor(/Auth Username\/Password was not provided by peer/);
    expect(c.lines.join('\n')).not.toMatch(CONNECTED);
    await c.stop();
  });

  it('enforces max-clients with a clear reason, and admits again when a slot frees', async () => {
    const a = await client('alice', ['alice', passwords.get('alice')!]);
    const b = await client('bob', ['bob', passwords.get('bob')!]);
    try {
      await a.waitFor(CONNECTED);
      await b.waitFor(CONNECTED);
      const c = await client('carol', ['carol', passwords.get('carol')!]);
      expect(await c.waitForAny({ refused: AUTH_FAILED, connected: CONNECTED })).toBe('refused');
      expect(c.lines.join('\n')).toMatch(/connection limit reached/);
      await c.exited;
      expect(await connectedAccounts(dir)).toEqual(['alice', 'bob']);
      await b.stop();
      const again = await client('carol', ['carol', passwords.get('carol')!]);
      await again.waitFor(CONNECTED);
      await again.stop();
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('revoke cuts the live session at once and refuses the next attempt', async () => {
    const d = await client('dave', ['dave', passwords.get('dave')!]);
    await d.waitFor(CONNECTED);
    expect(await lab.ping('client', lab.addr.vpcHost, 1)).toBe(true);
    const revoke = await ferryServer(['client', 'revoke', '--dir', dir, 'dave']);
    expect(revoke.stdout).toMatch(/revoked dave: certificate added to the CRL; live session cut/);
    // Checked right after the command returns: the session is already gone.
    expect(await connectedAccounts(dir)).not.toContain('dave');
    await d.waitFor(/Halt command was pushed by server|process exiting/);
    await d.exited;
    const again = await client('dave', ['dave', passwords.get('dave')!]);
    await gateway.waitFor(/CN=dave.*(REVOKED|revoked)|revoked.*CN=dave/i);
    expect(again.lines.join('\n')).not.toMatch(CONNECTED);
    await again.stop();
  });

  it('auth-gen-token: soft restarts and a gateway restart reconnect without the password', async () => {
    const files = await unpackBundle(dir, 'alice');
    const config = await handWrittenConfig(files, { ...host(), credentials: ['alice', passwords.get('alice')!] });
    const c = startOpenvpnClient(lab, config, ['--auth-nocache']);
    try {
      await c.waitFor(CONNECTED);
      // From now on the client only has the server's token: the password on disk is wrong.
      await writeFile(path.join(files, 'credentials'), 'alice\nnot-the-password\n');
      const before = c.lines.filter((l) => CONNECTED.test(l)).length;
      c.child.kill('SIGUSR1');
      await c.waitFor(/SIGUSR1/);
      await c.waitForCount(CONNECTED, before + 1);
      // The token did not bypass ferry-server: it decided this login too (account, limit).
      await gateway.waitFor(/ferry-server: admitted alice \(CONNECT\) by session token \(session_state=Authenticated, no password sent\)/);
      gateway = await restartGateway(gateway);
      await c.waitForCount(CONNECTED, before + 2);
      expect(c.lines.join('\n')).not.toMatch(AUTH_FAILED);
      expect(await lab.ping('client', lab.addr.vpcHost, 1)).toBe(true);
    } finally {
      await c.stop();
    }
  });

  it('survives garbage on its control socket', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(path.join(dir, 'run', 'control.sock'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write('\u0000\u00ff{not json at all\n');
    });
    expect(JSON.parse(reply)).toEqual({ ok: false, error: 'malformed request' });
    expect((await ferryServer(['status', '--dir', dir])).stdout).toMatch(/running \(pid/);
  });

  it('stops cleanly on SIGTERM: exit 0, no openvpn left, sockets removed', async () => {
    const code = await gateway.stop('SIGTERM');
    expect(code).toBe(0);
    // Nothing is left running in the gateway namespace (openvpn included), and no tun device.
    expect(execFileSync('ip', ['netns', 'pids', lab.ns.gateway], { encoding: 'utf8' }).trim()).toBe('');
    expect((await lab.exec('gateway', ['ip', '-o', 'link', 'show', 'type', 'tun'])).stdout).toBe('');
    const status = await ferryServer(['status', '--dir', dir]);
    expect(status.stdout).toMatch(/not running/);
  });
});

describe.skipIf(labSkipReason())('gateway with two-factor off', () => {
  let lab: Lab;
  let dir: string;
  let gateway: Watched;

  beforeAll(async () => {
    lab = await createLab();
    dir = await initServer(['--no-two-factor', '--proto', 'udp', '--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet]);
    await addAccounts(dir, ['erin']);
    gateway = await readyGateway(lab, dir);
  });

  afterAll(async () => {
    await gateway?.stop();
    await lab?.teardown();
  });

  it('a run killed with SIGKILL leaves an openvpn that the next run stops before starting', async () => {
    await gateway.stop('SIGKILL');
    const orphans = () => execFileSync('ip', ['netns', 'pids', lab.ns.gateway], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    expect(orphans()).toHaveLength(1); // the openvpn the killed run had started
    gateway = await readyGateway(lab, dir);
    expect(gateway.lines.join('\n')).toMatch(/stopped an openvpn left behind by a previous run/);
    expect(orphans()).toHaveLength(2); // the new ferry-server and its openvpn
  });

  it('the certificate alone connects', async () => {
    const files = await unpackBundle(dir, 'erin');
    const c = startOpenvpnClient(lab, await handWrittenConfig(files, { host: lab.addr.gatewayUnderlay, port: 1194, proto: 'udp' }));
    try {
      await c.waitFor(CONNECTED);
      expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    } finally {
      await c.stop();
    }
  });
});
