/** The `ferry-server` command line (DESIGN.md's CLI contract). */
import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { processIo, runCommand, type Io } from '../core/util/cli-main.js';
import { FerryError, InputError } from '../core/util/errors.js';
import { controlRequest, GatewayStatusSchema, type GatewayStatus } from './control.js';
import { buildServerConfig } from './openvpn-config.js';
import { KEY_TYPES, type KeyType } from './settings.js';
import { parseMbps, requireTrafficControl } from './shaping.js';
import type { SettingsInput, SetupResult } from './setup.js';
import { trustedStateDir } from './state-location.js';
import { StateDir, type StateStore } from './store.js';
import type { PgStore } from './pg-store.js';

// Commands that issue certificates load the X.509 stack on demand, so that status, list
// and config start fast.
const accounts = () => import('./accounts.js');
const setup = () => import('./setup.js');

const USAGE = `usage:
  ferry-server init --host PUBLIC_HOST --subnet CIDR... [--port 1194] [--proto tcp|udp] [--pool CIDR]
                    [--dns IP]... [--cipher AES-256-GCM] [--compress] [--no-two-factor]
                    [--max-clients N] [--name NAME] [--key-type ec|rsa2048|rsa3072] [--bandwidth MBPS]
  ferry-server set [same options as init; also --no-compress, --two-factor, --bandwidth off]
  ferry-server client add ACCOUNT... [--json] [--key-type ec|rsa2048|rsa3072] [--rate-limit MBPS]
  ferry-server client set ACCOUNT --rate-limit MBPS|off
  ferry-server client bundle ACCOUNT --out FILE.zip
  ferry-server client passwd ACCOUNT [--json]
  ferry-server client revoke ACCOUNT
  ferry-server client delete ACCOUNT...       删除 SSL 客户端 / delete SSL clients: revoke, cut, remove
  ferry-server client list [--json]
  ferry-server delete [--yes]                 删除 SSL 服务端 / delete the SSL server (none of its clients may remain;
                                              with --database: no node running either; drops Ferry's tables only)
  ferry-server config
  ferry-server run [--node NAME]
  ferry-server status [--json]
  ferry-server node add NAME --host HOST[:PORT]      (several gateways: register one more)
  ferry-server node remove NAME                     (a node that is stopped: frees its client addresses)
  ferry-server node list [--json]
every command takes --dir DIR (default $FERRY_SERVER_DIR, else ${defaultDir()});
several gateways share state in PostgreSQL: --database URL (or $FERRY_SERVER_DATABASE), with
the cluster key in --key-file FILE (default $FERRY_SERVER_KEY_FILE, else DIR/cluster.key)`;

