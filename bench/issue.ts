/**
 * bench:issue — certificates + bundles per second and a 10,000-entry CRL, against Debian's
 * easy-rsa measured in the same run (DESIGN.md "Benchmarks"). Prints ratios, asserts nothing;
 * exits non-zero only when a measurement itself fails. Everything lives in one temp directory.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { addAccounts, buildBundle } from '../server/accounts.js';
import { buildCrl, createCa, loadCa, randomSerialHex } from '../server/pki.js';
import { initServer } from '../server/setup.js';
import { StateDir } from '../server/store.js';

const EASYRSA = '/usr/share/easy-rsa/easyrsa';
const FERRY_BIN = fileURLToPath(new URL('../bin/ferry-server.js', import.meta.url));
const RUNS = 20;
const BULK = 1_000;
const BULK_2FA = 200;
const CRL_ENTRIES = 10_000;

interface Result { code: number; stdout: string; stderr: string }

/** Runs a program; throws (failing the benchmark) on a non-zero exit unless `allowFail`. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, allowFail = false): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      if (code !== 0 && !allowFail) reject(new Error(`${path.basename(cmd)} ${args.join(' ')} failed (exit ${code}): ${stderr.trim() || err?.message}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await fn();
  return [performance.now() - start, value];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const ratio = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)}×`;

/** A fresh Ferry state directory (benchmark address range only, see DESIGN.md). */
async function freshServer(dir: string, twoFactor: boolean): Promise<StateDir> {
  const state = new StateDir(dir);
  await initServer(state, { host: 'vpn.bench.test', subnets: ['198.18.1.0/24'], pool: '198.19.0.0/24', twoFactor });
  return state;
}

/** (a) addAccounts for `count` names, then every bundle built in memory from the state dir. */
async function bulk(state: StateDir, count: number, twoFactor: boolean): Promise<number> {
  const prefix = twoFactor ? 'mfa' : 'user';
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const [elapsed] = await timed(async () => {
    await addAccounts(state, names);
    const settings = await state.readSettings();
    const caPem = await readFile(state.caCert, 'utf8');
    let bytes = 0;
    for (const account of (await state.readIndex()).accounts) {
      const [certPem, keyPem] = await Promise.all([readFile(state.clientCert(account.serial), 'utf8'), readFile(state.clientKey(account.serial), 'utf8')]);
      bytes += buildBundle(settings, account.name, caPem, certPem, keyPem).length;
    }
    if (bytes === 0) throw new Error('no bundle was built');
  });
  const index = await state.readIndex();
  if (index.accounts.length !== count) throw new Error(`expected ${count} accounts, index holds ${index.accounts.length}`);
  if (!index.accounts.every((a) => (a.passwordHash !== undefined) === twoFactor)) throw new Error('password hashes do not match the two-factor setting');
  return elapsed;
}

