/** Runs the built `ferry` client as a user would: its own $FERRY_HOME and runtime dir per test. */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { KeychainSecretStore } from '../../core/secrets/secret-store.js';
import type { Lab } from '../lab/lab.js';
import { FERRY, runCli, tempDir, type CliResult } from './cli.js';
import { Watched } from './processes.js';

export interface ClientHome {
  home: string;
  runtime: string;
  env: NodeJS.ProcessEnv;
}

export async function clientHome(): Promise<ClientHome> {
  const base = await tempDir('ferry-client-');
  const home = path.join(base, 'home');
  const runtime = path.join(base, 'run');
  await mkdir(runtime, { mode: 0o700 });
  // English failure reasons whatever the developer's locale (tests that want Chinese set LANG themselves).
  const { LC_ALL: _all, LC_MESSAGES: _messages, ...env } = process.env;
  return { home, runtime, env: { ...env, LANG: 'en_US.UTF-8', FERRY_HOME: home, XDG_RUNTIME_DIR: runtime } };
}

export function ferry(client: ClientHome, args: string[], input?: string): Promise<CliResult> {
  return runCli(FERRY, args, { env: client.env, ...(input !== undefined ? { input } : {}) });
}

/**
 * `ferry connect NAME --json` in the lab's client namespace (where openvpn must run), with
 * `stdin` written and closed — never a terminal, as in CI.
 */
export function startConnect(lab: Lab, client: ClientHome, name: string, opts: { stdin?: string; args?: string[] } = {}): Watched {
  const child = lab.spawn('client', [process.execPath, FERRY, 'connect', name, '--json', ...(opts.args ?? [])], { stdio: ['pipe', 'pipe', 'pipe'], env: client.env });
  child.stdin?.end(opts.stdin ?? '');
  return new Watched(child, `ferry connect ${name}`);
}

export const STATE = (state: string) => new RegExp(`"state":"${state}"`);

/** The states a `--json` connect printed, in order. */
export function statesOf(w: Watched): string[] {
  return w.lines.flatMap((l) => {
    const m = /^\{"state":"([A-Z]+)"/.exec(l);
    return m ? [m[1]!] : [];
  });
}

/**
 * Why keychain tests cannot run here, or undefined. Under CI=true a missing keychain is
 * a failure, never a skip (the test command runs inside scripts/with-keyring.sh).
 */
export async function keychainSkipReason(): Promise<string | undefined> {
  try {
    const store = new KeychainSecretStore();
    await store.set('probe', 'password', 'probe');
    await store.delete('probe', 'password');
    return undefined;
  } catch (err) {
    const reason = `no OS keychain: ${(err as Error).message}`;
    if (process.env.CI === 'true') throw new Error(reason);
    return reason;
  }
}

/** What a session may leave in the client namespace: openvpn processes and tun devices. */
export async function clientLeftovers(lab: Lab): Promise<{ openvpnPids: number[]; tunDevices: string[] }> {
  // `ip netns pids` must run from the root namespace (pgrep would see every namespace's openvpn).
  const out = await new Promise<string>((resolve) => execFile('ip', ['netns', 'pids', lab.ns.client], (_e, stdout) => resolve(stdout)));
  const pids = out.split('\n').filter(Boolean).map(Number);
  const names = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')));
  const links = await lab.exec('client', ['ip', '-o', 'link', 'show', 'type', 'tun']);
  return { openvpnPids: pids.filter((_, i) => names[i]!.trim() === 'openvpn'), tunDevices: links.stdout.split('\n').filter(Boolean) };
}

/** Every file below `dir`, as one text, for secret scans. */
export async function filesText(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const texts = await Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(path.join(e.parentPath, e.name), 'utf8').catch(() => '')));
  return texts.join('\n');
}

/** argv and environment of every process on the machine (all namespaces share /proc here), for secret scans. */
export async function processArgvAndEnv(): Promise<string> {
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  const texts = await Promise.all(pids.flatMap((pid) => ['cmdline', 'environ'].map((f) => readFile(`/proc/${pid}/${f}`, 'latin1').catch(() => ''))));
  return texts.join('\n');
}
