/** Long-running processes in the lab (gateway, stock openvpn clients) with their output. */
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Lab, LabNs } from '../lab/lab.js';
import { FERRY_SERVER } from './cli.js';

export class Watched {
  readonly lines: string[] = [];
  private waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess, readonly label: string) {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));
  }

  /** Resolves with the first line (past or future) matching `re`; rejects with the log after `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.label}: no line matching ${re} within ${timeoutMs} ms; output:\n${this.lines.slice(-30).join('\n')}`));
      }, timeoutMs);
      this.waiters.push({ re, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  /** Waits until at least `count` lines match `re` (e.g. the second "connected" after a restart). */
  async waitForCount(re: RegExp, count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.filter((l) => re.test(l)).length < count) {
      if (Date.now() > deadline) throw new Error(`${this.label}: fewer than ${count} lines matching ${re}:\n${this.lines.slice(-30).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits for the first of several patterns and says which matched. */
  async waitForAny(patterns: Record<string, RegExp>, timeoutMs = 30_000): Promise<string> {
    const entries = Object.entries(patterns);
    return Promise.race(entries.map(([name, re]) => this.waitFor(re, timeoutMs).then(() => name)));
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

export function startGateway(lab: Lab, dir: string): Watched {
  return new Watched(lab.spawn('gateway', [process.execPath, FERRY_SERVER, 'run', '--dir', dir]), 'gateway');
}

export async function readyGateway(lab: Lab, dir: string): Promise<Watched> {
  const gateway = startGateway(lab, dir);
  await gateway.waitFor(/ferry-server: gateway .* ready/);
  return gateway;
}

/** A stock openvpn client in the client namespace. `--auth-retry none` makes it exit on AUTH_FAILED. */
export function startOpenvpnClient(lab: Lab, config: string, extra: string[] = [], ns: LabNs = 'client'): Watched {
  return new Watched(lab.spawn(ns, ['openvpn', '--config', config, '--auth-retry', 'none', '--connect-retry', '1', '--verb', '3', ...extra]), 'openvpn client');
}

export const CONNECTED = /Initialization Sequence Completed/;
export const AUTH_FAILED = /AUTH_FAILED/;

/** A hand-written client config naming the bundle's three PEM files, as the seed's users do. */
export async function handWrittenConfig(dir: string, opts: { host: string; port: number; proto: 'tcp' | 'udp'; credentials?: [string, string] }): Promise<string> {
  const lines = [
    'client',
    'dev tun',
    `proto ${opts.proto === 'tcp' ? 'tcp-client' : 'udp'}`,
    `remote ${opts.host} ${opts.port}`,
    'nobind',
    `ca ${path.join(dir, 'ca.crt')}`,
    `cert ${path.join(dir, 'client.crt')}`,
    `key ${path.join(dir, 'client.key')}`,
    'remote-cert-tls server',
  ];
  if (opts.credentials) {
    const file = path.join(dir, 'credentials');
    await writeFile(file, `${opts.credentials[0]}\n${opts.credentials[1]}\n`, { mode: 0o600 });
    lines.push(`auth-user-pass ${file}`);
  }
  const config = path.join(dir, 'hand.conf');
  await writeFile(config, `${lines.join('\n')}\n`);
  return config;
}
