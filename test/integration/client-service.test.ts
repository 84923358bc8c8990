/**
 * The Windows path end to end, in the lab: `ferry connect` with the interactive-service
 * launcher ($FERRY_OPENVPN_SERVICE_PIPE) → the simulated service
 * (test/support/interactive-service-sim.ts, written from interactive.c) → a real openvpn
 * in the client namespace → the session over TCP management with the password the
 * service gave openvpn on its stdin → CONNECTED against `ferry-server run` → the vpc host
 * answers → a clean disconnect.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, initServer, tempDir, unpackBundle } from '../support/cli.js';
import { clientHome, clientLeftovers, ferry, filesText, keychainSkipReason, startConnect, STATE, statesOf, type ClientHome } from '../support/ferry.js';
import { InteractiveServiceSimulator } from '../support/interactive-service-sim.js';
import { readyGateway, type Watched } from '../support/processes.js';

const skip = labSkipReason() ?? (await keychainSkipReason());

describe.skipIf(skip)('ferry connect through the (simulated) OpenVPN interactive service', () => {
  let lab: Lab;
  let gateway: Watched;
  let passwords: Map<string, string>;
  let bundle: string;
  let sim: InteractiveServiceSimulator;
  const running: Watched[] = [];

  beforeAll(async () => {
    lab = await createLab();
    const serverDir = await initServer();
    passwords = await addAccounts(serverDir, ['alice']);
    bundle = await unpackBundle(serverDir, 'alice');
    gateway = await readyGateway(lab, serverDir);
    const dir = await tempDir('ferry-iservice-lab-');
    sim = await InteractiveServiceSimulator.start({
      socketPath: path.join(dir, 'service.sock'),
      configDir: path.join(dir, 'config') + path.sep,
      authorized: true, // the user is in "OpenVPN Administrators" (Ferry's configs live in the user's profile)
      spawnPrefix: ['ip', 'netns', 'exec', lab.ns.client],
    });
  });

  afterEach(async () => {
    for (const w of running.splice(0)) await w.stop('SIGINT');
  });

  afterAll(async () => {
    await sim?.close();
    await gateway?.stop();
    await lab?.teardown();
  });

  async function importAlice(): Promise<ClientHome> {
    const client = await clientHome();
    const withService = { ...client, env: { ...client.env, FERRY_OPENVPN_SERVICE_PIPE: sim.options.socketPath } };
    const result = await ferry(withService, ['import', path.join(bundle, 'ca.crt'), path.join(bundle, 'client.crt'), path.join(bundle, 'client.key'), '--gateway', `${lab.addr.gatewayUnderlay}:1194`, '--proto', 'tcp']);
    expect(result.stderr).toBe('');
    return withService;
  }

  it('connects, reaches the vpc host over the tunnel, and disconnects cleanly', async () => {
    const client = await importAlice();
    const session = startConnect(lab, client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    running.push(session);
    await session.waitFor(STATE('CONNECTED'), 60_000);
    expect(statesOf(session).slice(0, 3)).toEqual(['CONNECTING', 'AUTH', 'CONNECTED']);

    // The service started it: its arguments, the session dir as working dir, the password on stdin only.
    expect(sim.started).toHaveLength(1);
    const started = sim.started[0]!;
    expect(started.argv.slice(0, 2)).toEqual(['--config', path.join(started.data.directory, 'openvpn.conf')]);
    const config = await readFile(path.join(started.data.directory, 'openvpn.conf'), 'utf8');
    const port = /^management 127\.0\.0\.1 (\d+) "\/dev\/stdin"$/m.exec(config)?.[1];
    expect(port).toBeDefined();
    const password = started.data.stdin.trim();
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await filesText(client.env.FERRY_HOME!)).not.toContain(password);
    expect(config).not.toContain(password);

    expect(await lab.ping('client', lab.addr.vpcHost, 3)).toBe(true);
    const { openvpnPids } = await clientLeftovers(lab);
    expect(openvpnPids).toEqual([started.pid]);

    expect(await session.stop('SIGINT')).toBe(0);
    expect(statesOf(session).at(-1)).toBe('DISCONNECTED');
    expect((await clientLeftovers(lab)).openvpnPids).toEqual([]);
    expect((await clientLeftovers(lab)).tunDevices).toEqual([]);
  });

  it('a user the service does not authorize: FAILED with the group to join, nothing started', async () => {
    const refusing = await InteractiveServiceSimulator.start({ ...sim.options, socketPath: `${sim.options.socketPath}.user`, authorized: false });
    try {
      const client = await importAlice();
      const env = { ...client, env: { ...client.env, FERRY_OPENVPN_SERVICE_PIPE: refusing.options.socketPath } };
      const session = startConnect(lab, env, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
      running.push(session);
      expect(await session.exited).toBe(1);
      expect(session.lines.join('\n')).toMatch(/members of the “OpenVPN Administrators” group/);
      expect(refusing.started).toEqual([]);
    } finally {
      await refusing.close();
    }
  });
});
