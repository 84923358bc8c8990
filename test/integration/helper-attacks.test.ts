/**
 * ferry-helper against a hostile local user: real helper processes (root), real openvpn
 * (started and left waiting in its management hold, so no network is needed), and real
 * unprivileged users (useradd + setpriv) doing what an attacker on the same machine
 * would: racing links into the session's directories while root removes them, flooding
 * starts, never reading, trickling bytes, hogging connections. Each test was written as
 * the attack first; the helper before this hardening failed each of them.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../support/cli.js';
import { hogConnections, holdConnections, rawReply } from '../support/helper-requests.js';
import { Watched } from '../support/processes.js';
import { until } from '../support/until.js';
import { createTestGroup, createTestUser, removeTestGroup, removeTestUser, type TestGroup, type TestUser } from '../support/users.js';

const exec = promisify(execFile);
const HELPER = path.join(ROOT, 'bin/ferry-helper.js');
const CHATTY = path.join(ROOT, 'test/support/chatty-openvpn.cjs');
const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root (real users and a root helper)' : undefined;

/** What the chatty stand-in writes before it idles, and the helper's RSS bound under it. */
const CHATTY_BYTES = 300 * 1024 * 1024;
const RSS_BOUND_MB = 250;

interface RunningHelper {
  socket: string;
  dir: string;
  process: Watched;
}

