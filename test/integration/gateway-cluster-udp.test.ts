/**
 * Failover over UDP, the transport most gateways run: nothing like a TCP reset tells the
 * client its node died, so it is the pushed `ping`/`ping-restart` that moves it to the next
 * node, and the shared token secret that admits it there without asking. (The TCP case and
 * the cluster-wide rules are gateway-cluster.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { expectFailoverByToken, TestCluster } from '../support/cluster.js';
import { clientHome, ferry, keychainSkipReason, startConnect } from '../support/ferry.js';
import { postgresSkipReason, PostgresInstance } from '../support/postgres.js';
import type { Watched } from '../support/processes.js';

const skip = labSkipReason() ?? postgresSkipReason() ?? (await keychainSkipReason());

/**
 * The bound stated for failover over UDP (README "Running several gateways"): the pushed
 * ping-restart (5 s) notices the dead node, openvpn tries that node once more (a 4 s
 * server-poll-timeout with several gateways) and then connects to the next.
 */
const FAILOVER_BOUND_MS = 20_000;

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
    const failoverMs = await expectFailoverByToken(cluster, session, 'alice', FAILOVER_BOUND_MS);
    console.log(`UDP failover after SIGKILL: ${Math.round(failoverMs)} ms`);
    expect(await session.stop('SIGINT')).toBe(0);
  }, 120_000);
});