async function main(root: string): Promise<void> {
  try {
    await access(EASYRSA, constants.X_OK);
  } catch {
    throw new Error(`easy-rsa not found at ${EASYRSA}: it is the anchor of this benchmark; install it with "apt-get install easy-rsa"`);
  }
  const env = { ...process.env, EASYRSA_BATCH: '1', EASYRSA_PKI: path.join(root, 'easyrsa', 'pki') };
  await mkdir(path.join(root, 'easyrsa'));
  const easyrsa = (...args: string[]) => run(EASYRSA, args, env);
  const version = (await easyrsa('--version')).stdout.match(/Version:\s*(\S+)/)?.[1] ?? '?';
  const openssl = (await run('openssl', ['version'])).stdout.split(' ').slice(0, 2).join(' ');
  console.log(`bench:issue  node ${process.version}, ${os.cpus().length} CPU(s) ${os.cpus()[0]?.model ?? ''}`);
  console.log(`anchor: easy-rsa ${version} (RSA 2048, ${openssl}); ferry: server defaults (EC P-256 keys)\n`);
  await easyrsa('init-pki');
  await easyrsa('build-ca', 'nopass');

  // (c) one `client add` per process, interleaved with easy-rsa's build-client-full.
  const off = await freshServer(path.join(root, 'ferry-cli-off'), false);
  const on = await freshServer(path.join(root, 'ferry-cli-on'), true);
  const ferryAdd = (state: StateDir, name: string) => timed(() => run(process.execPath, [FERRY_BIN, 'client', 'add', '--dir', state.dir, name]));
  const times = { easy: [] as number[], off: [] as number[], on: [] as number[] };
  console.log(`(c) ${RUNS} single-client commands each, interleaved ...`);
  for (let i = 0; i < RUNS; i++) {
    const steps: Array<() => Promise<void>> = [
      async () => void times.easy.push((await timed(() => easyrsa('build-client-full', `client${i}`, 'nopass')))[0]),
      async () => void times.off.push((await ferryAdd(off, `user${i}`))[0]),
      async () => {
        const [t, r] = await ferryAdd(on, `user${i}`);
        if (!r.stdout.includes('password:')) throw new Error(`two-factor add printed no password: ${r.stdout}`);
        times.on.push(t);
      },
    ];
    for (const step of i % 2 ? steps.reverse() : steps) await step();
  }
  const easyMedian = median(times.easy);
  const easyMean = mean(times.easy);
  for (const [label, xs] of [['easy-rsa build-client-full', times.easy], ['ferry client add, 2FA off', times.off], ['ferry client add, 2FA on', times.on]] as const) {
    console.log(`    ${label.padEnd(28)} median ${ms(median(xs))}, mean ${ms(mean(xs))}`);
  }

  // (a) bulk issue + bundle in one process.
  console.log(`(a) bulk: ${BULK} accounts with bundles (2FA off), ${BULK_2FA} (2FA on) ...`);
  const bulkOff = await bulk(await freshServer(path.join(root, 'ferry-bulk-off'), false), BULK, false);
  const bulkOn = await bulk(await freshServer(path.join(root, 'ferry-bulk-on'), true), BULK_2FA, true);
  const perOff = bulkOff / BULK;
  const perOn = bulkOn / BULK_2FA;
  console.log(`    2FA off: ${(bulkOff / 1000).toFixed(2)} s for ${BULK}, ${ms(perOff)}/account (issue + bundle), ${(1000 / perOff).toFixed(0)} accounts/s`);
  console.log(`    2FA on:  ${(bulkOn / 1000).toFixed(2)} s for ${BULK_2FA}, ${ms(perOn)}/account — the scrypt N=2^15 password hash dominates, by design`);

  // (b) a 10,000-entry CRL, verified by openssl; easy-rsa's gen-crl over its 20 revoked clients.
  console.log(`(b) CRL with ${CRL_ENTRIES} entries ...`);
  const caKc = await createCa('Ferry bench CA', 'ec');
  const ca = await loadCa(caKc.certPem, caKc.keyPem);
  const revokedAt = new Date();
  const entries = Array.from({ length: CRL_ENTRIES }, () => ({ serialHex: randomSerialHex(), revokedAt }));
  const [crlMs, crl] = await timed(() => buildCrl({ ca, entries, crlNumber: 1 }));
  const crlFile = path.join(root, 'crl.pem');
  const caFile = path.join(root, 'ca.pem');
  await writeFile(crlFile, crl.pem);
  await writeFile(caFile, caKc.certPem);
  const verify = await run('openssl', ['crl', '-in', crlFile, '-CAfile', caFile, '-noout'], process.env, true);
  if (verify.code !== 0 && !verify.stderr.includes('verify OK')) throw new Error(`openssl does not verify the CRL: ${verify.stderr.trim()}`);
  const text = (await run('openssl', ['crl', '-in', crlFile, '-text', '-noout'])).stdout;
  const counted = text.match(/Serial Number:/g)?.length ?? 0;
  if (counted !== CRL_ENTRIES) throw new Error(`openssl counts ${counted} CRL entries, expected ${CRL_ENTRIES}`);
  for (let i = 0; i < RUNS; i++) await easyrsa('revoke', `client${i}`);
  const [easyCrlMs] = await timed(() => easyrsa('gen-crl'));
  console.log(`    ferry buildCrl: ${ms(crlMs)} (${(crl.pem.length / 1024).toFixed(0)} KiB); openssl: ${verify.stderr.trim() || 'exit 0'}, ${counted} entries`);
  console.log(`    easy-rsa gen-crl: ${ms(easyCrlMs)} (only ${RUNS} entries)`);

  const rows = [
    ['measure', 'ferry', 'easy-rsa', 'ratio', 'target'],
    [`bulk issue+bundle/account, 2FA off (${BULK})`, ms(perOff), `${ms(easyMean)} mean`, ratio(easyMean / perOff), '≥ 30×'],
    [`bulk issue+bundle/account, 2FA on (${BULK_2FA})`, ms(perOn), `${ms(easyMean)} mean`, ratio(easyMean / perOn), 'none (scrypt by design)'],
    [`CRL, ${CRL_ENTRIES} entries (easy-rsa: ${RUNS})`, ms(crlMs), ms(easyCrlMs), 'n/a', '< 1000 ms'],
    ['client add, 1 command, 2FA off (median)', ms(median(times.off)), ms(easyMedian), ratio(easyMedian / median(times.off)), '≥ 1× (no slower)'],
    ['client add, 1 command, 2FA on (median)', ms(median(times.on)), ms(easyMedian), ratio(easyMedian / median(times.on)), '≥ 1× (no slower)'],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log('\nsummary (ratio = easy-rsa time / ferry time; higher is faster)');
  for (const [i, row] of rows.entries()) {
    console.log(('  ' + row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')).trimEnd());
    if (i === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('-|-'));
  }
}

const root = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-issue-'));
try {
  await main(root);
} catch (err) {
  console.error(`bench:issue failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