const SETTINGS_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  proto: { type: 'string' },
  pool: { type: 'string' },
  subnet: { type: 'string', multiple: true },
  dns: { type: 'string', multiple: true },
  cipher: { type: 'string' },
  compress: { type: 'boolean' },
  'no-compress': { type: 'boolean' },
  'two-factor': { type: 'boolean' },
  'no-two-factor': { type: 'boolean' },
  'max-clients': { type: 'string' },
  name: { type: 'string' },
  'key-type': { type: 'string' },
  bandwidth: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const COMMON_OPTIONS = {
  dir: { type: 'string' },
  database: { type: 'string' },
  'key-file': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function defaultDir(): string {
  if (process.getuid?.() === 0) return '/var/lib/ferry-server';
  return path.join(process.env.XDG_DATA_HOME ?? path.join(homedir(), '.local', 'share'), 'ferry-server');
}

export function main(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand('ferry-server', io, async () => {
    try {
      await dispatch(argv, io);
    } finally {
      for (const store of opened.splice(0)) await store.close();
    }
  });
}

/** Stores this command opened: a database's connections are closed when it ends. */
const opened: StateStore[] = [];

async function dispatch(argv: string[], io: Io): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return;
  }
  switch (command) {
    case 'init':
    case 'set': {
      const { values } = parse(rest, { ...SETTINGS_OPTIONS, ...COMMON_OPTIONS, node: { type: 'string' }, 'remote-random': { type: 'boolean' }, 'no-remote-random': { type: 'boolean' } }, 0);
      const input = settingsInput(values);
      const remoteRandom = flag(values['remote-random'], values['no-remote-random'], '--remote-random');
      if (remoteRandom !== undefined) input.remoteRandom = remoteRandom;
      const database = databaseUrl(values);
      if (values.node !== undefined && !(command === 'init' && database)) throw new InputError('--node goes with init --database (the first node\'s name)');
      const { initServer, updateServer } = await setup();
      if (command === 'init' && database) {
        const { validateNodeName } = await import('./pg-store.js');
        const nodeName = values.node ?? 'node1';
        validateNodeName(nodeName);
        const { SecretBox } = await import('./secret-box.js');
        const keyFile = await keyFileOf(values);
        const created = await SecretBox.create(keyFile);
        const store = (await openStore(values)) as PgStore;
        const result = await initServer(store, input);
        const { node } = await store.addNode(nodeName, `${result.settings.host}:${result.settings.port}`);
        reportSetup(command, result, undefined, io);
        io.out(`node "${node.name}" registered (${node.host}:${node.port}); ${created ? 'created' : 'using'} the cluster key ${keyFile}: copy it (mode 0600) to every gateway host, never into the database`);
        return;
      }
      const state = await openStore(values);
      const result = command === 'init' ? await initServer(state, input) : await updateServer(state, input);
      const live = result.changed.includes('bandwidthMbps') ? await reloadLimits(state) : undefined;
      reportSetup(command, result, live, io);
      return;
    }
    case 'client':
      return clientCommand(rest, io);
    case 'node':
      return nodeCommand(rest, io);
    case 'config': {
      const { values } = parse(rest, COMMON_OPTIONS, 0);
      const state = await openStore(values);
      io.out(buildServerConfig(await state.readSettings(), state.local, process.platform, { cluster: state.kind === 'database' }));
      return;
    }
    case 'run': {
      const { values } = parse(rest, { ...COMMON_OPTIONS, node: { type: 'string' } }, 0);
      // Listeners stay for the whole run: a second Ctrl-C while openvpn stops must not kill
      // us before the clean-up (traffic control, sockets) has run.
      let stopping = false;
      const stop = new Promise<void>((resolve) => {
        const onSignal = () => {
          if (stopping) io.err('ferry-server: already stopping; waiting for openvpn to exit');
          stopping = true;
          resolve();
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      const { runGateway } = await import('./gateway.js');
      await runGateway(await openStore(values), { stopSignal: stop, log: io.out, ...(values.node !== undefined ? { node: values.node } : {}) });
      return;
    }
    case 'status': {
      const { values } = parse(rest, COMMON_OPTIONS, 0);
      return status(await openStore(values), values.json ?? false, io);
    }
    case 'delete': {
      const { values } = parse(rest, { ...COMMON_OPTIONS, yes: { type: 'boolean' } }, 0);
      if (databaseUrl(values)) {
        const store = await requireDatabase(values);
        return (await import('./delete-database.js')).deleteDatabaseCommand(store, await keyFileOf(values), values.yes ?? false, io);
      }
      return (await import('./delete.js')).deleteServerCommand(await stateDir(values.dir), values.yes ?? false, io);
    }
    default:
      throw new InputError(`unknown command "${command}" (see ferry-server --help)`);
  }
}

async function clientCommand(argv: string[], io: Io): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, 'key-type': { type: 'string' }, 'rate-limit': { type: 'string' } }, 'any');
      const keyType = values['key-type'] === undefined ? undefined : keyTypeOf(values['key-type']);
      const rateLimitMbps = values['rate-limit'] === undefined ? undefined : rateLimitOf(values['rate-limit'], false);
      const added = await (await accounts()).addAccounts(await openStore(values), positionals, {
        ...(keyType ? { keyType } : {}),
        ...(rateLimitMbps !== undefined ? { rateLimitMbps } : {}),
      });
      if (values.json) io.out(JSON.stringify(added));
      else {
        for (const a of added) io.out(a.password ? `${a.account}\tpassword: ${a.password}` : `${a.account}\tadded (two-factor off: certificate only)`);
        if (added.some((a) => a.password)) io.err('note: passwords are shown only now and stored only as hashes; hand each to its user');
      }
      return;
    }
    case 'passwd': {
      const { values, positionals } = parse(rest, COMMON_OPTIONS, 1);
      const result = await (await accounts()).resetPassword(await openStore(values), positionals[0]!);
      io.out(values.json ? JSON.stringify(result) : `${result.account}\tpassword: ${result.password}`);
      return;
    }
    case 'revoke': {
      const { values, positionals } = parse(rest, COMMON_OPTIONS, 1);
      const state = await openStore(values);
      const account = await (await accounts()).revokeAccount(state, positionals[0]!);
      io.out(`revoked ${account.name}: certificate added to the CRL; ${await cutSession(state, account.name)}`);
      return;
    }
    case 'delete': {
      const { values, positionals } = parse(rest, COMMON_OPTIONS, 'any');
      const state = await openStore(values);
      for (const account of await (await accounts()).deleteAccounts(state, positionals)) {
        io.out(`deleted ${account.name}: certificate in the CRL, account and files removed; ${await cutSession(state, account.name)}`);
      }
      return;
    }
    case 'set': {
      const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, 'rate-limit': { type: 'string' } }, 1);
      if (values['rate-limit'] === undefined) throw new InputError('nothing to set: use --rate-limit MBPS or --rate-limit off');
      const limit = rateLimitOf(values['rate-limit'], true);
      const state = await openStore(values);
      const account = await (await accounts()).setRateLimit(state, positionals[0]!, limit);
      const live = await reloadLimits(state);
      io.out(`${account.name}: ${limit === undefined ? 'no rate limit' : `rate limit ${limit} Mbit/s each way`}; ${live}`);
      return;
    }
    case 'list': {
      const { values } = parse(rest, COMMON_OPTIONS, 0);
      const state = await openStore(values);
      const gateway = await gatewayStatus(state);
      const list = await (await accounts()).listAccounts(state, new Set(gateway?.clients.map((c) => c.account)));
      if (values.json) {
        io.out(JSON.stringify(list));
        return;
      }
      if (list.length === 0) io.out('no accounts yet: ferry-server client add ACCOUNT');
      const rates = new Map(gateway?.clients.map((c) => [c.account, c]));
      for (const a of list) {
        const live = rates.get(a.account);
        const notes = [
          a.rateLimitMbps !== undefined ? `limit ${a.rateLimitMbps} Mbit/s` : '',
          a.connected ? `connected${live ? ` (${currentRate(live)})` : ''}` : '',
          a.bundleStale ? 'bundle stale: download again' : '',
        ].filter(Boolean).join(', ');
        io.out(`${a.account}\t${a.state}\texpires ${a.expires.slice(0, 10)}${notes ? `\t${notes}` : ''}`);
      }
      return;
    }
    case 'bundle': {
      const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, out: { type: 'string' } }, 1);
      if (!values.out) throw new InputError('--out FILE.zip is required');
      await (await accounts()).exportBundle(await openStore(values), positionals[0]!, path.resolve(values.out));
      io.out(`wrote ${values.out}: ca.crt, client.crt, client.key, ${positionals[0]}.ovpn (keep it private: it holds the key)`);
      return;
    }
    default:
      throw new InputError(`unknown client command "${sub ?? ''}": use add, set, bundle, passwd, revoke, delete or list`);
  }
}

