/**
 * Pushed DNS, applied and restored by the helper (user scripts are forbidden, so openvpn
 * cannot do it itself). On Linux three ways, best first: systemd-resolved (`resolvectl`,
 * per link), `resolvconf` (Debian's or openresolv), else a guarded rewrite of
 * /etc/resolv.conf whose original is kept on disk and always put back — at session end,
 * at helper shutdown, and at the next helper start after a crash. On macOS the System
 * Configuration store, through `scutil` (ScutilDns below).
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

/** Servers, and domains, taken from what a gateway pushes; scutil's commands are checked against it again. */
const MAX_DNS_VALUES = 8;

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
    if ((k === 'DNS' || k === 'DNS6') && isIP(value) && servers.length < MAX_DNS_VALUES && !servers.includes(value)) servers.push(value);
    if ((k === 'DOMAIN' || k === 'DOMAIN-SEARCH' || k === 'ADAPTER_DOMAIN_SUFFIX') && DOMAIN.test(value) && domains.length < MAX_DNS_VALUES && !domains.includes(value)) domains.push(value);
  }
  return { servers, domains };
}

/** How long resolvectl or resolvconf may take. */
const COMMAND_TIMEOUT_MS = 10_000;

export type CommandRunner = (command: string, args: string[], stdin?: string) => Promise<void>;

export const runCommand: CommandRunner = async (command, args, stdin) => void (await runCommandOutput(command, args, stdin));

/** Runs a command and gives its standard output (bounded to 1 MiB). */
export const runCommandOutput = (command: string, args: string[], stdin?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < 1 << 20) stdout += chunk.toString('utf8');
    });
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
      if (code === 0) resolve(stdout);
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
export function pickDnsBackend(
  stateDir: string,
  log: (message: string) => void,
  run: CommandRunner = runCommand,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): DnsBackend {
  if (platform === 'darwin') return new ScutilDns(scutilRunner(), log);
  const onPath = (name: string) => (env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').some((dir) => dir && existsSync(path.join(dir, name)));
  if (onPath('resolvectl') && existsSync('/run/systemd/resolve/io.systemd.Resolve')) return new ResolvectlDns(run);
  if (onPath('resolvconf')) return new ResolvconfDns(run);
  return new ResolvConfFileDns('/etc/resolv.conf', stateDir, log);
}

// ---- macOS: the System Configuration store, through scutil ------------------------------
//
// As Tunnelblick's client.up/down.tunnelblick.sh and OpenVPN's own
// distro/dns-scripts/macos-dns-updown.sh do it, in two shapes:
//  - pushed domains (split DNS, as `resolvectl domain` on Linux): a service entry of
//    Ferry's own, State:/Network/Service/ferry-<session>/DNS, with the servers as
//    ServerAddresses and the domains as SupplementalMatchDomains; removed on exit
//    (macos-dns-updown.sh set_dns/unset_dns, the match-domains branch).
//  - no domains (every name through the tunnel, `~.` on Linux): the primary service's DNS
//    entry is replaced in BOTH State:/Network/Service/<primary>/DNS and
//    Setup:/Network/Service/<primary>/DNS. client.up.tunnelblick.sh: "in 10.8 and higher,
//    ServerAddresses and SearchDomains must be set via the Setup: key in addition to the
//    State: key"; macos-dns-updown.sh writes Setup: (its primary_dns_key). Each previous
//    content is first copied, as Tunnelblick does to State:/Network/OpenVPN/OldDNS and
//    OldDNSSetup, to State:/Network/Ferry/<session>/OldDNS and .../OldSetupDNS: a
//    dictionary holding only FerryNoSuchKey when there was none (its TunnelblickNoSuchKey
//    trick: `get` of a missing key leaves the dictionary as it was). On exit each is put
//    back, or the key removed when it had not existed (client.down.tunnelblick.sh,
//    restore_network_settings), then the backups are removed.
// The backups are the recovery record: State: keys, like Tunnelblick's, so they live
// exactly as long as configd's store does (Tunnelblick's down script: they "won't exist if
// the computer shut down or restarted while the VPN was connected"). So do the Setup: keys
// scutil writes: those in the store are configd's copy of the saved preferences, which its
// PreferencesMonitor writes when it starts and rewrites whenever the preferences are
// applied (configd Plugins/PreferencesMonitor/prefsmon.c, updateConfiguration, in the old
// version read); scutil never writes the preferences themselves. A helper that crashed
// leaves the backups for the next one, which finds them with `list` and restores from them.
// scutil reads its commands from standard input; every value in them is an address
// (isIP), a domain (DOMAIN), a session id or a service id checked here, so none can add a
// command.

/** scutil with the given commands on stdin; gives what it printed. */
export type ScutilRunner = (commands: string) => Promise<string>;

export function scutilRunner(run: typeof runCommandOutput = runCommandOutput): ScutilRunner {
  return (commands) => run('/usr/sbin/scutil', [], commands);
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SERVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`refusing ${what} ${JSON.stringify(value)} in a scutil command`);
  return value;
}

