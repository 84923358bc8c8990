/**
 * Reading an .ovpn the way openvpn does (comments, quoting, backslashes, inline blocks),
 * then deciding each option by its row in the option table (option-policy.ts): kept
 * (checked against openvpn's own bounds and written back exactly), owned by Ferry, left
 * out with a notice, or refused with its line and the reason. Nothing here ever reaches
 * openvpn as written: the result is data (remotes, directives, file references) from
 * which the config builder writes its own config.
 */
import { MAX_LINE_BYTES, utf8Bytes } from '../engine/quote.js';
import { checkArgs, directiveLine, syntax } from './option-args.js';
import { OPTION_POLICY, type OptionRow } from './option-policy.js';
import { ImportError, printable } from './pem.js';
import { HostSchema, MAX_DIRECTIVES, StaticChallengeSchema, type Directive as EngineDirective, type EngineOptions, type Proto, type Remote } from './schema.js';
import { hasUnprintable } from '../util/unprintable.js';
import { describeSchemaError } from '../util/schema-error.js';

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
// The option table, applied

const PROTOS: Record<string, Proto> = {
  udp: 'udp', udp4: 'udp', udp6: 'udp',
  tcp: 'tcp', tcp4: 'tcp', tcp6: 'tcp', 'tcp-client': 'tcp', 'tcp4-client': 'tcp', 'tcp6-client': 'tcp',
};

const DEFAULT_PORT = 1194;

export type MaterialName = 'ca' | 'cert' | 'key' | 'pkcs12' | 'tls-auth' | 'tls-crypt' | 'tls-crypt-v2';

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
  /** One line per option left out that the profile meant something by (and why). */
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

/** What a `<connection>` block may hold: where to connect, nothing else. */
const CONNECTION_KEYS = new Set(['remote', 'proto', 'port', 'rport']);

/** The profile's own checks that the gateway is the server; without one (and with a client certificate), Ferry adds remote-cert-tls server. */
const SERVER_CHECKS = new Set(['remote-cert-tls', 'ns-cert-type', 'remote-cert-eku', 'remote-cert-ku', 'verify-x509-name', 'peer-fingerprint']);

/** `setenv NAME …` of a variable only scripts, plugins or other clients read. */
const SETENV_VARIABLE = 'sets a variable only scripts, plugins or other clients read (UV_*, CLIENT_CERT, IV_SSO…); Ferry runs no scripts and tells the server only its own version';

/** Could this text be an .ovpn? (Any line opening with an openvpn option or inline block.) */
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
    if (word && OPTION_POLICY.has(word)) return true;
  }
  return false;
}

/** Reads an .ovpn into what Ferry keeps. Throws ImportError naming the first line it refuses. */
export function interpretOvpn(text: string, display: string, file?: string): OvpnProfile {
  return new Interpreter(display, file).run(text);
}

/**
 * The options the importer reads itself instead of passing them through: where to connect,
 * the certificates and keys, the device, credentials, and the few whose meaning depends on
 * their arguments. Every other option goes by its row in the option table.
 */
const INTERPRET: Record<string, (it: Interpreter, d: Directive) => void> = {
  remote: (it, d) => void it.remotes.push(it.remote(d)),
  proto: (it, d) => (it.proto = it.protoOf(d, it.single(d))),
  port: (it, d) => (it.port = it.int(d, it.single(d), 1, 65535)),
  rport: (it, d) => (it.port = it.int(d, it.single(d), 1, 65535)),
  connection: (it, d) => it.connection(d),
  dev: (it, d) => it.dev(d),
  'dev-type': (it, d) => it.devType(d),
  ca: (it, d) => it.material(d),
  cert: (it, d) => it.material(d),
  key: (it, d) => it.material(d),
  pkcs12: (it, d) => it.material(d),
  'tls-auth': (it, d) => it.material(d),
  'tls-crypt': (it, d) => it.material(d),
  'tls-crypt-v2': (it, d) => it.material(d),
  'auth-user-pass': (it, d) => it.authUserPass(d),
  'static-challenge': (it, d) => it.challenge(d),
  setenv: (it, d) => it.setenv(d),
  askpass: (it, d) => {
    // Bare, openvpn would ask for the key passphrase: Ferry does that itself.
    if (d.args.length > 0) it.refuse(d, 'reads the key passphrase from a file; Ferry asks for it and keeps it in the keychain');
  },
  'crl-verify': (it, d) =>
    void it.warnings.push(`${it.where(d)}: the profile's revocation list (crl-verify) was left out — Ferry does not check the server certificate against a CRL`),
  'peer-fingerprint': (it, d) => it.fingerprints(d),
  'verify-hash': (it, d) => it.fingerprints(d),
  'ignore-unknown-option': (it, d) => {
    if (d.args.length === 0) it.invalid(d);
    // Like openvpn, it covers the lines after it.
    d.args.forEach((name) => it.optional.add(name));
  },
};