/** Cuts an account's live session through the running gateway (after its revocation). */
async function cutSession(state: StateStore, account: string): Promise<string> {
  if (state.kind === 'database') return cutClusterSession(state as PgStore, account);
  const cut = (await controlRequest(state.local.controlSocket, { op: 'kill', account })) as { killed: number } | undefined;
  return cut === undefined ? 'gateway not running' : cut.killed > 0 ? 'live session cut' : 'not connected';
}

/** Tells a running gateway to enforce the limits just written; says what happened. */
async function reloadLimits(state: StateStore): Promise<string> {
  if (state.kind === 'database') {
    await (state as PgStore).notify({ type: 'limits' });
    return 'sent to every running node';
  }
  let reply: unknown;
  try {
    reply = await controlRequest(state.local.controlSocket, { op: 'reload-limits' });
  } catch (err) {
    throw new FerryError(`saved, but the running gateway could not apply it: ${(err as Error).message}`);
  }
  return reply === undefined ? 'takes effect when "ferry-server run" starts' : 'applied to the running gateway';
}

/** `in 1.2 Mbit/s, out 9.8 Mbit/s` (from the client, to the client), when the gateway has measured it. */
function currentRate(c: { rateInBps?: number | undefined; rateOutBps?: number | undefined }): string {
  if (c.rateInBps === undefined || c.rateOutBps === undefined) return 'rate not measured yet';
  return `in ${formatBps(c.rateInBps)}, out ${formatBps(c.rateOutBps)}`;
}

