/**
 * Failover over UDP, the transport most gateways run: nothing like a TCP reset tells the
 * client its node died, so it is the pushed `ping`/`ping-restart` that moves it to the next
 * node, and the shared token secret that admits it there without asking. (The TCP case and
 * the cluster-wide rules are gateway-cluster.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { TestCluster } from '../support/cluster.js';
import { clientHome, ferry, keychainSkipReason, startConnect, STATE } from '../support/ferry.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';
import type { Watched } from '../support/processes.js';

const skip = labSkipReason() ?? postgresSkipReason() ?? (await keychainSkipReason());

/** The bound stated for failover (README "Running several gateways"): node death to CONNECTED on the other node. */
const FAILOVER_BOUND_MS = 15_000;

describe.skipIf(skip)('two gateways over UDP', () => {
  let pg: PostgresInstance;
  let lab: Lab;
  let cluster: TestCluster;
  let passwords: Map<string, string>;
  const running: Watched[] = [];

  beforeAll(async () => {
    [pg, lab] = await Promise.all([PostgresInstance.create(), createLab({ gateways: 2 })]);
    cluster = await TestCluster.create(lab, await pg.createDatabase(), { nodes: 2, proto: 'udp' });
    passwords = await cluster.addAccounts(['alice']);
    await Promise.all([cluster.ready('a'), cluster.ready('b')]);
  }, 120_000);

  afterAll(async () => {
    for (const w of running) await w.stop('SIGINT');
    await cluster?.stopAll();
    await lab?.teardown();
    await pg?.destroy();
  });

  it('node A dies (SIGKILL): the ferry client notices by the pushed ping-restart and is CONNECTED through node B by its token, no password sent', async () => {
    const client = await clientHome();
    const { zip } = await cluster.bundle('alice');
    const imported = await ferry(client, ['import', zip, '--name', 'alice']);
    expect(imported.code, imported.stderr).toBe(0);
    const shown = JSON.parse((await ferry(client, ['show', 'alice', '--json'])).stdout) as { profile: { remotes: Array<{ proto: string }> } };
    expect(shown.profile.remotes.map((r) => r.proto)).toEqual(['udp', 'udp']);

    const session = startConnect(lab, client, 'alice', { stdin: `${passwords.get('alice')}\n`, args: ['--password-stdin'] });
    running.push(session);
    await session.waitFor(STATE('CONNECTED'));
    const a = cluster.gateways.get('a')!;
    const b = cluster.gateways.get('b')!;
    await a.waitFor(/admitted alice \(CONNECT\) by certificate and password/);
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    const fromB = b.lines.length;

    const killedAt = performance.now();
    await cluster.killNode('a');
    await session.waitForCount(STATE('CONNECTED'), 2, FAILOVER_BOUND_MS);
    console.log(`UDP failover after SIGKILL: ${Math.round(performance.now() - killedAt)} ms`);
    await b.waitFor(/admitted alice \(CONNECT\) by session token \(session_state=Authenticated, no password sent\)/);
    expect(b.lines.slice(fromB).join('\n')).not.toMatch(/alice.*by certificate and password/);
    const afterLogin = session.lines.slice(session.lines.findIndex((l) => STATE('CONNECTED').test(l)) + 1).join('\n');
    expect(afterLogin).toMatch(/"state":"RECONNECTING"/);
    expect(afterLogin).not.toMatch(/"state":"AUTH"|password required|AUTH_FAILED/);
    expect(await lab.ping('client', lab.addr.vpcHost, 2)).toBe(true);
    expect(await session.stop('SIGINT')).toBe(0);
  }, 120_000);
});
