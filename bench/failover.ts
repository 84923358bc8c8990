/**
 * bench:failover — node death to CONNECTED on another gateway (DESIGN.md "Benchmarks").
 *
 * Two ferry-server nodes sharing a private PostgreSQL (test/support/postgres.ts: unix socket
 * only) in the lab with two gateways (createLab({ gateways: 2 })), set up as
 * test/integration/gateway-cluster.test.ts does (test/support/cluster.ts), two-factor on, over
 * TCP (FERRY_BENCH_PROTO=udp for UDP, where the dead node is noticed by ping-restart).
 * One account; its bundle lists both nodes (remote A, then B; no remote-random).
 *
 * Every round starts the same way: both nodes running, a fresh client connects (to node A,
 * the first remote; checked in A's log), then every process in node A's namespace is
 * SIGKILLed (ferry-server and its openvpn, as a host dying) and the time from the kill to the
 * client's next CONNECTED is taken. The client is then stopped, and node A started again
 * (once its heartbeat has gone stale, as the cluster requires) for the next round.
 *
 *   ferry           `ferry connect NAME --json --password-stdin`, the bundle imported with
 *                   `ferry import` — to its second "state":"CONNECTED"
 *   raw             stock openvpn with the bundle's own .ovpn (both remotes), auth-user-pass
 *                   from a 0600 file — to its second "Initialization Sequence Completed"
 *   ferry, own key  `ferry connect NAME --json` on a terminal (a pty from util-linux `script`),
 *                   the password typed at each prompt the moment it shows; node B signs
 *                   session tokens with a key of its own, so A's token is refused there:
 *                   Ferry logs in again once with the password it was given (no prompt,
 *                   "asked again: never"), but the full login is what is timed.
 *   raw, own key    as `raw` against that node B (openvpn drops the token and re-reads its file)
 *
 * "Own key": the bench-only part. Node B's ferry-server runs with FERRY_OPENVPN pointing at
 * a wrapper script that execs the real openvpn with its usual arguments plus
 * `--auth-gen-token-secret OTHER.key` (a key from `openvpn --genkey auth-token`); the later
 * option wins, so node B is the same gateway in every other respect. Nothing in ferry-server
 * changes. Node B is restarted (clean stop, so no heartbeat wait) when the mode changes.
 *
 * How each client got back in is read from node B's log (admitted … by session token, or by
 * certificate and password) and reported per kind, with where the time went: kill → the
 * client noticed, → node B first logged the client, → a password prompt (if any).
 * FERRY_BENCH_TRACE=1 prints each client's output from the kill to CONNECTED.
 *
 * FERRY_BENCH_RUNS overrides the 10 rounds. The kinds alternate (the order rotates every
 * round). Prints medians and ratios, asserts nothing; exits non-zero only when a
 * measurement broke.
 */
import { execFileSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { findOpenvpn } from '../core/engine/openvpn-binary.js';
import { NODE_DEAD_AFTER_S } from '../server/pg-store.js';
import { FERRY } from '../test/support/cli.js';
import { TestCluster } from '../test/support/cluster.js';
import { clientHome, ferry } from '../test/support/ferry.js';
import { PostgresInstance } from '../test/support/postgres.js';
import type { Watched } from '../test/support/processes.js';
import { CONNECTED_LINE, INIT_LINE, machine, median, ms, printTable, Proc, READY_LINE, runBench, spread, type BenchLab } from './lab-setup.js';

const RUNS = Number(process.env.FERRY_BENCH_RUNS ?? 10);
/** FERRY_BENCH_TRACE=1: print each client's output between the kill and CONNECTED, with times. */
const TRACE = process.env.FERRY_BENCH_TRACE === '1';
const ACCOUNT = 'bench';
const FAILOVER_TIMEOUT_MS = 90_000;
const PROTO = process.env.FERRY_BENCH_PROTO === 'udp' ? 'udp' : 'tcp';
/**
 * openvpn's first line (relayed by ferry-server) about the client at node B: over TCP the
 * accepted connection; over UDP (2.6's stateless handshake logs nothing before it) the check
 * of the client's certificate chain.
 */
const GATEWAY_SEES_CLIENT = PROTO === 'tcp' ? /TCP connection established with/ : /VERIFY OK: depth=1/;

type Kind = 'ferry' | 'raw' | 'ferry-own' | 'raw-own';
const KINDS: Kind[] = ['ferry', 'raw', 'ferry-own', 'raw-own'];
const LABEL: Record<Kind, string> = { ferry: 'ferry', raw: 'raw openvpn', 'ferry-own': 'ferry, own key on B', 'raw-own': 'raw openvpn, own key on B' };
const ownKey = (k: Kind) => k.endsWith('-own');
const isFerry = (k: Kind) => k.startsWith('ferry');

type How = 'token' | 'password' | 'unknown';
interface Failover {
  /** SIGKILL of node A → CONNECTED again. */
  total: number;
  /** SIGKILL → the client noticed (ferry: RECONNECTING; raw: its first line after the kill). */
  noticed: number;
  /** SIGKILL → node B's openvpn first logged the client (GATEWAY_SEES_CLIENT, read from ferry-server's output). */
  reachedB: number;
  /** SIGKILL → Ferry asked for the password again (NaN: not asked). */
  asked: number;
  /** How node B admitted the client. */
  how: How;
}

const ADMITTED = new RegExp(`ferry-server: admitted ${ACCOUNT} \\(CONNECT\\) (.*)$`);

function howAdmitted(lines: string[]): How {
  const admitted = lines.map((l) => ADMITTED.exec(l)?.[1]).filter((x): x is string => x !== undefined);
  if (admitted.some((a) => /by certificate and password/.test(a))) return 'password';
  if (admitted.some((a) => /by session token/.test(a))) return 'token';
  return 'unknown';
}

await runBench(
  'bench:failover',
  async (bench) => {
    console.log(machine('bench:failover'));
    console.log(`${bench.describe()}; gateway2 (node B) ${bench.lab.extraGateways[0]!.underlay}`);
    const pg = await PostgresInstance.create();
    let cluster: TestCluster | undefined;
    try {
      console.log(`transport: ${PROTO}`);
      cluster = await TestCluster.create(bench.lab, await pg.createDatabase(), { nodes: 2, proto: PROTO });
      await body(bench, cluster);
    } finally {
      await cluster?.stopAll().catch(() => undefined);
      await pg.destroy();
    }
  },
  { gateways: 2 },
);

async function body(bench: BenchLab, cluster: TestCluster): Promise<void> {
  const password = (await cluster.addAccounts([ACCOUNT])).get(ACCOUNT);
  if (!password) throw new Error('two-factor is on but client add printed no password');
  const { dir, zip } = await cluster.bundle(ACCOUNT);

  // Ferry: the bundle imported as a user would.
  const user = await clientHome();
  const imported = await ferry(user, ['import', zip, '--name', ACCOUNT]);
  if (imported.code !== 0) throw new Error(`ferry import failed: ${imported.stderr.trim()}`);
  const ferryUser = { user, profile: ACCOUNT, password };

  // Raw: the bundle's own .ovpn, the password from a 0600 file.
  const ovpn = await readFile(path.join(dir, `${ACCOUNT}.ovpn`), 'utf8');
  const credentials = path.join(dir, 'credentials');
  await writeFile(credentials, `${ACCOUNT}\n${password}\n`, { mode: 0o600 });
  const rawOvpn = ovpn.replace(/^auth-user-pass$/m, `auth-user-pass ${credentials}`);
  if (rawOvpn === ovpn) throw new Error('the bundle asks for no password: two-factor is expected to be on');
  const rawConfig = path.join(dir, 'raw.ovpn');
  await writeFile(rawConfig, rawOvpn, { mode: 0o600 });
  const remotes = ovpn.match(/^remote .*$/gm) ?? [];

  // Node B's own token key, by an openvpn wrapper (bench only).
  const realOpenvpn = findOpenvpn();
  const otherKey = path.join(bench.work, 'node-b-own-auth-token.key');
  execFileSync(realOpenvpn, ['--genkey', 'auth-token', otherKey], { stdio: 'ignore' });
  await chmod(otherKey, 0o600);
  const wrapper = path.join(bench.work, 'openvpn-own-token-key');
  await writeFile(wrapper, `#!/bin/sh\nexec ${realOpenvpn} "$@" --auth-gen-token-secret ${otherKey}\n`, { mode: 0o755 });
  const ownKeyEnv = { ...process.env, FERRY_OPENVPN: wrapper };

  const openvpnVersion = execFileSync(realOpenvpn, ['--version'], { encoding: 'utf8' }).split('\n')[0]!.split(' ').slice(0, 2).join(' ');
  console.log(`cluster: 2 ferry-server nodes (dist/), ${PROTO.toUpperCase()}, two-factor on, a private PostgreSQL on a unix socket; client engine ${openvpnVersion}`);
  console.log(`bundle remotes: ${remotes.join('; ')}`);
  console.log(`own key on B: FERRY_OPENVPN=${wrapper} (execs openvpn … --auth-gen-token-secret ${path.basename(otherKey)})`);

  let bMode: 'shared' | 'own' = 'shared';
  let aKilledAt = -Infinity;
  await Promise.all([cluster.ready('a'), cluster.ready('b')]);
  /** Node B's output with arrival times (a second reader on the same pipes). */
  let bTimed = new Proc(cluster.gateways.get('b')!.child, 'node b');

  async function nodeB(mode: 'shared' | 'own'): Promise<Watched> {
    if (mode !== bMode) {
      await cluster.gateways.get('b')!.stop('SIGTERM');
      const w = cluster.start('b', mode === 'own' ? ownKeyEnv : undefined);
      bTimed = new Proc(w.child, 'node b');
      await w.waitFor(READY_LINE);
      bMode = mode;
    }
    return cluster.gateways.get('b')!;
  }

  /** Node A running again; after a kill its heartbeat must go stale first (NODE_DEAD_AFTER_S). */
  async function nodeA(): Promise<Watched> {
    const running = cluster.gateways.get('a');
    if (running && running.child.exitCode === null && running.child.signalCode === null) return running;
    const deadline = performance.now() + 60_000;
    await sleep(Math.max(0, aKilledAt + NODE_DEAD_AFTER_S * 1000 + 300 - performance.now()));
    for (;;) {
      const w = cluster.start('a');
      const outcome = await Promise.race([w.waitFor(READY_LINE, 60_000).then(() => 'ready' as const), w.exited.then(() => 'exited' as const)]);
      if (outcome === 'ready') return w;
      if (performance.now() > deadline) throw new Error(`node a does not start again:\n${w.lines.slice(-10).join('\n')}`);
      await sleep(500);
    }
  }

  /** Times the terminal prompt "Password for …" was shown, each answered at once with the password. */
  const prompts = new WeakMap<Proc, number[]>();

  /**
   * `ferry connect NAME --json` on a terminal (util-linux `script` gives it a pty), a person
   * typing the password at each prompt the moment it shows, should the CLI ask again.
   */
  function ferryOnTerminal(): Proc {
    const command = [process.execPath, FERRY, 'connect', ACCOUNT, '--json'].map((a) => `'${a}'`).join(' ');
    const proc = bench.spawn('client', ['script', '-qfec', command, '/dev/null'], 'ferry connect (terminal)', { env: user.env, stdin: true });
    const shown: number[] = [];
    prompts.set(proc, shown);
    let text = '';
    proc.child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const count = text.match(/Password for [^:]*: /g)?.length ?? 0;
      while (shown.length < count) {
        shown.push(performance.now());
        proc.child.stdin?.write(`${password}\r`);
      }
    });
    return proc;
  }

  function startClient(kind: Kind): Proc {
    if (kind === 'ferry') return bench.ferryConnect(ferryUser);
    if (kind === 'ferry-own') return ferryOnTerminal();
    return bench.spawn('client', [realOpenvpn, '--config', rawConfig], 'raw openvpn');
  }

  /** Ctrl-C for the terminal one (as a person would), SIGINT for `ferry connect`, SIGTERM for openvpn. */
  async function stopClient(kind: Kind, client: Proc): Promise<number | null> {
    if (kind !== 'ferry-own') return client.stop(isFerry(kind) ? 'SIGINT' : 'SIGTERM');
    client.child.stdin?.write('\x03');
    const code = await Promise.race([client.exited, sleep(15_000).then(() => 'timeout' as const)]);
    return code === 'timeout' ? client.stop('SIGTERM') : code;
  }

  async function round(kind: Kind): Promise<Failover> {
    const b = await nodeB(ownKey(kind) ? 'own' : 'shared');
    const a = await nodeA();
    const fromA = a.lines.length;
    const client = startClient(kind);
    const connected = isFerry(kind) ? CONNECTED_LINE : INIT_LINE;
    try {
      await client.waitFor(connected, 60_000);
      const onA = a.lines.slice(fromA).some((l) => ADMITTED.test(l));
      if (!onA) throw new Error(`${LABEL[kind]}: connected, but not through node A:\n${a.lines.slice(-10).join('\n')}`);
      const from = client.lines.length;
      const fromB = b.lines.length;
      const fromBTimed = bTimed.lines.length;
      aKilledAt = await cluster.killNode('a');
      const back = await client.waitFor(connected, FAILOVER_TIMEOUT_MS, from);
      const after = client.lines.slice(from);
      const noticedLine = isFerry(kind) ? after.find((l) => /"state":"RECONNECTING"/.test(l.line)) : after[0];
      // B logs its admission before the client's CONNECTED; give its pipe a moment anyway.
      let how: How = 'unknown';
      for (let i = 0; i < 20 && how === 'unknown'; i++) {
        how = howAdmitted(b.lines.slice(fromB));
        if (how === 'unknown') await sleep(50);
      }
      if (TRACE) for (const l of client.lines.slice(from)) if (l.at <= back.at) console.log(`      [${LABEL[kind]} +${ms(l.at - aKilledAt)}] ${l.line.trim().slice(0, 160)}`);
      const reachedB = bTimed.lines.slice(fromBTimed).find((l) => l.at >= aKilledAt && GATEWAY_SEES_CLIENT.test(l.line));
      const askedAt = (prompts.get(client) ?? []).find((t) => t > aKilledAt);
      return {
        total: back.at - aKilledAt,
        noticed: noticedLine ? noticedLine.at - aKilledAt : NaN,
        reachedB: reachedB ? reachedB.at - aKilledAt : NaN,
        asked: askedAt !== undefined ? askedAt - aKilledAt : NaN,
        how,
      };
    } finally {
      const code = await stopClient(kind, client);
      if (isFerry(kind) && code !== 0) console.log(`    note: ferry connect exited ${code} after SIGINT`);
      await bench.tunnelDown();
    }
  }

  const results: Record<Kind, Failover[]> = { ferry: [], raw: [], 'ferry-own': [], 'raw-own': [] };
  console.log(`\n${RUNS} rounds; each: fresh client on node A, SIGKILL node A, time to CONNECTED on node B; order rotates every round ...`);
  for (let r = 0; r < RUNS; r++) {
    const order = [...KINDS.slice(r % KINDS.length), ...KINDS.slice(0, r % KINDS.length)];
    const got: string[] = [];
    for (const kind of order) {
      const f = await round(kind);
      results[kind].push(f);
      got.push(`${LABEL[kind]} ${ms(f.total)} (${f.how}${Number.isFinite(f.asked) ? `, asked again at ${ms(f.asked)}` : ''})`);
    }
    console.log(`    round ${String(r + 1).padStart(2)}: ${got.join(', ')}`);
  }

  const cell = (xs: number[]) => (xs.every(Number.isFinite) ? `${ms(median(xs))} [${spread(xs, ms)}]` : `${ms(median(xs.filter(Number.isFinite)))} (some n/a)`);
  const asked = (fs: Failover[]) => {
    const times = fs.map((f) => f.asked).filter(Number.isFinite);
    return times.length ? `${ms(median(times))} (${times.length}/${fs.length} rounds)` : `never (0/${fs.length})`;
  };
  const hows = (fs: Failover[]) => {
    const count = (h: How) => fs.filter((f) => f.how === h).length;
    return [count('token') && `token ${count('token')}`, count('password') && `password ${count('password')}`, count('unknown') && `unknown ${count('unknown')}`].filter(Boolean).join(', ');
  };
  printTable(`failover, node A SIGKILLed → CONNECTED on node B (${RUNS} rounds each; median [min – max])`, [
    ['client', 'kill → CONNECTED', 'kill → client noticed', 'kill → client seen at B', 'kill → password asked again', 'node B admitted by'],
    ...KINDS.map((k) => [LABEL[k], cell(results[k].map((f) => f.total)), cell(results[k].map((f) => f.noticed)), cell(results[k].map((f) => f.reachedB)), asked(results[k]), hows(results[k])]),
  ]);
  const med = (k: Kind) => median(results[k].map((f) => f.total));
  const ratio = (x: Kind, y: Kind) => [`${LABEL[x]} / ${LABEL[y]}`, `${ms(med(x))} / ${ms(med(y))}`, `${(med(x) / med(y)).toFixed(2)}×`, `${med(x) - med(y) >= 0 ? '+' : ''}${ms(med(x) - med(y))}`];
  printTable('ratios of the medians', [
    ['ratio', 'medians', 'ratio', 'difference'],
    ratio('ferry', 'raw'),
    ratio('ferry-own', 'ferry'),
    ratio('raw-own', 'raw'),
    ratio('ferry-own', 'raw-own'),
  ]);
  console.log('\nnote: "own key on B" is a bench-only setup (an openvpn wrapper adds --auth-gen-token-secret with a key of its own on node B);');
  console.log('      the token node A issued is then invalid on B, which needs the password again (Ferry sends the one it has; raw openvpn re-reads its file).');
}
