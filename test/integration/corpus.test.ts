/**
 * The corpus of what real servers hand out (issue 11): for every tool in
 * test/fixtures/corpus/cases.ts, its server config runs with real openvpn in the lab's
 * gateway namespace; a stock openvpn 2.6 client on the tool's profile is the reference (it
 * must connect and reach the vpc host, else the fixture is wrong); then Ferry imports the
 * same profile and connects, reaches the vpc host and disconnects cleanly — or refuses it,
 * when the case table says so, with a message naming the directive and the reason.
 *
 * One lab for all cases, run one after another. The client namespace gets a default route
 * via the gateway (a laptop's uplink), so servers that push redirect-gateway behave as they
 * do for their users; the vpc host still cannot answer the client except through a tunnel.
 *
 * What each side did is written to test-artifacts/corpus-report.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS, openForNobody, type CorpusCase } from '../fixtures/corpus/cases.js';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { ROOT, tempDir } from '../support/cli.js';
import {
  addressMask,
  labVars,
  passwordCheck,
  pritunlManagement,
  referenceOutcome,
  renderTemplate,
  startCorpusServer,
  startReferenceClient,
  writeFiles,
  type CorpusServer,
} from '../support/corpus.js';
import { clientHome, clientLeftovers, ferry, startConnect, STATE } from '../support/ferry.js';
import type { Watched } from '../support/processes.js';

// No keychain gate: the corpus gives passwords with --password-stdin and never saves one.
const skip = labSkipReason();

interface Row {
  name: string;
  tool: string;
  reference: string;
  ferry: string;
}

const rows: Row[] = [];

/** The last line of a process's output that says why it stopped, for the report. */
function lastWords(w: Watched, re: RegExp): string {
  return [...w.lines].reverse().find((l) => re.test(l)) ?? w.lines.at(-1) ?? '(no output)';
}