function checkedDns(dns: DnsConfig): DnsConfig {
  if (dns.servers.length > MAX_DNS_VALUES || dns.domains.length > MAX_DNS_VALUES) throw new Error(`refusing more than ${MAX_DNS_VALUES} DNS servers or domains (at most ${MAX_DNS_VALUES} each)`);
  if (dns.servers.length === 0 || dns.servers.some((s) => !isIP(s))) throw new Error('refusing DNS servers that are not addresses');
  if (dns.domains.some((d) => !DOMAIN.test(d))) throw new Error('refusing DNS domains that are not domain names');
  return dns;
}

export const scutilKeys = {
  globalIPv4: 'State:/Network/Global/IPv4',
  ownService: (session: string) => `State:/Network/Service/ferry-${checked(session, SESSION_ID, 'session id')}/DNS`,
  primaryService: (service: string) => `State:/Network/Service/${checked(service, SERVICE_ID, 'service id')}/DNS`,
  /** The same service's entry in the setup (configuration) domain, which macOS 10.8 and later also read (see above). */
  primarySetup: (service: string) => `Setup:/Network/Service/${checked(service, SERVICE_ID, 'service id')}/DNS`,
  backup: (session: string) => `State:/Network/Ferry/${checked(session, SESSION_ID, 'session id')}/OldDNS`,
  setupBackup: (session: string) => `State:/Network/Ferry/${checked(session, SESSION_ID, 'session id')}/OldSetupDNS`,
};

/** Asks for the primary service (State:/Network/Global/IPv4's PrimaryService). */
export function scutilPrimaryServiceQuery(): string {
  return `open\nshow ${scutilKeys.globalIPv4}\nquit\n`;
}

/** The primary service's id from `show State:/Network/Global/IPv4`; undefined without one. */
export function parsePrimaryService(output: string): string | undefined {
  const id = /^ {2}PrimaryService : (\S+)\s*$/m.exec(output)?.[1];
  return id !== undefined && SERVICE_ID.test(id) ? id : undefined;
}

/** Split DNS: the session's own service entry. */
export function scutilSplitApply(session: string, dns: DnsConfig): string {
  const { servers, domains } = checkedDns(dns);
  if (domains.length === 0) throw new Error('split DNS needs at least one domain');
  return [
    'open',
    'd.init',
    `d.add ServerAddresses * ${servers.join(' ')}`,
    `d.add SupplementalMatchDomains * ${domains.join(' ')}`,
    'd.add SupplementalMatchDomainsNoSearch # 1',
    `set ${scutilKeys.ownService(session)}`,
    'quit',
    '',
  ].join('\n');
}

/** Copies `key` to `backup`, marked FerryNoSuchKey when it does not exist, and names the service it belongs to. */
function backupLines(key: string, backup: string, service: string): string[] {
  return ['d.init', 'd.add FerryNoSuchKey true', `get ${key}`, `d.add FerryService ${checked(service, SERVICE_ID, 'service id')}`, `set ${backup}`];
}

/**
 * Every name through the tunnel: back up the primary service's State: and Setup: DNS
 * entries, both before either is changed, then replace both (client.up.tunnelblick.sh).
 * Search domains go in when given (ScutilDns sends none here: pushed domains mean split DNS).
 */
export function scutilFullApply(session: string, service: string, dns: DnsConfig): string {
  const { servers, domains } = checkedDns(dns);
  return [
    'open',
    ...backupLines(scutilKeys.primaryService(service), scutilKeys.backup(session), service),
    ...backupLines(scutilKeys.primarySetup(service), scutilKeys.setupBackup(session), service),
    'd.init',
    `d.add ServerAddresses * ${servers.join(' ')}`,
    ...(domains.length ? [`d.add SearchDomains * ${domains.join(' ')}`] : []),
    `set ${scutilKeys.primaryService(service)}`,
    `set ${scutilKeys.primarySetup(service)}`,
    'quit',
    '',
  ].join('\n');
}

/** Reads a session's backup of the State: entry (what scutilFullApply saved). */
export function scutilBackupQuery(session: string): string {
  return `open\nshow ${scutilKeys.backup(session)}\nquit\n`;
}

/** Reads a session's backup of the Setup: entry; a separate query, so parseBackup never sees two dictionaries at once. */
export function scutilSetupBackupQuery(session: string): string {
  return `open\nshow ${scutilKeys.setupBackup(session)}\nquit\n`;
}

/**
 * From `show <backup>`: whose DNS was replaced, and whether it had any. Undefined when there
 * is no backup. scutil indents a dictionary's own keys by two spaces and nested ones by more:
 * only the top level is ours (the saved DNS entry, from DHCP or another VPN, is nested data).
 */
export function parseBackup(output: string): { service: string; hadDns: boolean } | undefined {
  const service = /^ {2}FerryService : (\S+)\s*$/m.exec(output)?.[1];
  if (service === undefined || !SERVICE_ID.test(service)) return undefined;
  return { service, hadDns: !/^ {2}FerryNoSuchKey : (?:true|TRUE|1)\s*$/m.test(output) };
}

