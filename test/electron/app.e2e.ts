/**
 * `npm run test:electron`: the built app in real Electron (Playwright's `_electron`), with
 * a private FERRY_HOME and no tunnel engine. Not part of `npm test` (vitest runs only
 * test/**\/*.test.ts; this file is *.e2e.ts and runs under node:test): Electron's binary
 * cannot be downloaded on the machines this repository's own CI runs on, so this runs in
 * the GitHub workflow (.github/workflows/ci.yml) on Linux (xvfb-run), Windows and macOS.
 *
 * It checks: the window loads from app://ferry with no CSP or console errors;
 * `window.ferry` holds exactly the contract's functions (plus onEvent); a profile is
 * imported through the UI; a connect with no engine ends FAILED with the reason this
 * platform gives (helper-missing for a user without ferry-helper, openvpn-missing for
 * root); the tray exists (seen through electron/e2e-probe.ts); Quit exits with code 0.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { _electron as electron, type ElectronApplication, type Page } from 'playwright-core';
import { contract } from '../../electron/contract.js';
import { makeCa, makeClient } from '../fixtures/import/generate.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/electron/main.cjs');

/** The failure a connect must end in when no engine is installed, by platform and root-ness. */
export function expectedFailure(platform: NodeJS.Platform, isRoot: boolean): { code: string; detail: string } | undefined {
  if (platform === 'linux' || platform === 'darwin') return isRoot ? { code: 'openvpn-missing', detail: 'openvpn-missing' } : { code: 'helper-missing', detail: 'helper-not-running' };
  // Windows: the interactive-service launcher finds no OpenVPN in the registry (the workflow
  // runs this test before it installs OpenVPN; test/unit/ci-workflow.test.ts checks the order).
  if (platform === 'win32') return { code: 'openvpn-missing', detail: 'openvpn-not-installed' };
  return undefined;
}

let app: ElectronApplication;
let page: Page;
let home: string;
const problems: string[] = [];

before(async () => {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run npm run build first`);
  home = await mkdtemp(path.join(tmpdir(), 'ferry-e2e-'));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    FERRY_HOME: path.join(home, 'ferry'),
    FERRY_E2E_PROBE: '1',
    // No engine: no helper at this socket, no openvpn at this path.
    FERRY_HELPER_SOCKET: path.join(home, 'no-helper.sock'),
    FERRY_OPENVPN: path.join(home, 'no-openvpn'),
    XDG_CONFIG_HOME: path.join(home, 'config'),
    LANG: 'en_US.UTF-8',
  };
  delete env.ELECTRON_RUN_AS_NODE;
  app = await electron.launch({
    args: [...(process.platform === 'linux' ? ['--no-sandbox'] : []), ROOT],
    cwd: ROOT,
    env,
    timeout: 60_000,
  });
  app.process().stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (/Content Security Policy|Refused to/i.test(line)) problems.push(`main: ${line}`);
  });
  page = await app.firstWindow();
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  page.setDefaultTimeout(15_000);
});

after(async () => {
  if (app && app.process().exitCode === null) await app.close().catch(() => {});
});

test('the window loads from app://ferry', async () => {
  await page.waitForLoadState('domcontentloaded');
  assert.match(page.url(), /^app:\/\/ferry\//);
  await page.getByRole('heading', { name: 'No connections yet' }).waitFor();
});

test('window.ferry holds exactly the contract\'s functions', async () => {
  const api = await page.evaluate(() => {
    const ferry = (globalThis as unknown as { ferry: Record<string, unknown> }).ferry;
    return Object.keys(ferry).map((k) => [k, typeof ferry[k]] as const);
  });
  assert.deepEqual(api.map(([k]) => k).sort(), [...Object.keys(contract), 'onEvent'].sort());
  assert.ok(api.every(([, type]) => type === 'function'));
  assert.equal(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require), 'undefined');
});

test('a profile is imported through the UI', async () => {
  const ca = await makeCa({ cn: 'Ferry E2E CA', fromDays: -3000, toDays: 3000 });
  const client = await makeClient(ca, { cn: 'alice', fromDays: -3000, toDays: 3000 });
  const files = { ca: path.join(home, 'ca.crt'), cert: path.join(home, 'client.crt'), key: path.join(home, 'client.key') };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.cert, client.certPem);
  await writeFile(files.key, client.keyPem, { mode: 0o600 });
  await page.getByRole('button', { name: 'Import a profile' }).click();
  await page.getByLabel('CA certificate', { exact: true }).setInputFiles(files.ca);
  await page.getByLabel('User certificate', { exact: true }).setInputFiles(files.cert);
  await page.getByLabel('User key', { exact: true }).setInputFiles(files.key);
  await page.locator('#import-gateway').fill('198.18.0.1:1194');
  await page.getByTestId('import-preview').waitFor();
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByRole('heading', { name: 'alice', level: 1 }).waitFor();
  const names = await page.evaluate(async () => {
    const r = await (globalThis as unknown as { ferry: { listProfiles(q: object): Promise<{ ok: boolean; value?: { profile: { name: string } }[] }> } }).ferry.listProfiles({});
    return r.ok ? r.value!.map((p) => p.profile.name) : [];
  });
  assert.deepEqual(names, ['alice']);
});

test('a connect without an engine ends in the right failure reason', async () => {
  await page.evaluate(() => (globalThis as unknown as { ferry: { connect(q: object): Promise<unknown> } }).ferry.connect({ name: 'alice', password: 'not-used' }));
  const deadline = Date.now() + 30_000;
  let last: { state?: string; failure?: { code: string; detail: string } } | undefined;
  while (Date.now() < deadline) {
    last = await page.evaluate(async () => {
      const r = await (globalThis as unknown as { ferry: { listProfiles(q: object): Promise<{ ok: boolean; value?: { tunnel?: { snapshot?: { state: string; failure?: { code: string; detail: string } } } }[] }> } }).ferry.listProfiles({});
      return r.ok ? r.value![0]?.tunnel?.snapshot : undefined;
    });
    if (last?.state === 'FAILED') break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.equal(last?.state, 'FAILED', `state: ${JSON.stringify(last)}`);
  const expected = expectedFailure(process.platform, process.getuid?.() === 0);
  if (expected) assert.deepEqual({ code: last!.failure?.code, detail: last!.failure?.detail }, expected);
  else assert.ok(last!.failure?.code, 'a failure code');
  await page.getByTestId('failure-banner').waitFor();
});

test('the tray exists', async () => {
  const tray = await app.evaluate(() => {
    const probe = (globalThis as { ferryE2EProbe?: { trayAlive(): boolean; trayTooltip(): string | undefined } }).ferryE2EProbe;
    return probe ? { alive: probe.trayAlive(), tooltip: probe.trayTooltip() } : undefined;
  });
  assert.ok(tray?.alive, 'a tray was created');
  assert.match(tray!.tooltip ?? '', /alice/);
});

test('no CSP or console errors', () => {
  assert.deepEqual(problems, []);
});

test('Quit exits cleanly', async () => {
  const child = app.process();
  const exited = once(child, 'exit');
  await app.evaluate(({ app: electronApp }) => electronApp.quit());
  const [code, signal] = (await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('Ferry did not exit within 20 s of Quit')), 20_000))])) as [number | null, string | null];
  assert.equal(signal, null);
  assert.equal(code, 0);
});
