/**
 * Reading an .ovpn the way openvpn does (comments, quoting, backslashes, inline blocks),
 * then keeping only what an allowlist understands. Nothing here ever reaches openvpn as
 * written: the result is data (remotes, engine options, file references) from which the
 * config builder writes its own config. Anything that runs code, touches this computer's
 * files, routes or processes, or that we simply do not know, is refused with its line.
 */
import { EngineOptionsSchema, HostSchema, StaticChallengeSchema, type EngineOptions, type Proto, type Remote } from './schema.js';
import { ImportError, printable } from './pem.js';
import { hasUnprintable } from '../util/unprintable.js';

export interface Directive {
  name: string;
  args: string[];
  line: number;
  /** Content of an inline block (`<ca>…</ca>`); its args are ['[inline]']. */
  inline?: string;
  /** Directives inside a `<connection>` block. */
  block?: Directive[];
}

// ---------------------------------------------------------------------------------------
// Tokenising (openvpn's parse_line and read_config_file)

/**
 * One line split as openvpn splits it: '#' or ';' start a comment only where a new word
 * would start; "double" quotes honour backslash escapes, 'single' quotes do not; outside
 * single quotes a backslash may only escape '\', '"' or a space.
 */
export function tokenizeLine(line: string, lineNo: number, display: string, file?: string): string[] {
  const words: string[] = [];
  let word = '';
  let state: 'initial' | 'unquoted' | 'double' | 'single' = 'initial';
  let backslash = false;
  const chars = [...line, '\0'];
  for (const c of chars) {
    if (!backslash && c === '\\' && state !== 'single') {
      backslash = true;
      continue;
    }
    const space = c === '\0' || /\s/.test(c);
    let out: string | undefined;
    let done = false;
    if (state === 'initial') {
      if (!space) {
        if (c === '#' || c === ';') break;
        if (!backslash && c === '"') state = 'double';
        else if (!backslash && c === "'") state = 'single';
        else (out = c), (state = 'unquoted');
      }
    } else if (state === 'unquoted') {
      if (!backslash && space) done = true;
      else out = c;
    } else if (state === 'double') {
      if (!backslash && c === '"') done = true;
      else out = c;
    } else if (c === "'") done = true;
    else out = c;
    if (backslash && out !== undefined && !(out === '\\' || out === '"' || /\s/.test(out))) {
      throw new ImportError(
        `${display} line ${lineNo}: a backslash (\\) may only escape \\, " or a space — write \\\\ for a backslash and import again`,
        file,
      );
    }
    backslash = false;
    if (out !== undefined && out !== '\0') word += out;
    if (done) {
      words.push(word);
      word = '';
      state = 'initial';
    }
  }
  if (state === 'double' || state === 'single') {
    throw new ImportError(`${display} line ${lineNo}: no closing quotation mark (${state === 'double' ? '"' : "'"}) — fix the line and import again`, file);
  }
  return words;
}