/** Names the importer reads itself: the option table's kept rows without `args`, and a few whose disposition depends on their arguments. */
export const INTERPRETED_OPTIONS: readonly string[] = Object.keys(INTERPRET);

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
  readonly remotes: PartialRemote[] = [];
  /** The options kept as written, in the profile's order, by their text (see keep()). */
  private readonly kept = new Map<string, EngineDirective>();
  readonly refs: Partial<Record<MaterialName, MaterialRef>> = {};
  readonly warnings: string[] = [];
  /** Options openvpn would skip if it did not know them (ignore-unknown-option). */
  readonly optional = new Set<string>();
  /** `setenv FORWARD_COMPATIBLE 1`: openvpn skips every unknown option after it. */
  forwardCompatible = false;
  passwordRequired = false;
  staticChallenge: { text: string; echo: boolean } | undefined;
  proto: Proto | undefined;
  port: number | undefined;
  private devName: { name: string; line: number } | undefined;
  private deviceType: 'tun' | 'tap' | undefined;
  private device: 'tun' | 'tap' | undefined;
  private tlsAuthDirection: { direction: 0 | 1; line: number } | undefined;
  /** The last key-direction line: it and a tls-auth line's direction set the same thing, the later wins. */
  private keyDirectionLine = 0;

  constructor(
    private readonly display: string,
    private readonly file: string | undefined,
  ) {}

  run(text: string): OvpnProfile {
    for (const d of parseOvpn(text, this.display, this.file)) this.apply(d);
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

  where(d: Directive): string {
    return `${this.display} line ${d.line}`;
  }

  /** `"up"` for a line, `<dh>` for an inline block. */
  private named(d: Directive): string {
    return d.inline === undefined ? `"${printable(d.name)}"` : `<${printable(d.name)}>`;
  }

  refuse(d: Directive, why: string, fix = `remove the ${d.inline === undefined ? 'line' : 'block'} and import again`): never {
    throw new ImportError(`${this.where(d)}: ${this.named(d)} ${why} — ${fix}`, this.file);
  }

  invalid(d: Directive, hint = 'fix or remove the line and import again'): never {
    const shown = d.inline === undefined ? [d.name, ...d.args].join(' ') : `<${d.name}>`;
    throw new ImportError(`${this.where(d)}: "${printable(shown)}" has a value Ferry does not accept — ${hint}`, this.file);
  }

  /** A line left out that the profile meant something by: said, with its line, never silently. */
  private leaveOut(d: Directive, why: string, shown = this.named(d)): void {
    this.warnings.push(`${this.where(d)}: ${shown} left out — ${why}`);
  }

  private arity(d: Directive, min: number, max: number): void {
    if (d.args.length < min || d.args.length > max) this.invalid(d);
  }

  single(d: Directive): string {
    this.arity(d, 1, 1);
    return d.args[0]!;
  }

  int(d: Directive, raw: string | undefined, min: number, max: number): number {
    const n = raw !== undefined && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) this.invalid(d);
    return n;
  }

  /** `optional`: reached through `setenv opt`, which makes openvpn skip an option it does not know. */
  private apply(d: Directive, optional = false): void {
    const interpret = Object.hasOwn(INTERPRET, d.name) ? INTERPRET[d.name] : undefined;
    if (interpret) return interpret(this, d);
    const row = OPTION_POLICY.get(d.name);
    if (!row) return this.unknown(d, optional);
    switch (row.disposition) {
      case 'refused':
        return this.refuse(d, row.reason, row.fix);
      case 'dropped':
        return this.leaveOut(d, row.reason);
      case 'owned':
      case 'inert':
        if (row.notice) this.leaveOut(d, row.reason);
        return;
      case 'kept':
        return this.pass(d, row);
    }
  }

  private unknown(d: Directive, optional: boolean): void {
    if (optional || this.forwardCompatible || this.optional.has(d.name)) {
      return this.leaveOut(d, 'openvpn 2.6 does not know it, and the profile lets openvpn skip it');
    }
    throw new ImportError(
      `${this.where(d)}: ${this.named(d)} is not an option openvpn 2.6 knows — check its spelling, or remove the ${d.inline === undefined ? 'line' : 'block'} and import again`,
      this.file,
    );
  }

  /** A kept option, written back exactly: within openvpn's bounds (the row's), on a line openvpn can read. */
  private pass(d: Directive, row: OptionRow): void {
    if (!row.args) throw new Error(`option table: "${row.name}" is kept without arguments and nothing interprets it`);
    if (d.inline !== undefined) this.invalid(d, `openvpn takes "${d.name}" on a line, not as a block; fix the profile and import again`);
    const why = row.refuse?.(d.args);
    if (why) this.refuse(d, why);
    const problem = checkArgs(row.args, d.args);
    if (problem) this.invalid(d, `${problem} (openvpn's syntax: ${syntax(d.name, row.args)}); fix the line and import again`);
    if (utf8Bytes(directiveLine(d.name, d.args)) > MAX_LINE_BYTES) this.invalid(d, `the line is too long for openvpn's config (${MAX_LINE_BYTES} bytes); shorten it and import again`);
    if (d.name === 'key-direction') this.keyDirectionLine = d.line;
    this.keep({ name: d.name, args: [...d.args] }, d);
  }

  /**
   * Repeats of the very same line change nothing in openvpn, as long as the right one
   * stays: the first for pull-filter (the first match wins), the last for the rest (the
   * last value wins; routes and flags only add up). Dropping them keeps a crafted profile
   * of a million identical lines linear and within the bound the helper takes.
   */
  private keep(directive: EngineDirective, d: Directive): void {
    const key = [directive.name, ...directive.args].join('\0');
    if (this.kept.has(key)) {
      if (directive.name === 'pull-filter') return;
      this.kept.delete(key);
    } else if (this.kept.size >= MAX_DIRECTIVES) {
      this.invalid(d, `Ferry keeps at most ${MAX_DIRECTIVES} options of a profile; remove some and import again`);
    }
    this.kept.set(key, directive);
  }

  setenv(d: Directive): void {
    const [variable, value] = d.args;
    if (variable === 'opt') {
      // `setenv opt X …` is openvpn's "apply X if you know it": judged like X itself. One
      // level only: "setenv opt setenv opt …" recursed once per word (a crafted line overflowed the stack).
      if (d.args[1] === undefined) this.invalid(d);
      if (d.args[1] === 'setenv') this.invalid(d, '"setenv opt" applies one option, not another setenv; fix or remove the line and import again');
      return this.apply({ ...d, name: d.args[1], args: d.args.slice(2) }, true);
    }
    this.arity(d, 1, 2);
    const shown = `"setenv ${printable(variable!)}"`;
    switch (variable) {
      case 'FORWARD_COMPATIBLE':
        if (value === '1') this.forwardCompatible = true;
        return this.leaveOut(d, 'applied at import instead: options openvpn 2.6 does not know are left out with a notice', shown);
      case 'REMOTE_RANDOM_HOSTNAME':
        // openvpn's old spelling of remote-random-hostname.
        if (value === undefined) return this.keep({ name: 'remote-random-hostname', args: [] }, d);
        break;
      case 'PUSH_PEER_INFO':
        return this.leaveOut(d, OPTION_POLICY.get('push-peer-info')!.reason, shown);
      case 'SERVER_POLL_TIMEOUT':
        return; // openvpn's old spelling of server-poll-timeout, which Ferry owns.
      case 'IV_GUI_VER':
        return; // Ferry sends its own.
      case 'GENERIC_CONFIG':
        this.refuse(d, 'marks a template openvpn itself refuses to run', 'ask your administrator for your own profile and import that');
    }
    this.leaveOut(d, SETENV_VARIABLE, shown);
  }

  authUserPass(d: Directive): void {
    if (d.args.length > 0) {
      throw new ImportError(
        `${this.where(d)}: "auth-user-pass ${d.args[0] === '[inline]' ? '<inline block>' : printable(d.args[0]!)}" keeps your username and password in a file; Ferry asks for the password and keeps it in the keychain — remove the file name (keep "auth-user-pass") and import again`,
        this.file,
      );
    }
    this.passwordRequired = true;
  }

  challenge(d: Directive): void {
    const a = d.args;
    this.arity(d, 2, 3);
    if ((a[1] !== '0' && a[1] !== '1') || (a[2] !== undefined && a[2] !== 'scrv1')) this.invalid(d);
    // The schema the config builder checks again: the text must fit its quoted line.
    const parsed = StaticChallengeSchema.safeParse({ text: a[0], echo: a[1] === '1' });
    if (!parsed.success) this.invalid(d, `${describeSchemaError(parsed.error, undefined, { withPath: false })}; fix the line and import again`);
    this.staticChallenge = parsed.data;
  }

  /**
   * `peer-fingerprint FP` / `verify-hash FP [algo]`, or a block of one fingerprint per line,
   * written as one line each (openvpn joins them into one list). A verify-hash block means
   * SHA-256 (a verify-hash line without an algorithm means SHA-1), so its lines say so.
   */
  fingerprints(d: Directive): void {
    const row = OPTION_POLICY.get(d.name)!;
    if (d.inline === undefined) {
      if (d.args.length === 1 && d.args[0] === '[inline]') return; // "peer-fingerprint [inline]": the block carries them
      return this.pass(d, row);
    }
    for (const fp of d.inline.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
      this.pass({ name: d.name, args: d.name === 'verify-hash' ? [fp, 'SHA256'] : [fp], line: d.line }, row);
    }
  }

  material(d: Directive): void {
    const name = d.name as MaterialName;
    let args = d.args;
    if (d.inline === undefined && args[0] === '[inline]') {
      // openvpn 2.6 style "ca [inline]": the <ca> block carries the content.
      if (name === 'tls-auth' && args[1] !== undefined) this.tlsAuthDirection = { direction: this.direction(d, args[1]), line: d.line };
      return;
    }
    if (name === 'tls-auth') {
      if (args[1] !== undefined) this.tlsAuthDirection = { direction: this.direction(d, args[1]), line: d.line };
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

  connection(d: Directive): void {
    let proto: Proto | undefined;
    let port: number | undefined;
    const remotes: PartialRemote[] = [];
    for (const inner of d.block ?? []) {
      if (inner.name === 'remote') remotes.push(this.remote(inner));
      else if (inner.name === 'proto') proto = this.protoOf(inner, this.single(inner));
      else if (inner.name === 'port' || inner.name === 'rport') port = this.int(inner, this.single(inner), 1, 65535);
      else this.connectionOption(inner);
    }
    for (const r of remotes) this.remotes.push({ ...r, ...(proto ? { blockProto: proto } : {}), ...(port ? { blockPort: port } : {}) });
  }

  /** Anything but where to connect, inside <connection>: left out or refused by its row; a kept one is not supported there. */
  private connectionOption(inner: Directive): void {
    const row = OPTION_POLICY.get(inner.name);
    if (!row) return this.unknown(inner, false);
    if (row.disposition !== 'kept' && !CONNECTION_KEYS.has(inner.name)) return this.apply(inner);
    throw new ImportError(
      `${this.where(inner)}: "${printable(inner.name)}" inside <connection> is not supported (Ferry reads only remote, proto and port there) — move or remove the line and import again`,
      this.file,
    );
  }

  remote(d: Directive): PartialRemote {
    this.arity(d, 1, 3);
    const [host, port, proto] = d.args;
    if (!HostSchema.safeParse(host).success) this.invalid(d, 'the host must be a hostname or an IP address');
    return {
      host: host!,
      ...(port !== undefined ? { port: this.int(d, port, 1, 65535) } : {}),
      ...(proto !== undefined ? { proto: this.protoOf(d, proto) } : {}),
    };
  }

  protoOf(d: Directive, raw: string): Proto {
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

  dev(d: Directive): void {
    const name = this.single(d);
    // "dev tun0" names a device; Ferry picks its own device, only the type matters.
    const type = /^(tun|tap)\d*$/.exec(name)?.[1] as 'tun' | 'tap' | undefined;
    if (name === 'null') this.invalid(d, 'use "dev tun"');
    if (type) this.device = type;
    else this.devName = { name, line: d.line };
  }

  devType(d: Directive): void {
    const type = this.single(d);
    if (type !== 'tun' && type !== 'tap') this.invalid(d, 'use "dev-type tun" or "dev-type tap"');
    this.deviceType = type;
  }

  private finishRemotes(): Remote[] {
    return this.remotes.map((r) => ({
      host: r.host,
      port: r.port ?? r.blockPort ?? this.port ?? DEFAULT_PORT,
      proto: r.proto ?? r.blockProto ?? this.proto ?? 'udp',
    }));
  }

  private finishEngine(): Partial<EngineOptions> {
    let dev = this.device;
    if (this.devName) {
      if (!this.deviceType) {
        this.invalid({ name: 'dev', args: [this.devName.name], line: this.devName.line }, 'use "dev tun" or "dev tap" (or add "dev-type tun")');
      }
      dev = this.deviceType;
    } else if (this.deviceType) dev = this.deviceType;
    // A profile that never checks that the gateway holds a server certificate would let any
    // other client of the same CA pose as the gateway; openvpn warns about exactly that.
    // Where the CA issues client certificates (this profile carries one) Ferry asks for the
    // check openvpn recommends, and says so, since a gateway whose certificate lacks the key
    // usages then fails (the failure names the certificate). A password-only profile
    // (Synology's, say) has no client certificate from that CA, and its gateways' often
    // carry no extensions at all: it is kept as written, with the same warning openvpn gives.
    // The builder writes tls-auth before the kept options: of a tls-auth direction and a
    // key-direction line, keep only the one openvpn would end up with (the later).
    const tlsAuthDirection = this.tlsAuthDirection && this.tlsAuthDirection.line > this.keyDirectionLine ? this.tlsAuthDirection.direction : undefined;
    const directives = [...this.kept.values()].filter((d) => !(tlsAuthDirection !== undefined && d.name === 'key-direction'));
    if (!directives.some((d) => SERVER_CHECKS.has(d.name))) {
      if (this.refs.cert || this.refs.pkcs12) {
        directives.unshift({ name: 'remote-cert-tls', args: ['server'] });
        this.warnings.push(
          `${this.display}: the profile does not check that the gateway holds a server certificate — Ferry adds "remote-cert-tls server" (the gateway's certificate needs the TLS Web Server usage)`,
        );
      } else {
        this.warnings.push(
          `${this.display}: the profile does not check that the gateway holds a server certificate (no remote-cert-tls or verify-x509-name); it is kept as written, as openvpn would run it — ask your administrator for a profile with "remote-cert-tls server"`,
        );
      }
    }
    return {
      ...(dev ? { dev } : {}),
      ...(this.refs['tls-auth'] ? { tlsAuth: tlsAuthDirection === undefined ? {} : { direction: tlsAuthDirection } } : {}),
      ...(this.refs['tls-crypt'] ? { tlsCrypt: true } : {}),
      ...(this.refs['tls-crypt-v2'] ? { tlsCryptV2: true } : {}),
      directives,
    };
  }
}