function formatBps(bps: number): string {
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}

async function gatewayStatus(state: StateStore): Promise<GatewayStatus | undefined> {
  if (state.kind === 'database') {
    const clients = await (state as PgStore).listConnections();
    return { pid: 0, startedAt: '', clients };
  }
  const reply = await controlRequest(state.local.controlSocket, { op: 'status' });
  return reply === undefined ? undefined : GatewayStatusSchema.parse(reply);
}

/** How long `client revoke|delete` waits for a node to confirm the cut. */
const CUT_CONFIRM_MS = 5_000;

/**
 * Several gateways: the cut goes to every node as a notification (the node holding the
 * session cuts it, HALT); the command waits until the session is gone from the database.
 */
async function cutClusterSession(store: PgStore, account: string): Promise<string> {
  const started = performance.now();
  const holding = async () => (await store.listConnections()).filter((c) => c.account.toLowerCase() === account.toLowerCase());
  const nodes = [...new Set((await holding()).map((c) => c.node))];
  if (nodes.length === 0) {
    await store.notify({ type: 'kill', account }); // one being admitted right now
    return 'not connected';
  }
  await store.notify({ type: 'kill', account });
  while ((await holding()).length > 0) {
    if (performance.now() - started > CUT_CONFIRM_MS) return `cut sent to node ${nodes.join(', ')}, which has not confirmed it yet`;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return `live session cut on node ${nodes.join(', ')} (${Math.round(performance.now() - started)} ms)`;
}

/** `status` with a database: every node and every node's clients; without the database, this host's gateway's own view. */
async function clusterStatus(store: PgStore, json: boolean, io: Io): Promise<void> {
  const local = await controlRequest(store.local.controlSocket, { op: 'status' }, 3_000)
    .then((r) => (r === undefined ? undefined : GatewayStatusSchema.parse(r)))
    .catch(() => undefined);
  let settings, nodes, clients;
  try {
    settings = await store.readSettings();
    nodes = await store.listNodes();
    clients = await store.listConnections();
  } catch (err) {
    if (!(err instanceof FerryError) || err.exitCode === 2 || !/cannot reach the database/.test(err.message)) throw err;
    const reason = `${err.message}: running tunnels keep going, new connections are refused until it is back`;
    if (json) {
      io.out(JSON.stringify({ database: { reachable: false, error: reason }, ...(local ? { node: local.node, clients: local.clients } : {}) }));
    } else {
      io.out(`database UNREACHABLE: ${reason}`);
      if (local) {
        io.out(`node    ${local.node ?? '?'} (this host): running, ${local.clients.length} clients`);
        for (const c of local.clients) io.out(`  ${c.account}\treal ${c.realAddress}\tvirtual ${c.virtualAddress}\tsince ${c.connectedSince}`);
      }
    }
    return;
  }
  const { poolSlice } = await import('./pg-store.js');
  if (json) {
    io.out(
      JSON.stringify({
        server: { name: settings.name, proto: settings.proto, maxClients: settings.maxClients, database: store.where },
        nodes: nodes.map((n) => ({ name: n.name, host: n.host, port: n.port, pool: poolSlice(settings.pool, n.slice).cidr, state: n.up ? 'up' : 'down', pid: n.pid, lastSeen: n.lastSeen })),
        clients,
      }),
    );
    return;
  }
  io.out(`server  "${settings.name}" ${settings.proto.toUpperCase()}, state in ${store.where}`);
  for (const n of nodes) {
    io.out(`node    ${n.name}\t${n.host}:${n.port}\t${poolSlice(settings.pool, n.slice).cidr}\t${n.up ? `up (pid ${n.pid})` : `down${n.lastSeen ? ` (last seen ${n.lastSeen})` : ''}`}`);
  }
  io.out(`clients ${clients.length} connected of ${settings.maxClients} allowed, across ${nodes.filter((n) => n.up).length} node(s) up`);
  for (const c of clients) io.out(`  ${c.account}\tnode ${c.node}\treal ${c.realAddress}\tvirtual ${c.virtualAddress}\tin ${c.bytesReceived} B\tout ${c.bytesSent} B\tsince ${c.connectedSince}`);
}

/** Days of CRL validity below which `status` warns (run re-signs below 365). */
const CRL_WARN_DAYS = 90;

async function status(store: StateStore, json: boolean, io: Io): Promise<void> {
  if (store.kind === 'database') return clusterStatus(store as PgStore, json, io);
  const state = store as StateDir;
  const settings = await state.readSettings();
  const meta = await state.readCrlMeta();
  if (!meta) throw new FerryError(`the CRL of ${state.dir} is missing; run "ferry-server run" or revoke to rebuild it`);
  const gateway = await gatewayStatus(state);
  const daysLeft = Math.floor((new Date(meta.nextUpdate).getTime() - Date.now()) / 86_400_000);
  const crlWarning =
    daysLeft < 0
      ? 'the CRL has EXPIRED: every client is refused; restart "ferry-server run" to re-sign it'
      : daysLeft < CRL_WARN_DAYS
        ? `the CRL expires in ${daysLeft} days; restart "ferry-server run" to re-sign it`
        : undefined;
  if (json) {
    io.out(
      JSON.stringify({
        server: {
          name: settings.name,
          host: settings.host,
          port: settings.port,
          proto: settings.proto,
          running: gateway !== undefined,
          ...(settings.bandwidthMbps !== undefined ? { bandwidthMbps: settings.bandwidthMbps } : {}),
          ...(gateway ? { pid: gateway.pid, startedAt: gateway.startedAt, ...(gateway.shaping ? { shaping: gateway.shaping } : {}) } : {}),
        },
        crl: { nextUpdate: meta.nextUpdate, entries: meta.entries, daysLeft, ...(crlWarning ? { warning: crlWarning } : {}) },
        clients: gateway?.clients ?? [],
      }),
    );
    return;
  }
  io.out(`server  "${settings.name}" ${settings.proto.toUpperCase()} ${settings.host}:${settings.port}: ${gateway ? `running (pid ${gateway.pid}, since ${gateway.startedAt})` : 'not running'}`);
  io.out(`crl     ${meta.entries} revoked, next update ${meta.nextUpdate} (${daysLeft} days)`);
  io.out(`limits  bandwidth ${settings.bandwidthMbps !== undefined ? `${settings.bandwidthMbps} Mbit/s each way` : 'unlimited'}`);
  if (gateway?.shaping?.state === 'failed') io.err(`warning: rate limits are NOT enforced: ${gateway.shaping.error}`);
  if (crlWarning) io.err(`warning: ${crlWarning}`);
  const clients = gateway?.clients ?? [];
  io.out(`clients ${clients.length} connected of ${settings.maxClients} allowed`);
  for (const c of clients) {
    const limit = c.rateLimitMbps !== undefined ? `limit ${c.rateLimitMbps} Mbit/s` : 'no limit';
    io.out(`  ${c.account}\treal ${c.realAddress}\tvirtual ${c.virtualAddress}\tin ${c.bytesReceived} B\tout ${c.bytesSent} B\t${currentRate(c)}\t${limit}\tsince ${c.connectedSince}`);
  }
}

/** Settings `ferry-server set` hands to a running gateway at once; the rest wait for a restart. */
const LIVE_SETTINGS = ['bandwidthMbps'];

function reportSetup(command: 'init' | 'set', result: SetupResult, live: string | undefined, io: Io): void {
  const s = result.settings;
  for (const warning of result.warnings) io.err(warning);
  if (command === 'init') {
    io.out(`created SSL server "${s.name}": ${s.proto.toUpperCase()} ${s.host}:${s.port}, pool ${s.pool}, subnets ${s.subnets.join(' ')}, cipher ${s.cipher}, two-factor ${s.twoFactor ? 'on' : 'off'}, max ${s.maxClients} clients`);
    io.out('next: ferry-server client add ACCOUNT, then ferry-server run');
    return;
  }
  if (result.changed.length === 0) {
    io.out('nothing changed');
    return;
  }
  const restart = result.changed.filter((f) => !LIVE_SETTINGS.includes(f));
  const immediate = result.changed.filter((f) => LIVE_SETTINGS.includes(f));
  if (restart.length > 0) io.out(`updated ${restart.join(', ')}; restart "ferry-server run" to apply`);
  if (immediate.length > 0) io.out(`updated ${immediate.join(', ')}; ${live ?? 'applied'}`);
  if (result.staleAccounts.length > 0) {
    io.out(`these accounts must download their bundle again (ferry-server client bundle ACCOUNT --out FILE.zip): ${result.staleAccounts.join(', ')}`);
  }
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, positionalCount: number | 'any') {
  const parsed = parseArgs({ args, options, allowPositionals: positionalCount !== 0, strict: true });
  if ((parsed.values as { help?: boolean }).help) {
    throw new InputError(USAGE);
  }
  if (typeof positionalCount === 'number' && positionalCount > 0 && parsed.positionals.length !== positionalCount) {
    throw new InputError(`expected ${positionalCount} account name${positionalCount > 1 ? 's' : ''}, got ${parsed.positionals.length} (see ferry-server --help)`);
  }
  return parsed;
}

/** The state directory named by --dir, $FERRY_SERVER_DIR or the default, once it is known to be safe to use. */
async function stateDir(dir: string | boolean | undefined): Promise<StateDir> {
  return new StateDir(await trustedStateDir(typeof dir === 'string' ? dir : process.env.FERRY_SERVER_DIR || defaultDir()));
}

interface StoreOptions {
  dir?: string | boolean | undefined;
  database?: string | boolean | undefined;
  'key-file'?: string | boolean | undefined;
}

function databaseUrl(values: StoreOptions): string | undefined {
  const url = typeof values.database === 'string' ? values.database : process.env.FERRY_SERVER_DATABASE || undefined;
  if (url === undefined && typeof values['key-file'] === 'string') throw new InputError('--key-file goes with --database');
  return url;
}

async function keyFileOf(values: StoreOptions): Promise<string> {
  const file = typeof values['key-file'] === 'string' ? values['key-file'] : process.env.FERRY_SERVER_KEY_FILE || path.join((await stateDir(values.dir)).dir, 'cluster.key');
  return path.resolve(file);
}

/** The state directory, or with --database the shared PostgreSQL store (the directory then holds this host's files). */
async function openStore(values: StoreOptions): Promise<StateStore> {
  const url = databaseUrl(values);
  if (url === undefined) return stateDir(values.dir);
  const [{ PgStore }, { SecretBox }] = await Promise.all([import('./pg-store.js'), import('./secret-box.js')]);
  const keyFile = await keyFileOf(values);
  let box: ReturnType<typeof SecretBox.load> | undefined;
  const store = new PgStore(url, await stateDir(values.dir), () => (box ??= SecretBox.load(keyFile)));
  opened.push(store);
  return store;
}

async function nodeCommand(argv: string[], io: Io): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, host: { type: 'string' } }, 'any');
      if (positionals.length !== 1) throw new InputError('usage: ferry-server node add NAME --host HOST[:PORT] --database URL');
      if (!values.host) throw new InputError('--host HOST[:PORT] is required: where clients reach this node');
      const store = await requireDatabase(values);
      const { node, slice, staleAccounts } = await store.addNode(positionals[0]!, values.host);
      io.out(`node "${node.name}" added: ${node.host}:${node.port}, client addresses ${slice.cidr}; start it with "ferry-server run --node ${node.name}" on that host (route ${slice.cidr} to it)`);
      if (staleAccounts.length > 0) io.out(`bundles now list this node too; these accounts must download theirs again: ${staleAccounts.join(', ')}`);
      return;
    }
    case 'remove': {
      const { values, positionals } = parse(rest, COMMON_OPTIONS, 'any');
      if (positionals.length !== 1) throw new InputError('usage: ferry-server node remove NAME --database URL');
      const store = await requireDatabase(values);
      const { node, slice, clients, staleAccounts } = await store.removeNode(positionals[0]!);
      io.out(`node "${node.name}" removed: client addresses ${slice.cidr} released, ${clients} client record${clients === 1 ? '' : 's'} dropped; remove the route to ${slice.cidr} and the node's host:port ${node.host}:${node.port} from your firewall`);
      if (staleAccounts.length > 0) io.out(`bundles no longer list this node; these accounts must download theirs again: ${staleAccounts.join(', ')}`);
      return;
    }
    case 'list': {
      const { values } = parse(rest, COMMON_OPTIONS, 0);
      const store = await requireDatabase(values);
      const settings = await store.readSettings();
      const { poolSlice } = await import('./pg-store.js');
      const nodes = await store.listNodes();
      if (values.json) io.out(JSON.stringify(nodes.map((n) => ({ ...n, pool: poolSlice(settings.pool, n.slice).cidr }))));
      else for (const n of nodes) io.out(`${n.name}\t${n.host}:${n.port}\t${poolSlice(settings.pool, n.slice).cidr}\t${n.up ? `up (pid ${n.pid})` : 'down'}`);
      return;
    }
    default:
      throw new InputError(`unknown node command "${sub ?? ''}": use add, remove or list`);
  }
}