export interface ScutilBackup {
  service: string;
  hadDns: boolean;
}

/** The old entry back from its backup, or the key removed when it had not existed (client.down.tunnelblick.sh). */
function restoreLines(backup: ScutilBackup, from: string, target: string): string[] {
  return backup.hadDns ? [`get ${from}`, 'd.remove FerryService', `set ${target}`] : [`remove ${target}`];
}

/**
 * Puts the primary service's State: and Setup: DNS entries back as they were (or removes
 * them, when they had none), each from its own backup, then drops the backups: the Setup:
 * one first, so that a helper dying in between still leaves OldDNS for the next to find
 * (restoring twice from a backup gives the same result). Either backup may be missing: a
 * State:-only one from a helper older than the Setup: backup (then Setup: is left alone),
 * or a Setup: one whose OldDNS went away first, which is still put back, not stranded.
 */
export function scutilFullRestore(session: string, backup: ScutilBackup | undefined, setupBackup?: ScutilBackup): string {
  return [
    'open',
    ...(backup ? restoreLines(backup, scutilKeys.backup(session), scutilKeys.primaryService(backup.service)) : []),
    ...(setupBackup ? restoreLines(setupBackup, scutilKeys.setupBackup(session), scutilKeys.primarySetup(setupBackup.service)) : []),
    ...(setupBackup ? [`remove ${scutilKeys.setupBackup(session)}`] : []),
    ...(backup ? [`remove ${scutilKeys.backup(session)}`] : []),
    'quit',
    '',
  ].join('\n');
}

export function scutilSplitRestore(session: string): string {
  return `open\nremove ${scutilKeys.ownService(session)}\nquit\n`;
}

/** Lists what Ferry left in the store (after a crash). */
export function scutilLeftoversQuery(): string {
  return 'open\nlist State:/Network/Service/ferry-.*/DNS\nlist State:/Network/Ferry/.*/OldDNS\nlist State:/Network/Ferry/.*/OldSetupDNS\nquit\n';
}

/** Session ids named by `list` output lines such as `subKey [0] = State:/Network/Service/ferry-ID/DNS`. */
export function parseLeftovers(output: string): string[] {
  const ids = new Set<string>();
  for (const m of output.matchAll(/State:\/Network\/(?:Service\/ferry-([A-Za-z0-9_-]{1,64})\/DNS|Ferry\/([A-Za-z0-9_-]{1,64})\/Old(?:Setup)?DNS)\s*$/gm)) ids.add((m[1] ?? m[2])!);
  return [...ids];
}

export class ScutilDns implements DnsBackend {
  readonly name = 'scutil';
  /** The session whose full redirect is applied: only one at a time, as OpenVPN's macOS script allows. */
  private fullOwner: string | undefined;

  constructor(
    private readonly scutil: ScutilRunner,
    private readonly log: (message: string) => void = () => {},
    /** Empties the resolver caches (dscacheutil -flushcache, as both reference scripts do). */
    private readonly flush: () => Promise<void> = () => runCommand('/usr/bin/dscacheutil', ['-flushcache']).catch(() => {}),
  ) {}

  async apply(session: string, _dev: string, dns: DnsConfig): Promise<void> {
    if (dns.domains.length > 0) {
      await this.scutil(scutilSplitApply(session, dns));
    } else {
      if (this.fullOwner !== undefined && this.fullOwner !== session) {
        throw new Error(`DNS already goes through another tunnel (session ${this.fullOwner}); this one keeps the machine's DNS`);
      }
      const service = parsePrimaryService(await this.scutil(scutilPrimaryServiceQuery()));
      if (!service) throw new Error('macOS has no primary network service to take DNS from (State:/Network/Global/IPv4 has no PrimaryService)');
      // A re-apply after up-restart must not back up Ferry's own entry over the original.
      if (this.fullOwner === session) await this.restoreFull(session);
      await this.scutil(scutilFullApply(session, service, dns));
      this.fullOwner = session;
    }
    await this.flush();
  }

  async restore(session: string, _dev: string): Promise<void> {
    await this.scutil(scutilSplitRestore(session)).catch((err: Error) => this.log(`scutil: ${err.message}`));
    await this.restoreFull(session);
    if (this.fullOwner === session) this.fullOwner = undefined;
    await this.flush();
  }

  async recover(): Promise<void> {
    for (const session of parseLeftovers(await this.scutil(scutilLeftoversQuery()))) {
      this.log(`restoring DNS left by session ${session}`);
      await this.restore(session, '');
    }
  }

  private async restoreFull(session: string): Promise<void> {
    const backup = parseBackup(await this.scutil(scutilBackupQuery(session)));
    const setupBackup = parseBackup(await this.scutil(scutilSetupBackupQuery(session)));
    if (backup || setupBackup) await this.scutil(scutilFullRestore(session, backup, setupBackup));
  }
}
