/**
 * Pushed DNS, applied and restored by the helper (user scripts are forbidden, so openvpn
 * cannot do it itself). Three ways, best first: systemd-resolved (`resolvectl`, per
 * link), `resolvconf` (Debian's or openresolv), else a guarded rewrite of
 * /etc/resolv.conf whose original is kept on disk and always put back — at session end,
 * at helper shutdown, and at the next helper start after a crash.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { writeFileAtomic } from '../../core/util/atomic-file.js';
import { stopProcess } from '../../core/util/stop-process.js';

export interface DnsConfig {
  servers: string[];
  domains: string[];
}

export interface DnsBackend {
  readonly name: string;
  apply(session: string, dev: string, dns: DnsConfig): Promise<void>;
  restore(session: string, dev: string): Promise<void>;
  /** After a crash: undo whatever a previous helper left applied. */
  recover(): Promise<void>;
}

const DOMAIN = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/;

/**
 * The DNS part of what the server pushed, from the `foreign_option_N` variables openvpn
 * hands its --up hook. The server is not trusted: anything that is not an address or a
 * plain domain name is dropped, so nothing can be injected into resolv.conf.
 */
export function parsePushedDns(foreignOptions: string[]): DnsConfig {
  const servers: string[] = [];
  const domains: string[] = [];
  for (const option of foreignOptions) {
    const [keyword, kind, value, ...rest] = option.trim().split(/\s+/);
    if (keyword !== 'dhcp-option' || !kind || !value || rest.length > 0) continue;
    const k = kind.toUpperCase();
    if ((k === 'DNS' || k === 'DNS6') && isIP(value) && servers.length < 8 && !servers.includes(value)) servers.push(value);
    if ((k === 'DOMAIN' || k === 'DOMAIN-SEARCH' || k === 'ADAPTER_DOMAIN_SUFFIX') && DOMAIN.test(value) && domains.length < 8 && !domains.includes(value)) domains.push(value);
  }
  return { servers, domains };
}

/** How long resolvectl or resolvconf may take. */
const COMMAND_TIMEOUT_MS = 10_000;

export type CommandRunner = (command: string, args: string[], stdin?: string) => Promise<void>;

export const runCommand: CommandRunner = (command, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // A resolver tool that hangs is stopped as every child is: SIGTERM, then SIGKILL.
    const timer = setTimeout(() => void stopProcess(child, 1_000), COMMAND_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || `exit code ${code}`}`));
    });
    child.stdin.end(stdin ?? '');
  });

export class ResolvectlDns implements DnsBackend {
  readonly name = 'systemd-resolved';
  constructor(private readonly run: CommandRunner = runCommand) {}

  async apply(_session: string, dev: string, dns: DnsConfig): Promise<void> {
    await this.run('resolvectl', ['dns', dev, ...dns.servers]);
    // Without pushed domains the tunnel's servers answer every name ("~." routes all).
    await this.run('resolvectl', ['domain', dev, ...(dns.domains.length ? dns.domains : ['~.'])]);
  }

  async restore(_session: string, dev: string): Promise<void> {
    // The link usually vanished with the tunnel already; then there is nothing to revert.
    await this.run('resolvectl', ['revert', dev]).catch(() => {});
  }

  async recover(): Promise<void> {}
}

export class ResolvconfDns implements DnsBackend {
  readonly name = 'resolvconf';
  constructor(private readonly run: CommandRunner = runCommand) {}

  async apply(_session: string, dev: string, dns: DnsConfig): Promise<void> {
    await this.run('resolvconf', ['-a', `${dev}.ferry`], resolvConfLines(dns).join('\n') + '\n');
  }

  async restore(_session: string, dev: string): Promise<void> {
    await this.run('resolvconf', ['-d', `${dev}.ferry`, '-f']).catch(() => {});
  }

  async recover(): Promise<void> {}
}

function resolvConfLines(dns: DnsConfig): string[] {
  return [...dns.servers.map((s) => `nameserver ${s}`), ...(dns.domains.length ? [`search ${dns.domains.join(' ')}`] : [])];
}

/**
 * Rewrites resolv.conf in place (it may be a symlink's target or, in a network
 * namespace, a bind mount, where rename() fails). The original is saved first under the
 * helper's state directory; what Ferry last wrote is saved too, so a file someone else
 * changed meanwhile is left alone rather than clobbered with an old copy.
 */
export class ResolvConfFileDns implements DnsBackend {
  readonly name = 'resolv.conf';
  private readonly sessions = new Map<string, DnsConfig>();
  private readonly original: string;
  private readonly ours: string;

  constructor(
    private readonly file: string,
    stateDir: string,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.original = path.join(stateDir, 'resolv.conf.original');
    this.ours = path.join(stateDir, 'resolv.conf.ferry');
  }

  async apply(session: string, _dev: string, dns: DnsConfig): Promise<void> {
    if (!existsSync(this.original)) await writeFileAtomic(this.original, await readFile(this.file, 'utf8').catch(() => ''));
    this.sessions.delete(session);
    this.sessions.set(session, dns);
    await this.write();
  }

  async restore(session: string, _dev: string): Promise<void> {
    if (!this.sessions.delete(session)) return;
    if (this.sessions.size > 0) await this.write();
    else await this.putBack();
  }

  async recover(): Promise<void> {
    if (existsSync(this.original)) await this.putBack();
  }

  private async write(): Promise<void> {
    const original = await readFile(this.original, 'utf8');
    // The newest session's servers first; then the original ones, so names outside the
    // VPN still resolve if the tunnel's servers do not recurse (glibc reads three).
    const live = [...this.sessions.values()].reverse();
    const servers = [...new Set([...live.flatMap((d) => d.servers), ...originalValues(original, 'nameserver')])];
    const domains = [...new Set([...live.flatMap((d) => d.domains), ...originalValues(original, 'search').flatMap((s) => s.split(/\s+/))])];
    const options = original.split('\n').filter((l) => /^options\s/.test(l));
    const content = ['# Written by ferry-helper while a VPN session is up; the original comes back when it ends.', ...resolvConfLines({ servers, domains }), ...options, ''].join('\n');
    await writeFile(this.file, content);
    await writeFileAtomic(this.ours, content);
  }

  private async putBack(): Promise<void> {
    const original = await readFile(this.original, 'utf8');
    const ours = await readFile(this.ours, 'utf8').catch(() => undefined);
    const current = await readFile(this.file, 'utf8').catch(() => undefined);
    if (ours === undefined || current === ours) await writeFile(this.file, original);
    else this.log(`${this.file} was changed by someone else while Ferry's DNS was applied; leaving it as it is`);
    await rm(this.ours, { force: true });
    await rm(this.original, { force: true });
  }
}

function originalValues(content: string, keyword: string): string[] {
  return content
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([k]) => k === keyword)
    .map((parts) => parts.slice(1).join(' '))
    .filter(Boolean);
}

/** The best mechanism this machine has (see the header). */
export function pickDnsBackend(stateDir: string, log: (message: string) => void, run: CommandRunner = runCommand, env: NodeJS.ProcessEnv = process.env): DnsBackend {
  const onPath = (name: string) => (env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => dir && existsSync(path.join(dir, name)));
  if (onPath('resolvectl') && existsSync('/run/systemd/resolve/io.systemd.Resolve')) return new ResolvectlDns(run);
  if (onPath('resolvconf')) return new ResolvconfDns(run);
  return new ResolvConfFileDns('/etc/resolv.conf', stateDir, log);
}
