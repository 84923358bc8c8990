/**
 * bench:ui — the renderer's cost against a plain React + Vite "hello" page, both built the
 * same way in this run (same Vite, plugin, target and options; bench/ui-hello/):
 *
 *  - initial JS: every script index.html loads (module entry + modulepreloads), gzip -9
 *    with node:zlib. Target: ≤ 250 KB.
 *  - first render in headless Chromium: the `ferry:first-render` performance mark each app
 *    sets in a layout effect when its first real screen commits (Ferry's after its
 *    start-up calls answered), relative to navigation start; median of N fresh pages
 *    (new browser context each run: no cache), runs interleaved. Target: ≤ 2× hello.
 *
 * `window.ferry` for the renderer is bench/ui-stub.js, an in-page stub answering at once
 * with two profiles (one connected): this measures the renderer's own cost, not IPC.
 * Pages are served by the test host (test/ui/host.ts) under the app's CSP.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { startHost } from '../test/ui/host.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_UI_RUNS ?? 15);
const MARK = 'ferry:first-render';
const TARGET_GZIP_KB = 250;
const TARGET_RATIO = 2;

async function buildApp(configFile: string, outDir: string): Promise<void> {
  await build({ configFile, build: { outDir, emptyOutDir: true }, logLevel: 'warn' });
}

/** The JS index.html makes the browser load before anything renders. */
async function initialJs(dir: string): Promise<{ files: string[]; raw: number; gzip: number }> {
  const html = await readFile(path.join(dir, 'index.html'), 'utf8');
  const srcs = [...html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g), ...html.matchAll(/<link\b[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => m[1]!);
  let raw = 0;
  let gzip = 0;
  for (const src of srcs) {
    const data = await readFile(path.join(dir, src));
    raw += data.length;
    gzip += gzipSync(data, { level: 9 }).length;
  }
  return { files: srcs, raw, gzip };
}

async function firstRender(browser: Browser, url: string): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1180, height: 780 } });
  try {
    const page = await context.newPage();
    await page.goto(url);
    const handle = await page.waitForFunction((mark) => performance.getEntriesByName(mark)[0]?.startTime, MARK, { timeout: 15_000 });
    return (await handle.jsonValue()) as number;
  } finally {
    await context.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  if (RUNS < 10) throw new Error('BENCH_UI_RUNS must be at least 10');
  const work = await mkdtemp(path.join(tmpdir(), 'ferry-bench-ui-'));
  const appDir = path.join(work, 'renderer');
  const helloDir = path.join(work, 'hello');
  let browser: Browser | undefined;
  const hosts: Array<{ close(): Promise<void> }> = [];
  try {
    process.stdout.write('building the renderer and the hello page…\n');
    await buildApp(path.join(ROOT, 'renderer/vite.config.ts'), appDir);
    await buildApp(path.join(ROOT, 'bench/ui-hello/vite.config.ts'), helloDir);
    const [appJs, helloJs] = await Promise.all([initialJs(appDir), initialJs(helloDir)]);

    const appHost = await startHost({ root: appDir, bridgeScript: await readFile(path.join(ROOT, 'bench/ui-stub.js'), 'utf8') });
    const helloHost = await startHost({ root: helloDir });
    hosts.push(appHost, helloHost);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    process.stdout.write(`measuring first render, ${RUNS} fresh pages each…\n`);
    // One warm-up each (Chromium's own first-page costs), then interleaved runs so drift hits both alike.
    await firstRender(browser, appHost.url);
    await firstRender(browser, helloHost.url);
    const app: number[] = [];
    const hello: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      app.push(await firstRender(browser, appHost.url));
      hello.push(await firstRender(browser, helloHost.url));
    }

    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const ms = (n: number) => `${n.toFixed(1)} ms`;
    const sizeRatio = appJs.gzip / helloJs.gzip;
    const timeRatio = median(app) / median(hello);
    const rows: string[][] = [
      ['metric', 'Ferry renderer', 'hello (React+Vite)', 'ratio', 'target', 'result'],
      ['initial JS, raw', kb(appJs.raw), kb(helloJs.raw), `${(appJs.raw / helloJs.raw).toFixed(2)}×`, '', ''],
      ['initial JS, gzip -9', kb(appJs.gzip), kb(helloJs.gzip), `${sizeRatio.toFixed(2)}×`, `≤ ${TARGET_GZIP_KB} KB`, appJs.gzip <= TARGET_GZIP_KB * 1024 ? 'PASS' : 'FAIL'],
      [`first render, median of ${RUNS}`, ms(median(app)), ms(median(hello)), `${timeRatio.toFixed(2)}×`, `≤ ${TARGET_RATIO}× hello`, timeRatio <= TARGET_RATIO ? 'PASS' : 'FAIL'],
      ['first render, min–max', `${ms(Math.min(...app))}–${ms(Math.max(...app))}`, `${ms(Math.min(...hello))}–${ms(Math.max(...hello))}`, '', '', ''],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
    process.stdout.write(`\n${line(rows[0]!)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.slice(1).map(line).join('\n')}\n\n`);
    process.stdout.write(`Ferry's initial JS: ${appJs.files.join(', ')}; window.ferry: in-page stub (bench/ui-stub.js), so IPC is not measured.\n`);
    process.stdout.write(`Chromium ${browser.version()}, headless, ${RUNS} interleaved runs after one warm-up each.\n`);
  } finally {
    await browser?.close();
    for (const host of hosts) await host.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