/** Directives in file order, inline blocks folded in. Line numbers are the file's. */
export function parseOvpn(text: string, display: string, file?: string, firstLine = 1, nested = false): Directive[] {
  const lines = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  const out: Directive[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = firstLine + i;
    const words = tokenizeLine(lines[i]!, lineNo, display, file);
    if (words.length === 0) continue;
    const first = words[0]!.replace(/^--/, ''); // "--remote" is allowed in config files too
    const tag = /^<([A-Za-z0-9-]+)>$/.exec(first)?.[1];
    if (!tag) {
      out.push({ name: first, args: words.slice(1), line: lineNo });
      continue;
    }
    const close = `</${tag}>`;
    // Forward from the opening tag only (never from the top again): every line is looked at once.
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(close)) end++;
    if (end === lines.length) {
      throw new ImportError(`${display} line ${lineNo}: <${printable(tag)}> has no closing </${printable(tag)}> (the file is cut short) — get the profile again`, file);
    }
    const content = lines.slice(i + 1, end).join('\n');
    if (tag === 'connection') {
      if (nested) throw new ImportError(`${display} line ${lineNo}: <connection> blocks cannot be nested — fix the profile and import again`, file);
      out.push({ name: tag, args: [], line: lineNo, block: parseOvpn(content, display, file, lineNo + 1, true) });
    } else {
      out.push({ name: tag, args: ['[inline]'], line: lineNo, inline: `${content}\n` });
    }
    i = end;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The allowlist

/** Why a directive is refused; the message reads `"name" <why> — remove the line and import again`. */
const SCRIPT = 'runs a script; Ferry never runs scripts from a profile';
const FILES = 'reads or writes files on this computer; Ferry keeps profiles self-contained';
const PROCESS = 'changes how openvpn runs on this computer; Ferry decides that itself';
const NETWORK = "changes this computer's addresses, routes or DNS; Ferry takes those only from the server, which pushes them";
const SERVER = 'is a server option, not a client one';
/** Every management-* option: the socket is Ferry's own, never the profile's. */
const MANAGEMENT = 'opens or configures a management interface; Ferry drives openvpn through its own';
const TOKEN = 'uses a hardware token or system certificate store, which Ferry does not support';

const REFUSED: Record<string, string> = {
  ...Object.fromEntries(
    [
      'up', 'down', 'down-pre', 'route-up', 'route-pre-down', 'ipchange', 'tls-verify', 'auth-user-pass-verify',
      'client-connect', 'client-disconnect', 'learn-address', 'client-crresponse',
    ].map((d) => [d, SCRIPT]),
  ),
  'script-security': 'enables scripts; Ferry never runs scripts from a profile',
  plugin: 'loads a plugin; Ferry never loads plugins from a profile',
  config: 'includes another file; Ferry reads only the profile itself',
  askpass: 'reads the key passphrase from a file; Ferry asks for it and keeps it in the keychain',
  secret: 'uses static-key mode, which has no forward secrecy and which Ferry does not support',
  ...Object.fromEntries(
    ['log', 'log-append', 'status', 'status-version', 'writepid', 'cd', 'chroot', 'tmp-dir', 'iproute', 'tls-export-cert'].map((d) => [d, FILES]),
  ),
  ...Object.fromEntries(['daemon', 'user', 'group', 'syslog', 'setenv-safe', 'machine-readable-output', 'suppress-timestamps', 'nice', 'errors-to-stderr'].map((d) => [d, PROCESS])),
  ...Object.fromEntries(
    [
      'route', 'route-ipv6', 'route-gateway', 'route-ipv6-gateway', 'route-metric', 'route-noexec', 'ifconfig', 'ifconfig-ipv6',
      'ifconfig-noexec', 'dhcp-option', 'dns', 'redirect-private', 'block-ipv6', 'dhcp-renew', 'dhcp-release',
    ].map((d) => [d, NETWORK]),
  ),
  'dev-node': 'names a device node on this computer; Ferry creates its own tunnel device',
  lladdr: 'sets a hardware address on this computer; Ferry creates its own tunnel device',
  ...Object.fromEntries(
    [
      'server', 'server-bridge', 'server-ipv6', 'mode', 'tls-server', 'push', 'push-reset', 'client-config-dir', 'ccd-exclusive', 'ifconfig-pool',
      'ifconfig-pool-persist', 'duplicate-cn', 'max-clients', 'client-to-client', 'verify-client-cert', 'auth-gen-token', 'dh',
    ].map((d) => [d, SERVER]),
  ),
  ...Object.fromEntries(['pkcs11-id', 'pkcs11-providers', 'pkcs11-id-management', 'cryptoapicert', 'engine', 'providers', 'management-external-key', 'management-external-cert'].map((d) => [d, TOKEN])),
  'extra-certs': 'adds certificates Ferry does not keep; put intermediate certificates into <cert> after the client certificate instead',
  ...Object.fromEntries(['http-proxy', 'http-proxy-option', 'http-proxy-user-pass', 'socks-proxy'].map((d) => [d, 'sets a proxy, which Ferry does not support'])),
};

/**
 * Accepted but not kept: options about openvpn's own process, logging, retries, buffers
 * and platform quirks, which are Ferry's config builder's decision rather than the
 * profile's, and options that only matter to scripts (setenv). None of them makes the
 * tunnel accept a server or cipher it would otherwise refuse.
 */
const DROPPED = new Set([
  'client', 'tls-client', 'pull', 'nobind', 'persist-key', 'persist-tun', 'persist-remote-ip', 'persist-local-ip', 'resolv-retry',
  'verb', 'mute', 'mute-replay-warnings', 'auth-nocache', 'auth-retry', 'explicit-exit-notify', 'float', 'connect-retry',
  'connect-retry-max', 'connect-timeout', 'server-poll-timeout', 'hand-window', 'tran-window', 'tls-timeout', 'tls-exit',
  'push-peer-info', 'disable-occ', 'fast-io', 'sndbuf', 'rcvbuf', 'txqueuelen', 'ping-timer-rem', 'ping-exit', 'inactive',
  'tun-mtu-extra', 'link-mtu', 'mtu-disc', 'mtu-test', 'lport', 'bind', 'single-session', 'remote-random-hostname',
  'block-outside-dns', 'register-dns', 'ip-win32', 'route-method', 'route-delay', 'windows-driver', 'allow-pull-fqdn', 'topology',
  'mlock', 'up-delay', 'up-restart', 'ignore-unknown-option', 'max-routes', 'tls-version-max', 'comp-noadapt', 'ncp-disable',
  'keysize', 'allow-recursive-routing', 'ifconfig-nowarn', 'route-nopull-dns', 'auth-token-user', 'show-net-up',
  // The config builder sets its own compression policy (asym: accept, never send compressed).
  'allow-compression',
]);

/** What a `<connection>` block may hold: where to connect, nothing else. */
const CONNECTION_KEYS = new Set(['remote', 'proto', 'port', 'rport']);

const PROTOS: Record<string, Proto> = {
  udp: 'udp', udp4: 'udp', udp6: 'udp',
  tcp: 'tcp', tcp4: 'tcp', tcp6: 'tcp', 'tcp-client': 'tcp', 'tcp4-client': 'tcp', 'tcp6-client': 'tcp',
};

/** openvpn 2.6's default data-ciphers, to which a legacy `cipher` is appended. */
const DEFAULT_DATA_CIPHERS = 'AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305';
const DEFAULT_PORT = 1194;

export type MaterialName = 'ca' | 'cert' | 'key' | 'pkcs12' | 'tls-auth' | 'tls-crypt' | 'tls-crypt-v2';
const MATERIALS = new Set<string>(['ca', 'cert', 'key', 'pkcs12', 'tls-auth', 'tls-crypt', 'tls-crypt-v2']);

/** A certificate/key the profile gives inline or names as a file next to it. */
export interface MaterialRef {
  directive: MaterialName;
  line: number;
  inline?: string;
  path?: string;
}

export interface OvpnProfile {
  remotes: Remote[];
  engine: Partial<EngineOptions>;
  passwordRequired: boolean;
  staticChallenge?: { text: string; echo: boolean };
  refs: Partial<Record<MaterialName, MaterialRef>>;
  /** The account a ferry-server profile was made for (its header comment). */
  account?: string;
  warnings: string[];
}

interface PartialRemote {
  host: string;
  port?: number;
  proto?: Proto;
  /** <connection> defaults, which win over the top level's. */
  blockPort?: number;
  blockProto?: Proto;
}

/** Options kept (mapped onto the profile); see Interpreter.keep. */
const KEPT = new Set([
  'remote', 'proto', 'port', 'rport', 'dev', 'dev-type', 'cipher', 'data-ciphers', 'ncp-ciphers', 'data-ciphers-fallback', 'auth',
  'key-direction', 'verify-x509-name', 'remote-cert-tls', 'ns-cert-type', 'remote-cert-eku', 'tls-version-min', 'tls-cipher',
  'compress', 'comp-lzo', 'tun-mtu', 'mssfix', 'fragment', 'reneg-sec', 'keepalive', 'ping', 'ping-restart',
  'remote-random', 'route-nopull', 'redirect-gateway', 'pull-filter', 'auth-user-pass', 'static-challenge', 'setenv', 'crl-verify',
  'connection',
]);

/** Could this text be an .ovpn? (Any line opening with an option or inline block we know.) */
export function looksLikeOvpn(text: string): boolean {
  let inPem = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('-----BEGIN ')) inPem = true;
    if (inPem) {
      if (line.startsWith('-----END ')) inPem = false;
      continue;
    }
    const word = /^(?:--)?<?([a-z0-9-]+)>?(?:\s|$)/.exec(line)?.[1];
    if (word && (word in REFUSED || word.startsWith('management') || DROPPED.has(word) || KEPT.has(word) || MATERIALS.has(word))) return true;
  }
  return false;
}


