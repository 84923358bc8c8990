/**
 * Deleting against a running gateway: a deleted account's live session is cut and its old
 * bundle refused while a new account of the same name connects; deleting the server stops
 * the gateway (or the openvpn a killed run left) and leaves nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, FERRY_SERVER, ferryServer, initServer, unpackBundle } from '../support/cli.js';
import { AUTH_FAILED, CONNECTED, handWrittenConfig, readyGateway, startOpenvpnClient, type Watched } from '../support/processes.js';

const serialOf = async (dir: string, account: string) =>
  (JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { accounts: Array<{ name: string; serial: string }> }).accounts.find((a) => a.name === account)?.serial;

describe.skipIf(labSkipReason())('client delete against a running gateway', () => {
  let lab: Lab;
  let dir: string;
  let gateway: Watched;
  const clients: Watched[] = [];

  async function connect(files: string, account: string, password: string): Promise<Watched> {
    const config = await handWrittenConfig(files, { host: lab.addr.gatewayUnderlay, port: 1194, proto: 'tcp', credentials: [account, password] });
    const c = startOpenvpnClient(lab, config);
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    lab = await createLab();
    dir = await initServer(['--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet]);
    gateway = await readyGateway(lab, dir);
  });

  afterAll(async () => {
    for (const c of clients) await c.stop();
    await gateway?.stop();
    await lab?.teardown();
  });

  it('cuts the live session, refuses the old bundle, and a new account of the same name connects', async () => {
    const passwords = await addAccounts(dir, ['alice']);
    const oldSerial = await serialOf(dir, 'alice');
    const oldFiles = await unpackBundle(dir, 'alice');
    const live = await connect(oldFiles, 'alice', passwords.get('alice')!);
    await live.waitFor(CONNECTED);

    const deleted = await ferryServer(['client', 'delete', '--dir', dir, 'alice']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted alice: certificate in the CRL, account and files removed; live session cut$/m);
    await live.waitFor(/Halt command was pushed by server|process exiting/);
    await live.exited;
    await gateway.waitFor(/ferry-server: alice disconnected/);

    // The old bundle (with its still-correct old password) is refused at the TLS handshake.
    const old = await connect(oldFiles, 'alice', passwords.get('alice')!);
    await gateway.waitFor(/CN=alice.*(REVOKED|revoked)|revoked.*CN=alice/i);
    expect(old.lines.join('\n')).not.toMatch(CONNECTED);
    await old.stop();

    const fresh = await addAccounts(dir, ['alice']);
    const newSerial = await serialOf(dir, 'alice');
    expect(newSerial).toBeTruthy();
    expect(newSerial).not.toBe(oldSerial);
    const again = await connect(await unpackBundle(dir, 'alice'), 'alice', fresh.get('alice')!);
    expect(await again.waitForAny({ connected: CONNECTED, refused: AUTH_FAILED })).toBe('connected');
    expect(await lab.ping('client', lab.addr.vpcHost, 1)).toBe(true);
    await again.stop();
  });
});

describe.skipIf(labSkipReason())('server delete against a running gateway', () => {
  let lab: Lab;
  let gateway: Watched | undefined;

  beforeAll(async () => {
    lab = await createLab();
  });

  afterAll(async () => {
    await gateway?.stop();
    await lab?.teardown();
  });

  const processesInGateway = () => execFileSync('ip', ['netns', 'pids', lab.ns.gateway], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);

  async function expectNothingLeft(dir: string): Promise<void> {
    expect(processesInGateway()).toEqual([]);
    // No tun device, and no ifb or qdisc of the rate limits (the tun is named after the state directory).
    expect((await lab.exec('gateway', ['ip', '-o', 'link', 'show', 'type', 'tun'])).stdout).toBe('');
    expect((await lab.exec('gateway', ['ip', '-o', 'link', 'show'])).stdout).not.toMatch(/ferry-/);
    expect((await lab.exec('gateway', ['tc', 'qdisc', 'show'])).stdout).not.toMatch(/htb|ingress/);
    expect(existsSync(dir)).toBe(false);
  }

  /** Where the administrator runs it: beside the gateway, in its network namespace (its tun and ifb devices live there). */
  const deleteInGatewayNamespace = (dir: string) => lab.exec('gateway', [process.execPath, FERRY_SERVER, 'delete', '--dir', dir, '--yes']);

  const newServer = () => initServer(['--no-two-factor', '--host', lab.addr.gatewayUnderlay, '--pool', lab.addr.pool, '--subnet', lab.addr.vpcSubnet]);

  it('asks the running gateway to stop, waits for it, and leaves no process, tun device, traffic control or file', async () => {
    const dir = await newServer();
    expect((await ferryServer(['set', '--bandwidth', '50', '--dir', dir])).code).toBe(0);
    gateway = await readyGateway(lab, dir);
    expect((await lab.exec('gateway', ['ip', '-o', 'link', 'show'])).stdout).toMatch(/ferry-[0-9a-f]{6}-in/); // the cap is on
    expect(processesInGateway()).toHaveLength(2); // ferry-server run and its openvpn
    const deleted = await deleteInGatewayNamespace(dir);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted SSL server "ferry": removed .*; gateway stopped$/m);
    // Checked as soon as the command returns: it waited for both processes to exit.
    await expectNothingLeft(dir);
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.join('\n')).toMatch(/ferry-server: stopping \(asked to over the control socket\)/);
    gateway = undefined;
  });

  it('stops the openvpn a SIGKILLed run left behind, and removes its traffic control', async () => {
    const dir = await newServer();
    expect((await ferryServer(['set', '--bandwidth', '50', '--dir', dir])).code).toBe(0);
    gateway = await readyGateway(lab, dir);
    await gateway.stop('SIGKILL');
    expect((await lab.exec('gateway', ['ip', '-o', 'link', 'show'])).stdout).toMatch(/ferry-[0-9a-f]{6}-in/); // left behind
    gateway = undefined;
    expect(processesInGateway()).toHaveLength(1); // the orphaned openvpn
    const deleted = await deleteInGatewayNamespace(dir);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/; stopped an openvpn left behind by a killed run$/m);
    await expectNothingLeft(dir);
  });
});