describe.skipIf(skip)('ferry-helper under attack by a local user', () => {
  let group: TestGroup;
  let alice: TestUser;
  let bob: TestUser;
  let ca: string;
  const helpers: RunningHelper[] = [];

  async function startHelper(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningHelper> {
    const parent = await tempDir('ferry-helper-attack-');
    await chmod(parent, 0o755);
    const dir = path.join(parent, 'run');
    const socket = path.join(dir, 'helper.sock');
    const child = spawn(process.execPath, [HELPER, '--socket', socket, '--group', group.name, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    const helper = { socket, dir, process: new Watched(child, 'ferry-helper') };
    helpers.push(helper);
    await helper.process.waitFor(/ferry-helper: serving/);
    return helper;
  }

  /** A start request; openvpn will wait in its hold (nobody releases it), so nothing is dialled. */
  function startRequest(label: string): string {
    const spec = { remotes: [{ host: '198.18.0.1', port: 1194, proto: 'udp' }], engine: { dev: 'tun', remoteCertTls: 'server' }, passwordRequired: true, guiVersion: 'Ferry test' };
    return `${JSON.stringify({ op: 'start', label, spec, files: { ca } })}\n`;
  }

  async function sessionsOf(helper: RunningHelper): Promise<{ sessions: string[]; mgmt: string[] }> {
    return { sessions: await readdir(path.join(helper.dir, 'sessions')), mgmt: await readdir(path.join(helper.dir, 'mgmt')) };
  }

  async function stopAll(helper: RunningHelper, users: TestUser[]): Promise<void> {
    for (const user of users) {
      const { result } = await rawReply(helper.socket, '{"op":"list"}\n', user);
      for (const { id } of result as Array<{ id: string }>) await rawReply(helper.socket, `{"op":"stop","id":"${id}","signal":"SIGKILL"}\n`, user);
    }
    await until(async () => {
      const left = await sessionsOf(helper);
      return left.sessions.length === 0 && left.mgmt.length === 0;
    }, 'every session to be removed', 10_000);
  }

  beforeAll(async () => {
    group = await createTestGroup();
    alice = await createTestUser('', group);
    bob = await createTestUser('', group);
    const dir = await tempDir('ferry-helper-ca-');
    await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'ca.key'), '-out', path.join(dir, 'ca.crt'), '-subj', '/CN=Attack test CA', '-days', '2']);
    ca = await readFile(path.join(dir, 'ca.crt'), 'utf8');
  });

  afterAll(async () => {
    for (const h of helpers) await h.process.stop('SIGTERM');
    await removeTestUser(alice);
    await removeTestUser(bob);
    await removeTestGroup(group);
  });

  it("a link raced into the session's directories while it stops never sends root's deletes elsewhere", async () => {
    const helper = await startHelper();
    // The victim: a root-only directory the attacker cannot even list.
    const victim = await tempDir('ferry-victim-');
    await chmod(victim, 0o700);
    const victimFiles = Array.from({ length: 20 }, (_, i) => `precious-${i}`);
    for (const f of victimFiles) await writeFile(path.join(victim, f), f);

    const held = holdConnections(helper.socket, [startRequest('race')], bob);
    const [reply] = await held.replies;
    expect(reply).toMatchObject({ ok: true });
    const { id, managementSocket } = reply!.result as { id: string; managementSocket: string };
    const mgmtDir = path.dirname(managementSocket);
    const sessionDir = path.join(helper.dir, 'sessions', id);

    // The attacker hammers every place root will remove, until the session is gone.
    const attack = `const fs=require('fs');const [victim,mgmt,sess]=process.argv.slice(1);const codes={};let made=0;
const tryIt=(f)=>{try{f();made++}catch(e){codes[e.code]=(codes[e.code]||0)+1}};
const t=setInterval(()=>{for(let i=0;i<20;i++){tryIt(()=>fs.symlinkSync(victim,mgmt+'/evil'+i));tryIt(()=>fs.mkdirSync(mgmt+'/d'+i));
tryIt(()=>fs.symlinkSync(victim,sess+'/evil'+i));tryIt(()=>fs.renameSync(mgmt,mgmt+'.x'))}
if(!started){started=true;console.log('attacking')}
if(!fs.existsSync(mgmt)){clearInterval(t);console.log(JSON.stringify({made,codes}))}},1);let started=false;`;
    const attacker = new Watched(spawn(bob.asUser[0]!, [...bob.asUser.slice(1), process.execPath, '-e', attack, victim, mgmtDir, sessionDir], { stdio: ['ignore', 'pipe', 'pipe'] }), 'attacker');
    await attacker.waitFor(/^attacking$/);
    expect(await rawReply(helper.socket, `{"op":"stop","id":"${id}"}\n`, bob)).toEqual({ ok: true, result: null });
    await attacker.exited;
    const outcome = JSON.parse(attacker.lines.at(-1)!) as { made: number; codes: Record<string, number> };
    expect(outcome.made).toBe(0);
    expect(Object.keys(outcome.codes).filter((c) => c !== 'EACCES' && c !== 'ENOENT')).toEqual([]);
    expect((await readdir(victim)).sort()).toEqual([...victimFiles].sort());
    await until(async () => (await sessionsOf(helper)).sessions.length === 0, 'the session to be removed', 10_000);
    held.release();

    // Even entries the helper did not make (planted here by root, as if a user could have):
    // removal unlinks only its own names, so a link and a directory in there stay untouched.
    const second = holdConnections(helper.socket, [startRequest('planted')], bob);
    const [planted] = await second.replies;
    const plantedId = (planted!.result as { id: string }).id;
    const plantedMgmt = path.join(helper.dir, 'mgmt', plantedId);
    const plantedSession = path.join(helper.dir, 'sessions', plantedId);
    await symlink(victim, path.join(plantedMgmt, 'evil'));
    await mkdir(path.join(plantedSession, 'sub'));
    await symlink(victim, path.join(plantedSession, 'sub', 'evil'));
    await rawReply(helper.socket, `{"op":"stop","id":"${plantedId}"}\n`, bob);
    await helper.process.waitFor(new RegExp(`session ${plantedId}: left .*${plantedId} in place, it holds unexpected entries \\(sub\\)`), 10_000);
    await helper.process.waitFor(new RegExp(`session ${plantedId}: left .*${plantedId} in place, it holds unexpected entries \\(evil\\)`), 10_000);
    expect((await readdir(victim)).sort()).toEqual([...victimFiles].sort());
    expect(await readdir(plantedMgmt)).toEqual(['evil']);
    expect(await readdir(plantedSession)).toEqual(['sub']);
    second.release();
    await rm(plantedMgmt, { recursive: true });
    await rm(plantedSession, { recursive: true });
  });

  it('40 parallel starts never exceed the per-user or machine limits, and a label runs once', async () => {
    const helper = await startHelper(['--max-sessions', '6']);
    const aliceStarts = holdConnections(helper.socket, Array.from({ length: 20 }, (_, i) => startRequest(`a${i}`)), alice);
    const bobStarts = holdConnections(helper.socket, Array.from({ length: 20 }, (_, i) => startRequest(`b${i}`)), bob);
    const [a, b] = await Promise.all([aliceStarts.replies, bobStarts.replies]);
    const okA = a.filter((r) => r?.ok).length;
    const okB = b.filter((r) => r?.ok).length;
    expect(okA).toBeLessThanOrEqual(4);
    expect(okB).toBeLessThanOrEqual(4);
    expect(okA + okB).toBe(6);
    const refusals = new Set([...a, ...b].filter((r) => !r?.ok).map((r) => r?.error?.replace(/\(at most \d+\)/, '(at most N)')));
    expect([...refusals].sort()).toEqual(
      [
        'at most 4 sessions per user: disconnect one first',
        'this machine already runs 6 VPN sessions, the most ferry-helper allows',
        'too many connections from your user (at most 16 at once)',
        'too many open sessions and watchers for your user (at most N); close another Ferry window first',
      ].filter((m) => refusals.has(m)),
    );
    expect((await sessionsOf(helper)).sessions).toHaveLength(6);
    // The callers going away leaves the sessions running (an app restarting takes them over).
    aliceStarts.release();
    bobStarts.release();
    await Promise.all([aliceStarts.exited, bobStarts.exited]);
    expect((await sessionsOf(helper)).sessions).toHaveLength(6);
    await stopAll(helper, [alice, bob]);

    // Eight starts of one label at once: exactly one runs.
    const dup = holdConnections(helper.socket, Array.from({ length: 8 }, () => startRequest('same')), bob);
    const dupReplies = await dup.replies;
    expect(dupReplies.filter((r) => r?.ok)).toHaveLength(1);
    expect(dupReplies.filter((r) => !r?.ok).every((r) => /^a session for "same" is already running/.test(r!.error!))).toBe(true);
    dup.release();
    await stopAll(helper, [bob]);
    expect(await sessionsOf(helper)).toEqual({ sessions: [], mgmt: [] });
  });

  it(`100 silent watchers of a session that logs ${CHATTY_BYTES >> 20} MB keep the helper under ${RSS_BOUND_MB} MB`, async () => {
    // A stand-in openvpn that logs without pause (real openvpn at verb 3 is too quiet to flood).
    const work = await tempDir('ferry-chatty-');
    await chmod(work, 0o755);
    const wrapper = path.join(work, 'openvpn');
    const progress = path.join(work, 'progress');
    // The helper gives openvpn nothing of its environment but PATH: the settings ride in the wrapper.
    await writeFile(wrapper, `#!/bin/sh\nCHATTY_BYTES=${CHATTY_BYTES} CHATTY_PROGRESS=${progress} exec ${process.execPath} ${CHATTY} "$@"\n`, { mode: 0o755 });
    const helper = await startHelper([], { FERRY_OPENVPN: wrapper });

    const starter = holdConnections(helper.socket, [startRequest('chatty')], alice);
    const [started] = await starter.replies;
    expect(started).toMatchObject({ ok: true });
    const { id } = started!.result as { id: string };
    const watchers = holdConnections(helper.socket, Array.from({ length: 100 }, () => `{"op":"watch","id":"${id}"}\n`), alice);
    const replies = await watchers.replies;
    // One user holds at most 8 streams and 16 connections at once (16 more are told no); a
    // slot comes free when the helper drops a watcher for not reading, which under this
    // much output is soon. The rest are told why.
    expect(replies.filter((r) => r?.ok).length).toBeGreaterThanOrEqual(7);
    const reasons = new Set(replies.filter((r) => !r?.ok).map((r) => r?.error?.replace(/\(at most \d+( at once)?\)/, '(N)')));
    // (undefined: a user far over the limit is closed on without a word.)
    expect([...reasons].filter((e) => e !== undefined && !['too many open sessions and watchers for your user (N); close another Ferry window first', 'too many connections from your user (N)'].includes(e))).toEqual([]);

    await until(async () => Number(await readFile(progress, 'utf8').catch(() => '0')) >= CHATTY_BYTES, 'the chatty openvpn to have logged everything', 120_000);
    const status = await readFile(`/proc/${helper.process.child.pid}/status`, 'utf8');
    const peakMb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) / 1024;
    console.log(`ferry-helper peak RSS with 100 silent watchers over ${CHATTY_BYTES >> 20} MB of log: ${peakMb.toFixed(0)} MB`);
    expect(peakMb).toBeLessThan(RSS_BOUND_MB);
    // Silent streams are dropped, not buffered (one accepted near the end may still sit
    // within its bound, unread).
    await helper.process.waitFor(/uid \d+: dropped a connection that stopped reading \(\d+ bytes unread\)/);
    // And the helper still answers.
    expect(await rawReply(helper.socket, '{"op":"status"}\n', alice)).toMatchObject({ ok: true, result: { sessions: 1 } });
    watchers.release();
    starter.release();
    await stopAll(helper, [alice]);
  }, 180_000);

  it('one person acting as many uids (subordinate uids, one login) gets one quota of connections and sessions', async () => {
    const helper = await startHelper();
    // What newuidmap hands an ordinary user: many uids. The kernel's login uid, which the
    // user cannot change, still names the one person behind them (set here as PAM would).
    const asUidOfLogin = (login: number, uid: number): TestUser => ({
      ...alice,
      uid,
      asUser: ['sh', '-c', `echo ${login} > /proc/self/loginuid && exec "$@"`, 'sh', 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, `--groups=${group.gid}`, '--inh-caps=-all', '--'],
    });
    // Eight of those uids keep 16 connections each open, reopening any the helper closes:
    // counted per uid they would hold all 128 of the machine's slots.
    const hogs = await Promise.all(Array.from({ length: 8 }, (_, i) => hogConnections(helper.socket, 16, asUidOfLogin(4242, 231001 + i))));
    // Someone else is served meanwhile, and so is root.
    expect(await rawReply(helper.socket, '{"op":"status"}\n', bob)).toMatchObject({ ok: true });
    expect(await rawReply(helper.socket, '{"op":"status"}\n')).toMatchObject({ ok: true });
    for (const h of hogs) h.release();

    const starters = Array.from({ length: 4 }, (_, i) => holdConnections(helper.socket, Array.from({ length: 4 }, (_, j) => startRequest(`l${i}-${j}`)), asUidOfLogin(4343, 232001 + i)));
    const started = (await Promise.all(starters.map((h) => h.replies))).flat();
    expect(started.filter((r) => r?.ok)).toHaveLength(4);
    expect(started.filter((r) => !r?.ok).every((r) => r?.error === 'at most 4 sessions per user: disconnect one first')).toBe(true);
    for (const h of starters) h.release();
    await helper.process.stop('SIGTERM');
    expect(await sessionsOf(helper)).toEqual({ sessions: [], mgmt: [] });
  });

  it('a trickling caller is cut at the deadline, and one user hogging connections cannot lock out another', async () => {
    const helper = await startHelper();
    // One byte every 200 ms of a valid (space-padded) request: it would take 9 s; the deadline is 5 s.
    const request = `${' '.repeat(30)}{"op":"status"}\n`;
    const trickle = `const s=require('net').createConnection(process.argv[1]);const r=process.argv[2];let i=0,got='';
s.on('data',d=>got+=d);s.on('error',()=>{});s.on('close',()=>{console.log(JSON.stringify({sent:i,got}));process.exit(0)});
const t=setInterval(()=>{if(i<r.length)s.write(r[i++])},200);`;
    const trickler = new Watched(spawn(bob.asUser[0]!, [...bob.asUser.slice(1), process.execPath, '-e', trickle, helper.socket, request], { stdio: ['ignore', 'pipe', 'pipe'] }), 'trickler');
    await trickler.exited;
    const { sent, got } = JSON.parse(trickler.lines.at(-1)!) as { sent: number; got: string };
    expect(got).toBe('');
    expect(sent).toBeLessThan(request.length);

    // 20 connections that never send: 16 are held until their deadline, the rest told at once.
    const hog = holdConnections(helper.socket, Array.from({ length: 20 }, () => ''), bob);
    await until(() => hog.received() >= 4, "the hog's connections over the limit to be refused", 10_000);
    const statusDuring = await rawReply(helper.socket, '{"op":"status"}\n', alice);
    expect(statusDuring).toMatchObject({ ok: true });
    const hogReplies = await hog.replies;
    expect(hogReplies.filter((r) => r?.error === 'too many connections from your user (at most 16 at once)')).toHaveLength(4);
    expect(hogReplies.filter((r) => r === undefined)).toHaveLength(16); // closed at the deadline, no reply
    hog.release();
    expect(await rawReply(helper.socket, '{"op":"status"}\n', bob)).toMatchObject({ ok: true });
  });
});