/** Reads an .ovpn into what Ferry keeps. Throws ImportError naming the first line it refuses. */
export function interpretOvpn(text: string, display: string, file?: string): OvpnProfile {
  return new Interpreter(display, file).run(text);
}

/**
 * The account a ferry-server bundle names in a comment: the default username, which
 * reaches terminals (the import summary, `ferry profiles`, the password prompt). One
 * holding control or bidi characters is refused with its line rather than shown.
 */
function accountComment(text: string, display: string, file: string | undefined): string | undefined {
  const m = /^#\s*Ferry profile for account "([^"\r\n]+)"/m.exec(text);
  if (m && hasUnprintable(m[1]!)) {
    const line = text.slice(0, m.index).split('\n').length;
    throw new ImportError(
      `${display} line ${line}: the account name in "# Ferry profile for account" holds control characters or bidi controls — remove them (or give --username) and import again`,
      file,
    );
  }
  return m?.[1];
}

class Interpreter {
  private readonly remotes: PartialRemote[] = [];
  private readonly engine: Partial<EngineOptions> = {};
  private readonly refs: Partial<Record<MaterialName, MaterialRef>> = {};
  private readonly warnings: string[] = [];
  private passwordRequired = false;
  private staticChallenge: { text: string; echo: boolean } | undefined;
  private proto: Proto | undefined;
  private port: number | undefined;
  private cipher: string | undefined;
  private devName: { name: string; line: number } | undefined;
  private devType: 'tun' | 'tap' | undefined;
  private keyDirection: 0 | 1 | undefined;
  private tlsAuthDirection: 0 | 1 | undefined;
  private ping: number | undefined;
  private pingRestart: number | undefined;
  private optional = new Set<string>();
  /** Kept apart and set once at the end: re-validating the list at each line was quadratic. */
  private readonly pullFilters = new Set<string>();