describe.skipIf(skip)('corpus: profiles and servers as other tools write them', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await createLab();
    await lab.run('client', ['ip', 'route', 'add', 'default', 'via', lab.addr.gatewayUnderlay]);
    // Without a tunnel the vpc host cannot answer the client (it has no route back).
    expect(await lab.ping('client', lab.addr.vpcHost, 1)).toBe(false);
  });

  afterAll(async () => {
    await lab?.teardown();
    if (rows.length === 0) return;
    const table = [
      '| case | tool | stock openvpn 2.6 (reference) | Ferry |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${r.tool} | ${r.reference.replace(/\|/g, '\\|')} | ${r.ferry.replace(/\|/g, '\\|')} |`),
    ].join('\n');
    const dir = path.join(ROOT, 'test-artifacts');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'corpus-report.md'), `# Corpus: Ferry vs stock openvpn 2.6\n\n${table}\n`);
    console.log(`\n${table}\n`);
  });

  for (const c of CORPUS) {
    it(`${c.name} (${c.tool}): ${'refused' in c.expect ? `refused for "${c.expect.refused.directive}"` : 'connects, reaches the vpc host, disconnects cleanly'} — stock openvpn as the reference`, async () => {
      const row: Row = { name: c.name, tool: c.tool, reference: 'not run', ferry: 'not run' };
      rows.push(row);
      await runCase(c, row);
    }, 240_000);
  }

  async function runCase(c: CorpusCase, row: Row): Promise<void> {
    const base = await tempDir(`ferry-corpus-${c.name}-`);
    const serverDir = path.join(base, 'server');
    const clientDir = path.join(base, 'client');
    const prepared = await c.prepare(path.join(base, 'pki'));
    const vars = labVars(lab);
    await mkdir(serverDir, { recursive: true });
    const passwordLines = c.login ? await passwordCheck(serverDir, { [c.login.username]: c.login.password }) : '';
    const serverConfig = await renderTemplate(c.name, 'server.conf', { ...vars, ...prepared.serverVars, PASSWORD_CHECK: passwordLines });
    if (c.login) expect(serverConfig, 'a case with a login needs {{PASSWORD_CHECK}} in its server.conf').toContain(passwordLines);
    await writeFiles(serverDir, prepared.serverFiles);
    if (c.dropsPrivileges) {
      await openForNobody(base);
      await openForNobody(serverDir);
    }

    const profile = await renderTemplate(c.name, 'client.ovpn', { ...vars, ...prepared.clientVars });
    const profilePath = path.join(clientDir, c.profileName);
    await writeFiles(clientDir, { [c.profileName]: profile, ...(prepared.clientFiles ?? {}) });

    let server: CorpusServer | undefined;
    let management: { close(): void } | undefined;
    const running: Watched[] = [];
    try {
      server = await startCorpusServer(lab, serverDir, serverConfig, c.name);
      if (c.pritunlClientAuth) {
        const [vpcNet, vpcMask] = addressMask(lab.addr.vpcSubnet);
        const [poolNet, poolMask] = addressMask(lab.addr.pool);
        management = await pritunlManagement(prepared.serverVars.MANAGEMENT_SOCKET!, c.pritunlClientAuth({ vpcNet, vpcMask, vpcDns: lab.addr.vpcHost, poolBase: poolNet.replace(/\.0$/, ''), poolMask }));
      }

      // The reference: a stock openvpn 2.6 client on the same files must connect and reach
      // the vpc host. If it cannot, the fixture is wrong, not Ferry.
      const reference = await startReferenceClient(lab, clientDir, profilePath, c.login ? [c.login.username, c.login.password] : undefined);
      running.push(reference);
      const refOutcome = await referenceOutcome(reference);
      const refPing = refOutcome === 'connected' && (await lab.ping('client', lab.addr.vpcHost, 3));
      await reference.stop();
      row.reference = refOutcome === 'connected' ? (refPing ? 'connects, reaches vpc host' : 'connects, vpc host unreachable') : `${refOutcome}: ${lastWords(reference, /error|fail|refus|AUTH_FAILED|Exiting/i)}`;
      expect(refPing, `reference openvpn on ${c.name}: ${refOutcome}\nclient:\n${reference.lines.slice(-40).join('\n')}\nserver:\n${server.server.lines.slice(-40).join('\n')}`).toBe(true);

      // Ferry.
      const home = await clientHome();
      const imported = await ferry(home, ['import', profilePath, '--name', 'corpus', ...(c.login ? ['--username', c.login.username] : [])]);
      if ('refused' in c.expect) {
        const { directive, reason } = c.expect.refused;
        row.ferry = imported.code === 0 ? 'imported (expected a refusal)' : `import refused: ${imported.stderr.trim()}`;
        expect(imported.code, imported.stderr).toBe(2);
        expect(imported.stderr).toContain(`"${directive}"`);
        expect(imported.stderr).toMatch(reason);
        return;
      }
      if (imported.code !== 0) row.ferry = `import refused: ${imported.stderr.trim()}`;
      expect(imported.code, `ferry import ${c.profileName}: ${imported.stderr}`).toBe(0);
      // A failing connect ends in FAILED within this, instead of the 60 s default.
      expect((await ferry(home, ['set', 'corpus', '--reconnect-timeout', '20'])).code).toBe(0);

      const session = startConnect(lab, home, 'corpus', c.login ? { stdin: `${c.login.password}\n`, args: ['--password-stdin'] } : {});
      running.push(session);
      const outcome = await Promise.race([
        session.waitForAny({ connected: STATE('CONNECTED'), failed: STATE('FAILED') }, 90_000),
        session.exited.then((code) => `exited ${code}`),
      ]);
      if (outcome !== 'connected') {
        const failed = session.lines.find((l) => STATE('FAILED').test(l));
        const detail = failed ? (JSON.parse(failed) as { code?: string; reason?: string }) : undefined;
        row.ferry = `fails at connect: ${detail ? `[${detail.code}] ${detail.reason}` : lastWords(session, /./)}`;
        expect.fail(`ferry connect on ${c.name}: ${outcome}\n${session.lines.slice(-30).join('\n')}\nserver:\n${server.server.lines.slice(-30).join('\n')}`);
      }
      const reached = await lab.ping('client', lab.addr.vpcHost, 3);
      const code = await session.stop('SIGINT');
      const left = await clientLeftovers(lab);
      row.ferry = `${reached ? 'connects, reaches vpc host' : 'connects, vpc host unreachable'}; disconnect exit ${code}; leftovers ${left.openvpnPids.length} openvpn, ${left.tunDevices.length} tun`;
      expect(reached, `vpc host through Ferry's tunnel (${c.name})`).toBe(true);
      expect(code).toBe(0);
      expect({ openvpn: left.openvpnPids.length, tun: left.tunDevices.length }).toEqual({ openvpn: 0, tun: 0 });
    } finally {
      for (const w of running) await w.stop('SIGINT');
      management?.close();
      await server?.stop();
    }
  }
});
