/**
 * `ferry profiles` and `ferry status`: run often (scripts, prompts, status bars), so they
 * load only what they use — the profile store and the session registry. What only a
 * running tunnel needs (byte counts, failure texts) is loaded when there is one.
 */
import type { FerryClient } from '../client.js';
import type { Tunnel } from '../session/registry.js';
import type { Io } from '../util/cli-main.js';
import { parse, publicProfile } from './common.js';
import { formatHostPort } from '../profile/host-port.js';

export async function profilesCommand(client: FerryClient, args: string[], io: Io): Promise<void> {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const { profiles, errors } = await client.store.list();
  await client.registry.refresh();
  const stateOf = (id: string) => client.registry.get(id)?.snapshot?.state;
  const live = new Map(profiles.flatMap((p) => (stateOf(p.id) && client.registry.get(p.id)?.owner !== 'ended' ? [[p.id, stateOf(p.id)!] as const] : [])));
  if (values.json) {
    io.out(JSON.stringify({ profiles: profiles.map((p) => ({ ...publicProfile(p), state: live.get(p.id) ?? 'DISCONNECTED' })), errors }, null, 2));
    return;
  }
  for (const error of errors) io.err(`ferry: ${error.message}`);
  if (profiles.length === 0) {
    io.out('no profiles; import one with `ferry import`');
    return;
  }
  for (const p of profiles) {
    const r = p.remotes[0]!;
    io.out(`${p.name}\t${formatHostPort(r.host, r.port)}/${r.proto}\t${p.username ?? '-'}\t${live.get(p.id) ?? 'DISCONNECTED'}`);
  }
}

export async function statusCommand(client: FerryClient, args: string[], io: Io): Promise<number | void> {
  const { values } = parse(args, { json: { type: 'boolean' }, watch: { type: 'boolean' } });
  const names = new Map((await client.store.list()).profiles.map((p) => [p.id, p.name]));
  const nameOf = (id: string) => names.get(id) ?? id;
  if (values.watch) return watchStatus(client, Boolean(values.json), io, nameOf);
  await client.registry.refresh();
  const tunnels = client.registry.list().filter((t) => t.owner !== 'ended');
  if (tunnels.length === 0) {
    io.out(values.json ? JSON.stringify([], null, 2) : 'no active sessions');
    return;
  }
  const { statusJson, statusLine } = await tunnelPrinters();
  if (values.json) {
    io.out(JSON.stringify(tunnels.map((t) => statusJson(t, nameOf(t.id))), null, 2));
    return;
  }
  for (const t of tunnels) io.out(statusLine(t, nameOf(t.id)));
}

/** `ferry status --watch`: the registry's changes as they arrive, until SIGINT/SIGTERM. */
async function watchStatus(client: FerryClient, json: boolean, io: Io, nameOf: (id: string) => string): Promise<number> {
  const { statusJson, statusLine } = await tunnelPrinters();
  const print = (t: Tunnel | undefined, id: string) => {
    if (json) io.out(JSON.stringify(t ? statusJson(t, nameOf(id)) : { id, profile: nameOf(id), gone: true }));
    else io.out(t ? statusLine(t, nameOf(id)) : `${nameOf(id)}  no longer running`);
  };
  client.registry.on('change', ({ id, after }) => print(after, id));
  await client.registry.follow({ keepAlive: true });
  if (client.registry.list().length === 0 && !json) io.out('no active sessions; waiting for changes');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  client.registry.close();
  return 0;
}

/** How a tunnel prints (`--json` or a line); loads the byte formatting and the failure texts, which only a tunnel needs. */
async function tunnelPrinters() {
  const [{ formatBytes }, { failureText, terminalLanguage }] = await Promise.all([import('./format.js'), import('../session/failure-text.js')]);

  function statusJson(t: Tunnel, name: string) {
    if (!t.snapshot) return { id: t.id, profile: name, attached: false, owner: t.owner };
    const reason = t.snapshot.failure ? { reason: failureText(t.snapshot.failure, terminalLanguage()) } : {};
    return { id: t.id, ...(t.pid !== undefined ? { pid: t.pid } : {}), attached: true, owner: t.owner, ...t.snapshot, profile: name, ...reason };
  }

  function statusLine(t: Tunnel, name: string): string {
    const s = t.snapshot;
    if (!s) return `${name}  running in ferry-helper with no Ferry attached: \`ferry connect ${name}\` takes it over`;
    const parts = [name, s.state];
    if (s.stats.virtualIp) parts.push(`address ${s.stats.virtualIp}`);
    if (s.stats.server) parts.push(`gateway ${s.stats.server}`);
    if (s.stats.connectedSince) parts.push(`since ${s.stats.connectedSince}`);
    parts.push(`in ${formatBytes(s.stats.bytesIn)} (${formatBytes(s.stats.rateIn)}/s)`, `out ${formatBytes(s.stats.bytesOut)} (${formatBytes(s.stats.rateOut)}/s)`);
    if (s.stats.cipher) parts.push(s.stats.cipher);
    if (s.failure) parts.push(failureText(s.failure, terminalLanguage()));
    return parts.join('  ');
  }

  return { statusJson, statusLine };
}