  constructor(
    private readonly display: string,
    private readonly file: string | undefined,
  ) {}

  run(text: string): OvpnProfile {
    const directives = parseOvpn(text, this.display, this.file);
    // `ignore-unknown-option a b` makes openvpn skip a and b when it does not know them;
    // we honour it for options we do not know, never for ones we refuse.
    for (const d of directives) if (d.name === 'ignore-unknown-option') d.args.forEach((a) => this.optional.add(a));
    for (const d of directives) this.apply(d);
    const account = accountComment(text, this.display, this.file);
    return {
      remotes: this.finishRemotes(),
      engine: this.finishEngine(),
      passwordRequired: this.passwordRequired,
      ...(this.staticChallenge ? { staticChallenge: this.staticChallenge } : {}),
      refs: this.refs,
      ...(account ? { account } : {}),
      warnings: this.warnings,
    };
  }

  private where(d: Directive): string {
    return `${this.display} line ${d.line}`;
  }

  private refuse(d: Directive, why: string): never {
    throw new ImportError(`${this.where(d)}: ${this.named(d)} ${why} — remove the ${d.inline === undefined ? 'line' : 'block'} and import again`, this.file);
  }

  /** `"up"` for a line, `<dh>` for an inline block. */
  private named(d: Directive): string {
    return d.inline === undefined ? `"${printable(d.name)}"` : `<${printable(d.name)}>`;
  }