async function requireDatabase(values: StoreOptions): Promise<PgStore> {
  const store = await openStore(values);
  if (store.kind !== 'database') throw new InputError('nodes belong to a database: pass --database URL (or set FERRY_SERVER_DATABASE)');
  return store as PgStore;
}

type SettingsValues = { [K in keyof typeof SETTINGS_OPTIONS]?: (typeof SETTINGS_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof SETTINGS_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function settingsInput(v: SettingsValues): SettingsInput {
  const input: SettingsInput = {};
  if (v.host !== undefined) input.host = v.host;
  if (v.name !== undefined) input.name = v.name;
  if (v.port !== undefined) input.port = integer(v.port, '--port');
  if (v['max-clients'] !== undefined) input.maxClients = integer(v['max-clients'], '--max-clients');
  if (v.proto !== undefined) {
    const proto = v.proto.toLowerCase();
    if (proto !== 'tcp' && proto !== 'udp') throw new InputError(`--proto "${v.proto}" must be tcp or udp`);
    input.proto = proto;
  }
  if (v.pool !== undefined) input.pool = v.pool;
  if (v.subnet !== undefined) input.subnets = v.subnet;
  if (v.dns !== undefined) input.dns = v.dns;
  if (v.cipher !== undefined) input.cipher = v.cipher.toUpperCase();
  input.compress = flag(v.compress, v['no-compress'], '--compress');
  input.twoFactor = flag(v['two-factor'], v['no-two-factor'], '--two-factor');
  if (v['key-type'] !== undefined) input.keyType = keyTypeOf(v['key-type']);
  if (v.bandwidth !== undefined) input.bandwidthMbps = rateLimitOf(v.bandwidth, true, '--bandwidth') ?? null;
  return input;
}

function flag(on: boolean | undefined, off: boolean | undefined, name: string): boolean | undefined {
  if (on && off) throw new InputError(`${name} and --no-${name.slice(2)} contradict each other`);
  return on ? true : off ? false : undefined;
}

function integer(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw new InputError(`${name} "${text}" must be a whole number`);
  return Number(text);
}

/** `MBPS` or (where allowed) `off` → Mbit/s, undefined for off. */
function rateLimitOf(text: string, offAllowed: boolean, option = '--rate-limit'): number | undefined {
  if (text.toLowerCase() === 'off') {
    if (!offAllowed) throw new InputError(`${option} off: a new account has no limit unless you give one; leave ${option} out`);
    return undefined;
  }
  const mbps = parseMbps(text, option);
  requireTrafficControl(option);
  return mbps;
}

function keyTypeOf(text: string): KeyType {
  if (!(KEY_TYPES as readonly string[]).includes(text)) throw new InputError(`--key-type "${text}" must be one of ${KEY_TYPES.join(', ')}`);
  return text as KeyType;
}