  private invalid(d: Directive, hint = 'fix or remove the line and import again'): never {
    const shown = d.inline === undefined ? [d.name, ...d.args].join(' ') : `<${d.name}>`;
    throw new ImportError(`${this.where(d)}: "${printable(shown)}" has a value Ferry does not accept — ${hint}`, this.file);
  }

  private arity(d: Directive, min: number, max: number): void {
    if (d.args.length < min || d.args.length > max) this.invalid(d);
  }

  private int(d: Directive, raw: string | undefined, min: number, max: number): number {
    const n = raw !== undefined && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) this.invalid(d);
    return n;
  }

  /** Checks a value against the schema field it will land in, so errors carry the line. */
  private field<K extends keyof EngineOptions>(d: Directive, key: K, value: unknown): EngineOptions[K] {
    const parsed = EngineOptionsSchema.shape[key].safeParse(value);
    if (!parsed.success) this.invalid(d);
    return parsed.data as EngineOptions[K];
  }

  private apply(d: Directive, optional = false): void {
    const why = REFUSED[d.name] ?? (d.name.startsWith('management') ? MANAGEMENT : undefined);
    if (why) this.refuse(d, why);
    if (DROPPED.has(d.name)) return;
    if (MATERIALS.has(d.name)) return this.material(d);
    if (!KEPT.has(d.name)) {
      if (optional || this.optional.has(d.name)) return; // openvpn itself would skip it
      throw new ImportError(
        `${this.where(d)}: ${this.named(d)} is not an option Ferry accepts (Ferry rebuilds every profile from a list of safe options) — remove the ${d.inline === undefined ? 'line' : 'block'} and import again`,
        this.file,
      );
    }
    this.keep(d);
  }

  private keep(d: Directive): void {
    const a = d.args;
    switch (d.name) {
      case 'connection':
        for (const inner of d.block ?? []) {
          const refused = REFUSED[inner.name] ?? (inner.name.startsWith('management') ? MANAGEMENT : undefined);
          if (refused) this.refuse(inner, refused);
          if (DROPPED.has(inner.name)) continue;
          if (!CONNECTION_KEYS.has(inner.name)) {
            throw new ImportError(
              `${this.where(inner)}: "${printable(inner.name)}" inside <connection> is not supported (Ferry reads only remote, proto and port there) — move or remove the line and import again`,
              this.file,
            );
          }
        }
        return this.connection(d);
      case 'remote':
        return void this.remotes.push(this.remote(d));
      case 'proto':
        this.arity(d, 1, 1);
        this.proto = this.protoOf(d, a[0]!);
        return;
      case 'port':
      case 'rport':
        this.arity(d, 1, 1);
        this.port = this.int(d, a[0], 1, 65535);
        return;
      case 'dev':
        return this.dev(d);
      case 'dev-type':
        this.arity(d, 1, 1);
        if (a[0] !== 'tun' && a[0] !== 'tap') this.invalid(d, 'use "dev-type tun" or "dev-type tap"');
        this.devType = a[0];
        return;
      case 'cipher':
        this.arity(d, 1, 1);
        if (a[0]!.toLowerCase() === 'none') this.refuse(d, 'turns encryption off');
        this.cipher = this.field(d, 'dataCiphersFallback', a[0]!.toUpperCase());
        return;
      case 'data-ciphers':
      case 'ncp-ciphers':
        this.arity(d, 1, 1);
        if (a[0]!.toLowerCase().split(':').includes('none')) this.refuse(d, 'turns encryption off');
        this.engine.dataCiphers = this.field(d, 'dataCiphers', a[0]!.toUpperCase());
        return;
      case 'data-ciphers-fallback':
        this.arity(d, 1, 1);
        if (a[0]!.toLowerCase() === 'none') this.refuse(d, 'turns encryption off');
        this.engine.dataCiphersFallback = this.field(d, 'dataCiphersFallback', a[0]!.toUpperCase());
        return;
      case 'auth':
        this.arity(d, 1, 1);
        this.engine.auth = this.field(d, 'auth', a[0]!.toUpperCase());
        return;
      case 'key-direction':
        this.arity(d, 1, 1);
        this.keyDirection = this.direction(d, a[0]!);
        return;
      case 'verify-x509-name':
        this.arity(d, 1, 2);
        this.engine.verifyX509Name = this.field(d, 'verifyX509Name', { name: a[0], type: a[1] ?? 'subject' });
        return;
      case 'remote-cert-tls':
      case 'ns-cert-type':
        this.arity(d, 1, 1);
        if (a[0] !== 'server') this.invalid(d, `a client profile checks the server: use "${d.name} server"`);
        this.engine.remoteCertTls = 'server';
        return;
      case 'remote-cert-eku':
        // remote-cert-tls server (always on in Ferry) already requires serverAuth; anything else we could not enforce.
        this.arity(d, 1, 1);
        if (!['TLS Web Server Authentication', 'serverAuth', '1.3.6.1.5.5.7.3.1'].includes(a[0]!)) {
          this.refuse(d, 'asks for a certificate usage check Ferry does not support (Ferry always requires a server certificate)');
        }
        return;
      case 'tls-version-min':
        this.arity(d, 1, 2);
        if (a[1] !== undefined && a[1] !== 'or-highest') this.invalid(d);
        this.engine.tlsVersionMin = this.field(d, 'tlsVersionMin', a[0]);
        return;
      case 'tls-cipher':
        this.arity(d, 1, 1);
        this.engine.tlsCipher = this.field(d, 'tlsCipher', a[0]);
        return;
      case 'compress':
        return this.compress(d);
      case 'comp-lzo':
        this.arity(d, 0, 1);
        this.engine.compLzo = this.field(d, 'compLzo', a[0] ?? 'adaptive');
        return;
      case 'tun-mtu':
        this.arity(d, 1, 1);
        this.engine.tunMtu = this.field(d, 'tunMtu', this.int(d, a[0], 0, 65535));
        return;
      case 'mssfix':
        // mssfix [bytes [mtu|fixed]]: the size is kept; without one openvpn's default applies.
        this.arity(d, 0, 2);
        if (a[1] !== undefined && a[1] !== 'mtu' && a[1] !== 'fixed') this.invalid(d);
        if (a[0] !== undefined) this.engine.mssfix = this.field(d, 'mssfix', this.int(d, a[0], 0, 65535));
        return;
      case 'fragment':
        this.arity(d, 1, 2);
        if (a[1] !== undefined && a[1] !== 'mtu') this.invalid(d);
        this.engine.fragment = this.field(d, 'fragment', this.int(d, a[0], 0, 65535));
        return;
      case 'reneg-sec':
        this.arity(d, 1, 2);
        this.engine.renegSec = this.field(d, 'renegSec', this.int(d, a[0], 0, 604800));
        return;
      case 'keepalive':
        this.arity(d, 2, 2);
        this.engine.keepalive = this.field(d, 'keepalive', { interval: this.int(d, a[0], 0, 1e6), timeout: this.int(d, a[1], 0, 1e6) });
        return;
      case 'ping':
        this.arity(d, 1, 1);
        this.ping = this.int(d, a[0], 0, 1e6);
        return;
      case 'ping-restart':
        this.arity(d, 1, 1);
        this.pingRestart = this.int(d, a[0], 0, 1e6);
        return;
      case 'remote-random':
        this.arity(d, 0, 0);
        this.engine.remoteRandom = true;
        return;
      case 'route-nopull':
        this.arity(d, 0, 0);
        this.engine.routeNopull = true;
        return;
      case 'redirect-gateway':
        this.engine.redirectGateway = this.field(d, 'redirectGateway', [...new Set([...(this.engine.redirectGateway ?? []), ...a])]);
        return;
      case 'pull-filter':
        this.arity(d, 2, 2);
        if (a[0] !== 'ignore') this.refuse(d, `${printable(a[0]!)} is not supported (only "pull-filter ignore" is)`);
        this.pullFilters.add(this.field(d, 'pullFilterIgnore', [a[1]])![0]!);
        return;
      case 'auth-user-pass':
        if (a.length > 0) {
          throw new ImportError(
            `${this.where(d)}: "auth-user-pass ${a[0] === '[inline]' ? '<inline block>' : printable(a[0]!)}" keeps your username and password in a file; Ferry asks for the password and keeps it in the keychain — remove the file name (keep "auth-user-pass") and import again`,
            this.file,
          );
        }
        this.passwordRequired = true;
        return;
      case 'static-challenge': {
        this.arity(d, 2, 3);
        if ((a[1] !== '0' && a[1] !== '1') || (a[2] !== undefined && a[2] !== 'scrv1')) this.invalid(d);
        // The schema the config builder checks again: the text must fit its quoted line.
        const challenge = StaticChallengeSchema.safeParse({ text: a[0], echo: a[1] === '1' });
        if (!challenge.success) this.invalid(d, `${challenge.error.issues[0]!.message}; fix the line and import again`);
        this.staticChallenge = challenge.data;
        return;
      }
      case 'setenv':
        // `setenv opt X …` is openvpn's "apply X if you know it": judged like X itself. Any
        // other setenv only feeds scripts and plugins, which Ferry never runs. One level only:
        // "setenv opt setenv opt …" recursed once per word (a crafted line overflowed the stack).
        if (a[0] === 'opt' && a[1] === 'setenv') this.invalid(d, '"setenv opt" applies one option, not another setenv; fix or remove the line and import again');
        if (a[0] === 'opt' && a[1] !== undefined) this.apply({ ...d, name: a[1], args: a.slice(2) }, true);
        return;
      case 'crl-verify':
        this.warnings.push(
          `${this.where(d)}: the profile's revocation list (crl-verify) was left out — Ferry does not check the server certificate against a CRL`,
        );
        return;
    }
  }

  private material(d: Directive): void {
    const name = d.name as MaterialName;
    let args = d.args;
    if (d.inline === undefined && args[0] === '[inline]') {
      // openvpn 2.6 style "ca [inline]": the <ca> block carries the content.
      if (name === 'tls-auth' && args[1] !== undefined) this.tlsAuthDirection = this.direction(d, args[1]);
      return;
    }
    if (name === 'tls-auth') {
      if (args[1] !== undefined) this.tlsAuthDirection = this.direction(d, args[1]);
      args = args.slice(0, 1);
    }
    if (args.length !== 1) this.invalid(d);
    const prior = this.refs[name];
    if (prior) {
      throw new ImportError(`${this.where(d)}: "${name}" is given again (first on line ${prior.line}) — keep one and import again`, this.file);
    }
    const clash = (['tls-auth', 'tls-crypt', 'tls-crypt-v2'] as const).find((k) => k !== name && this.refs[k]);
    if (name.startsWith('tls-') && clash) {
      throw new ImportError(`${this.where(d)}: "${name}" cannot be combined with "${clash}" (line ${this.refs[clash]!.line}) — keep one and import again`, this.file);
    }
    this.refs[name] = d.inline !== undefined ? { directive: name, line: d.line, inline: d.inline } : { directive: name, line: d.line, path: args[0]! };
  }

  private connection(d: Directive): void {
    let proto: Proto | undefined;
    let port: number | undefined;
    const remotes: PartialRemote[] = [];
    for (const inner of d.block ?? []) {
      if (inner.name === 'remote') remotes.push(this.remote(inner));
      else if (inner.name === 'proto') proto = (this.arity(inner, 1, 1), this.protoOf(inner, inner.args[0]!));
      else if (inner.name === 'port' || inner.name === 'rport') port = (this.arity(inner, 1, 1), this.int(inner, inner.args[0], 1, 65535));
    }
    for (const r of remotes) this.remotes.push({ ...r, ...(proto ? { blockProto: proto } : {}), ...(port ? { blockPort: port } : {}) });
  }

  private remote(d: Directive): PartialRemote {
    this.arity(d, 1, 3);
    const [host, port, proto] = d.args;
    if (!HostSchema.safeParse(host).success) this.invalid(d, 'the host must be a hostname or an IP address');
    return {
      host: host!,
      ...(port !== undefined ? { port: this.int(d, port, 1, 65535) } : {}),
      ...(proto !== undefined ? { proto: this.protoOf(d, proto) } : {}),
    };
  }

  private protoOf(d: Directive, raw: string): Proto {
    const proto = PROTOS[raw.toLowerCase()];
    if (!proto) {
      if (/server/i.test(raw)) this.refuse(d, `${printable(raw)} is a server protocol; a client profile uses tcp or udp`);
      this.invalid(d, 'use udp or tcp');
    }
    return proto;
  }

  private direction(d: Directive, raw: string): 0 | 1 {
    if (raw !== '0' && raw !== '1') this.invalid(d, 'the key direction is 0 or 1');
    return raw === '0' ? 0 : 1;
  }

  private dev(d: Directive): void {
    this.arity(d, 1, 1);
    const name = d.args[0]!;
    // "dev tun0" names a device; Ferry picks its own device, only the type matters.
    const type = /^(tun|tap)\d*$/.exec(name)?.[1] as 'tun' | 'tap' | undefined;
    if (name === 'null') this.invalid(d, 'use "dev tun"');
    if (type) this.engine.dev = type;
    else this.devName = { name, line: d.line };
  }

  private compress(d: Directive): void {
    this.arity(d, 0, 1);
    const algo = d.args[0];
    // Without an algorithm openvpn keeps the framing and compresses nothing: the "stub".
    if (algo === undefined) this.engine.compress = 'stub';
    else if (algo === 'lzo') this.engine.compLzo = 'yes';
    else this.engine.compress = this.field(d, 'compress', algo);
  }

  private finishRemotes(): Remote[] {
    return this.remotes.map((r) => ({
      host: r.host,
      port: r.port ?? r.blockPort ?? this.port ?? DEFAULT_PORT,
      proto: r.proto ?? r.blockProto ?? this.proto ?? 'udp',
    }));
  }

  private finishEngine(): Partial<EngineOptions> {
    const engine = this.engine;
    if (this.devName) {
      if (!this.devType) {
        this.invalid({ name: 'dev', args: [this.devName.name], line: this.devName.line }, 'use "dev tun" or "dev tap" (or add "dev-type tun")');
      }
      engine.dev = this.devType;
    } else if (this.devType) engine.dev = this.devType;
    // A legacy `cipher` is what openvpn 2.6 falls back to with old servers, and joins the
    // default negotiable list when the profile gives none.
    if (this.cipher) {
      engine.dataCiphersFallback ??= this.cipher;
      if (!engine.dataCiphers) {
        const list = DEFAULT_DATA_CIPHERS.split(':');
        engine.dataCiphers = (list.includes(this.cipher) ? list : [...list, this.cipher]).join(':');
      }
    }
    if (this.refs['tls-auth']) {
      const direction = this.tlsAuthDirection ?? this.keyDirection;
      engine.tlsAuth = direction === undefined ? {} : { direction };
    }
    if (this.pullFilters.size > 0) engine.pullFilterIgnore = [...this.pullFilters];
    if (this.refs['tls-crypt']) engine.tlsCrypt = true;
    if (this.refs['tls-crypt-v2']) engine.tlsCryptV2 = true;
    // ping + ping-restart is keepalive spelled out. ping-restart 0 (never restart) has no
    // keepalive equivalent; then the server's pushed keepalive applies, as it does anyway.
    if (!engine.keepalive && this.ping && this.pingRestart) {
      const kept = EngineOptionsSchema.shape.keepalive.safeParse({ interval: this.ping, timeout: this.pingRestart });
      if (kept.success && kept.data) engine.keepalive = kept.data;
    }
    return engine;
  }
}
