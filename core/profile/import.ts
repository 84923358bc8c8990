/**
 * `ferry import`: turns what an administrator sent (three PEM files, an .ovpn, a
 * ferry-server bundle .zip or a PKCS#12 file) into a validated profile draft plus the
 * files to store. Inputs are recognised by content; everything is checked here (chain,
 * key, dates) so a profile that cannot work is refused with one line saying why.
 * Nothing is written: the store does that once the whole import succeeded.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { isZip, readZip, type ZipEntry } from './archive.js';
import {
  certLabel,
  commonName,
  CredentialPool,
  parseCertificate,
  settleCredentials,
  summarizeCertificate,
  type Credentials,
  type SettleContext,
} from './certificates.js';
import { isPkcs12, readPkcs12 } from './pkcs12.js';
import { interpretOvpn, looksLikeOvpn, type MaterialName, type MaterialRef, type OvpnProfile } from './ovpn.js';
import { checkStaticKey, describeOther, hasPemBlock, ImportError, parsePemBlocks, printable } from './pem.js';
import { hasUnprintable, replaceUnprintable } from '../util/unprintable.js';
import { describeSchemaError } from '../util/schema-error.js';
import {
  HostSchema,
  ProfileNameSchema,
  ProfileSchema,
  UsernameSchema,
  type CertificateSummary,
  type EngineOptions,
  type Profile,
  type ProfileFileName,
  type Proto,
  type Remote,
} from './schema.js';

export { ImportError } from './pem.js';

export interface ImportOptions {
  /** Profile name; default: the .ovpn/zip base name, else the client certificate's CN. */
  name?: string;
  /** Overrides/sets the remote (a PEM import needs it). */
  gateway?: { host: string; port?: number };
  proto?: 'tcp' | 'udp';
  /** Default: the ferry-server account named in the profile, else the client certificate's CN. */
  username?: string;
  /** PEM/PKCS#12 import: the server asks no password (certificate only). */
  noPassword?: boolean;
  /** Asked for an encrypted key or PKCS#12 file; undefined = cannot ask (no terminal). */
  askPassphrase?: (file: string) => Promise<string | undefined>;
  /** "Now" for validity checks (tests). */
  now?: Date;
}

export interface ImportedProfile {
  draft: Omit<Profile, 'id' | 'createdAt' | 'version'>;
  files: Partial<Record<ProfileFileName, string>>;
  certificates: CertificateSummary[];
  warnings: string[];
}

/** No certificate, key or profile is anywhere near this big; refusing early keeps memory small. */
export const MAX_FILE_BYTES = 1024 * 1024;
const DEFAULT_PORT = 1194;
/** The seed's SSL server defaults to TCP. */
const PEM_DEFAULT_PROTO: Proto = 'tcp';
const ACCEPTED = 'a PEM certificate or key, an .ovpn profile, a .zip bundle or a PKCS#12 file';
const USAGE = 'give the three PEM files (CA certificate, client certificate, client key), one .ovpn, one .zip bundle or one PKCS#12 file';

type Kind = 'pem' | 'ovpn' | 'zip' | 'p12';

/** One thing to read: a file the user named, a zip entry or a file an .ovpn names. */
interface Source {
  display: string;
  /** The path the user gave (for a zip entry: the zip). */
  file: string;
  data: Buffer;
}

/** What one input (PEM files, .ovpn, bundle) yielded, before the draft is assembled. */
interface Intermediate extends Credentials {
  source: string;
  remotes: Remote[];
  passwordRequired: boolean;
  staticChallenge?: { text: string; echo: boolean };
  engine: Partial<EngineOptions>;
  account?: string;
  files: Partial<Record<ProfileFileName, string>>;
  needsGateway: boolean;
}

interface Context extends SettleContext {
  opts: ImportOptions;
}

export async function importFiles(paths: string[], opts: ImportOptions = {}): Promise<ImportedProfile> {
  if (paths.length === 0) throw new ImportError(`no files to import — ${USAGE}`);
  if (opts.proto !== undefined && opts.proto !== 'tcp' && opts.proto !== 'udp') throw new ImportError(`--proto "${String(opts.proto)}" must be tcp or udp`);
  const ctx: Context = { opts, now: opts.now ?? new Date(), warnings: [], askPassphrase: opts.askPassphrase };
  const sources = await readInputs(paths);
  const kinds = sources.map((s) => ({ source: s, kind: detect(s) }));

  const single = kinds.find((k) => k.kind === 'ovpn' || k.kind === 'zip');
  if (single && kinds.length > 1) {
    const other = kinds.find((k) => k !== single)!;
    throw new ImportError(`${single.source.display} cannot be combined with ${other.source.display} — ${USAGE}`, other.source.file);
  }
  if (single?.kind === 'ovpn') {
    const s = single.source;
    const ovpn = await fromOvpn(s.data.toString('utf8'), s.display, s.file, fsResolver(s.file, s.display), ctx);
    return finish(ovpn, baseName(s.display), ctx);
  }
  if (single?.kind === 'zip') return fromZip(single.source, ctx);
  return finish(await fromCertificateFiles(kinds, ctx), undefined, ctx);
}

// ---------------------------------------------------------------------------------------
// Reading and recognising inputs

async function readInputs(paths: string[]): Promise<Source[]> {
  const seen = new Map<string, string>();
  const out: Source[] = [];
  for (const p of paths) {
    const display = printable(path.basename(p), 120);
    const real = await realpath(p).catch(() => path.resolve(p));
    if (seen.has(real)) throw new ImportError(`${display} is given twice — give each file once`, p);
    seen.set(real, p);
    out.push({ display, file: p, data: await readLimited(p, display, p) });
  }
  return out;
}

/** Reads a file after checking it is a regular file under the size limit (checked again after reading: it may grow). */
async function readLimited(p: string, display: string, file: string): Promise<Buffer> {
  const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new ImportError(`${p} not found — check the file name and import again`, file);
    throw new ImportError(`${p} cannot be read (${err.code ?? err.message}) — check its permissions`, file);
  });
  if (!st.isFile()) throw new ImportError(`${display} is not a regular file — ${USAGE}`, file);
  const tooBig = (size: number) =>
    new ImportError(`${display} is ${(size / 1024 / 1024).toFixed(1)} MiB; profile files are at most 1 MiB — is this the right file?`, file);
  if (st.size > MAX_FILE_BYTES) throw tooBig(st.size);
  const data = await readFile(p);
  if (data.length > MAX_FILE_BYTES) throw tooBig(data.length);
  return data;
}

/** Text, or undefined for binary (NUL bytes or invalid UTF-8). */
function asText(data: Buffer): string | undefined {
  if (data.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}

/** By content; the extension only breaks ties (an .ovpn holding only unknown options, a .p12). */
function detectKind(data: Buffer, name: string): Kind | undefined {
  if (isZip(data)) return 'zip';
  const ext = path.extname(name).toLowerCase();
  const text = asText(data);
  if (text !== undefined) {
    if (looksLikeOvpn(text)) return 'ovpn';
    if (hasPemBlock(text)) return 'pem';
    return ext === '.ovpn' || ext === '.conf' ? 'ovpn' : undefined;
  }
  return ext === '.p12' || ext === '.pfx' || isPkcs12(data) ? 'p12' : undefined;
}

function detect(s: Source): Kind {
  const kind = detectKind(s.data, s.display);
  if (!kind) throw new ImportError(`${s.display} is not ${ACCEPTED} — import the files your administrator sent`, s.file);
  return kind;
}

function baseName(display: string): string {
  const base = display.split(/[/:]/).pop() ?? display;
  return base.replace(/\.[^.]+$/, '');
}

// ---------------------------------------------------------------------------------------
// The three PEM files (or a PKCS#12 file, possibly with a CA file beside it)

async function fromCertificateFiles(inputs: { source: Source; kind: Kind }[], ctx: Context): Promise<Intermediate> {
  const pool = new CredentialPool();
  for (const { source, kind } of inputs) {
    if (kind === 'p12') await addPkcs12(pool, source, ctx);
    else addPemFile(pool, source);
  }
  const names = inputs.map((i) => i.source.display).join(', ');
  const file = inputs.length === 1 ? inputs[0]!.source.file : undefined;
  const fileFor = { 'CA certificate': 'ca.crt', 'client certificate': 'client.crt', 'client key': 'client.key' } as const;
  const settled = await settleCredentials(pool, ctx, true, (what) => new ImportError(`no ${what} found among: ${names} — add the ${fileFor[what]} file your administrator sent`, file));
  return {
    source: names,
    remotes: [],
    passwordRequired: !ctx.opts.noPassword,
    // No profile to say otherwise: openvpn's recommended check that the gateway holds a server certificate.
    engine: { directives: [{ name: 'remote-cert-tls', args: ['server'] }] },
    files: {},
    needsGateway: true,
    ...settled,
  };
}

function addPemFile(pool: CredentialPool, s: Source): void {
  const blocks = parsePemBlocks(s.data.toString('utf8'), s.display, s.file);
  let used = 0;
  for (const b of blocks) {
    if (b.kind === 'certificate') pool.addCert({ cert: parseCertificate(b.text, s.display, s.file), display: s.display, file: s.file });
    else if (b.kind === 'private-key') pool.keys.push({ display: s.display, file: s.file, block: b });
    else if (b.kind === 'static-key' || b.kind === 'tls-crypt-v2') {
      throw new ImportError(
        `${s.display} is an OpenVPN ${b.kind === 'static-key' ? 'static key (tls-auth/tls-crypt)' : 'tls-crypt-v2 key'}; only an .ovpn says how to use it — import the .ovpn profile your administrator sent`,
        s.file,
      );
    } else throw new ImportError(`${s.display} holds ${describeOther(b.label)} — leave it out and import again`, s.file);
    used++;
  }
  if (used === 0) throw new ImportError(`${s.display} holds no certificate or key — leave it out and import again`, s.file);
}

async function addPkcs12(pool: CredentialPool, s: Source, ctx: Context): Promise<void> {
  const p12 = await readPkcs12(s.data, s.display, s.file, ctx.opts.askPassphrase);
  for (const cert of p12.certs) pool.addCert({ cert, display: s.display, file: s.file, fromP12: true });
  if (p12.key) pool.keys.push({ display: s.display, file: s.file, p12: { key: p12.key, passphrase: p12.passphrase } });
}

// ---------------------------------------------------------------------------------------
// An .ovpn profile, on disk or inside a bundle

/** Fetches a file an .ovpn names; refuses anything but a plain relative path inside the profile's folder. */
type Resolver = (ref: MaterialRef, ovpnDisplay: string) => Promise<Source>;

function checkRelative(ref: MaterialRef, ovpnDisplay: string, file: string): string[] {
  const p = ref.path!;
  const where = `${ovpnDisplay} line ${ref.line}: "${ref.directive} ${printable(p)}"`;
  const fix = `copy the file next to ${ovpnDisplay}, write "${ref.directive} ${printable(p.split(/[\\/]/).pop() ?? '')}" and import again`;
  if (/^([A-Za-z]:)?[\\/]/.test(p) || p.startsWith('~')) throw new ImportError(`${where} names an absolute path; Ferry reads only files next to the profile — ${fix}`, file);
  const parts = p.split(/[\\/]/).filter((x) => x && x !== '.');
  if (parts.includes('..') || parts.length === 0) throw new ImportError(`${where} points outside the profile's folder — ${fix}`, file);
  return parts;
}

function fsResolver(ovpnFile: string, ovpnDisplay: string): Resolver {
  const dir = path.dirname(ovpnFile);
  return async (ref) => {
    const parts = checkRelative(ref, ovpnDisplay, ovpnFile);
    const full = path.join(dir, ...parts);
    const where = `${ovpnDisplay} line ${ref.line}: "${ref.directive} ${printable(ref.path!)}"`;
    const real = await realpath(full).catch(() => {
      throw new ImportError(`${where}: ${printable(parts.join('/'))} not found next to ${ovpnDisplay} — put the file there (or paste it inline as <${ref.directive}>…</${ref.directive}>) and import again`, ovpnFile);
    });
    // A symlink may lead out of the folder even when the name does not.
    const realDir = await realpath(dir);
    if (!real.startsWith(realDir + path.sep)) throw new ImportError(`${where} points outside the profile's folder — copy the file next to ${ovpnDisplay} and import again`, ovpnFile);
    const display = printable(parts.join('/'), 120);
    return { display, file: full, data: await readLimited(full, display, full) };
  };
}

function zipResolver(entries: ZipEntry[], ovpnPath: string, zip: Source): Resolver {
  const dir = path.posix.dirname(ovpnPath);
  return async (ref, ovpnDisplay) => {
    const parts = checkRelative(ref, ovpnDisplay, zip.file);
    const wanted = path.posix.join(dir, ...parts);
    const entry = entries.find((e) => e.path === wanted);
    if (!entry) throw new ImportError(`${ovpnDisplay} line ${ref.line}: "${ref.directive} ${printable(ref.path!)}": ${printable(wanted)} is not in ${zip.display} — ask your administrator for a new bundle`, zip.file);
    return { display: `${zip.display}:${printable(entry.path, 120)}`, file: zip.file, data: entry.data };
  };
}

const STATIC_FILES: Partial<Record<MaterialName, ProfileFileName>> = {
  'tls-auth': 'tls-auth.key',
  'tls-crypt': 'tls-crypt.key',
  'tls-crypt-v2': 'tls-crypt-v2.key',
};

async function fromOvpn(text: string, display: string, file: string, resolve: Resolver, ctx: Context): Promise<Intermediate> {
  const ovpn: OvpnProfile = interpretOvpn(text, display, file);
  ctx.warnings.push(...ovpn.warnings);
  const pool = new CredentialPool();
  const files: Partial<Record<ProfileFileName, string>> = {};

  const load = async (ref: MaterialRef): Promise<Source> =>
    ref.inline !== undefined ? { display: `${display} <${ref.directive}>`, file, data: Buffer.from(ref.inline) } : resolve(ref, display);

  for (const name of ['ca', 'cert', 'key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2'] as const) {
    const ref = ovpn.refs[name];
    if (!ref) continue;
    const src = await load(ref);
    const blocks = parsePemBlocks(src.data.toString('utf8'), src.display, src.file);
    const want = name === 'ca' || name === 'cert' ? 'certificate' : name === 'key' ? 'private-key' : name === 'tls-crypt-v2' ? 'tls-crypt-v2' : 'static-key';
    // Like openvpn, each directive takes the blocks of its own kind from what it names.
    const mine = blocks.filter((b) => b.kind === want);
    const what = { certificate: 'certificate', 'private-key': 'private key', 'static-key': 'OpenVPN static key', 'tls-crypt-v2': 'tls-crypt-v2 client key' }[want];
    if (mine.length === 0) throw new ImportError(`${src.display} (line ${ref.line}) holds no ${what} — ask your administrator for the complete profile`, src.file);
    if (want === 'certificate') {
      mine.forEach((b, i) => {
        const role = name === 'ca' ? 'ca' : i === 0 ? 'client' : undefined; // further certs in <cert> are its chain
        pool.addCert({ cert: parseCertificate(b.text, src.display, src.file), display: src.display, file: src.file, ...(role ? { role } : {}) });
      });
    } else if (want === 'private-key') {
      if (mine.length > 1) throw new ImportError(`${src.display} holds ${mine.length} private keys — keep only the client key`, src.file);
      pool.keys.push({ display: src.display, file: src.file, block: mine[0]! });
    } else {
      checkStaticKey(mine[0]!, src.display, src.file);
      files[STATIC_FILES[name]!] = mine[0]!.text;
    }
  }
  if (ovpn.refs.pkcs12) {
    const ref = ovpn.refs.pkcs12;
    const src = ref.inline !== undefined ? { display: `${display} <pkcs12>`, file, data: Buffer.from(ref.inline.replace(/\s+/g, ''), 'base64') } : await resolve(ref, display);
    await addPkcs12(pool, src, ctx);
  }

  const needs = `ask your administrator for the complete profile`;
  const settled = await settleCredentials(pool, ctx, !ovpn.passwordRequired, (what) => {
    const spelled = { 'CA certificate': '"ca" or <ca>', 'client certificate': '"cert" or <cert>', 'client key': '"key" or <key>' }[what];
    const extra = what === 'client certificate' && !ovpn.passwordRequired && pool.keys.length === 0 ? ' and no "auth-user-pass"' : '';
    return new ImportError(`${display} has no ${what} (${spelled})${extra} — ${needs}`, file);
  }, 'warn');
  return {
    source: display,
    remotes: ovpn.remotes,
    passwordRequired: ovpn.passwordRequired,
    ...(ovpn.staticChallenge ? { staticChallenge: ovpn.staticChallenge } : {}),
    engine: ovpn.engine,
    ...(ovpn.account ? { account: ovpn.account } : {}),
    files,
    needsGateway: false,
    ...settled,
  };
}

async function fromZip(zip: Source, ctx: Context): Promise<ImportedProfile> {
  const entries = readZip(zip.data, zip.display, zip.file);
  const sources = entries.map((e) => ({ source: { display: `${zip.display}:${printable(e.path, 120)}`, file: zip.file, data: e.data }, path: e.path }));
  const kinds = sources.map((s) => ({ ...s, kind: detect(s.source) }));
  const nested = kinds.find((k) => k.kind === 'zip');
  if (nested) throw new ImportError(`${zip.display} holds another archive (${nested.path}) — unzip it yourself and import the files inside`, zip.file);
  const profiles = kinds.filter((k) => k.kind === 'ovpn');
  if (profiles.length > 1) {
    throw new ImportError(`${zip.display} holds several profiles (${profiles.map((p) => p.path).join(', ')}) — unzip it and import the one you need`, zip.file);
  }
  const ovpn = profiles[0];
  if (ovpn) {
    // The bundle's own profile says everything; the loose PEM copies beside it are not needed.
    const result = await fromOvpn(ovpn.source.data.toString('utf8'), ovpn.source.display, zip.file, zipResolver(entries, ovpn.path, zip), ctx);
    return finish(result, baseName(ovpn.path), ctx);
  }
  if (kinds.length === 0) throw new ImportError(`${zip.display} is empty — ask your administrator for a new bundle`, zip.file);
  return finish(await fromCertificateFiles(kinds, ctx), baseName(zip.display), ctx);
}

// ---------------------------------------------------------------------------------------
// The draft

function finish(r: Intermediate, defaultName: string | undefined, ctx: Context): ImportedProfile {
  const { opts } = ctx;
  const cn = r.client ? commonName(r.client.cert) : undefined;
  const remotes = chooseRemotes(r, opts);
  const files: Partial<Record<ProfileFileName, string>> = { ...r.files, 'ca.crt': r.cas.map((c) => c.cert.toString()).join('') };
  if (r.client && r.key) {
    files['client.crt'] = r.client.cert.toString();
    files['client.key'] = r.key.text;
  }
  const username = chooseUsername(opts.username, r, cn);
  const draft = {
    name: chooseName(opts.name, defaultName, cn),
    remotes,
    ...(username !== undefined ? { username } : {}),
    passwordRequired: r.passwordRequired,
    ...(r.staticChallenge ? { staticChallenge: r.staticChallenge } : {}),
    keyEncrypted: r.key?.encrypted ?? false,
    files: Object.keys(files).sort() as ProfileFileName[],
    engine: r.engine,
  };
  const parsed = ProfileSchema.omit({ id: true, createdAt: true, version: true }).safeParse(draft);
  if (!parsed.success) throw new ImportError(`${describeSchemaError(parsed.error, r.source, { whole: 'profile' })} — fix the profile and import again`);
  const certificates = [
    ...r.cas.map((c) => summarizeCertificate(c.cert, 'ca')),
    ...(r.client ? [summarizeCertificate(r.client.cert, 'client')] : []),
  ];
  return { draft: parsed.data, files, certificates, warnings: ctx.warnings };
}

function chooseRemotes(r: Intermediate, opts: ImportOptions): Remote[] {
  if (opts.gateway) {
    const { host, port } = opts.gateway;
    if (!HostSchema.safeParse(host).success) throw new ImportError(`--gateway "${host}" is not a hostname or an IP address`);
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new ImportError(`--gateway port ${port} is out of range (1-65535)`);
    const first = r.remotes[0];
    return [{ host, port: port ?? first?.port ?? DEFAULT_PORT, proto: opts.proto ?? first?.proto ?? PEM_DEFAULT_PROTO }];
  }
  if (r.remotes.length === 0) {
    const what = r.needsGateway ? ': certificate files do not say which gateway to connect to' : ' has no "remote" line';
    throw new ImportError(`${r.source}${what} — add --gateway HOST[:PORT]`);
  }
  return opts.proto ? r.remotes.map((x) => ({ ...x, proto: opts.proto! })) : r.remotes;
}

/** --username, else the account the profile names (ovpn.ts checked it), else the client certificate's CN. */
function chooseUsername(given: string | undefined, r: Intermediate, cn: string | undefined): string | undefined {
  if (given !== undefined) {
    const parsed = UsernameSchema.safeParse(given);
    if (!parsed.success) throw new ImportError(describeSchemaError(parsed.error, `--username "${given}"`, { withPath: false }));
    return parsed.data;
  }
  if (r.account !== undefined || cn === undefined || !hasUnprintable(cn)) return r.account ?? cn;
  throw new ImportError(
    `${r.client!.display}: the client certificate's name (${certLabel(r.client!.cert)}) holds control characters or bidi controls, so it cannot be the username — give --username U`,
    r.client!.file,
  );
}

function chooseName(given: string | undefined, fallback: string | undefined, cn: string | undefined): string {
  if (given !== undefined) {
    const parsed = ProfileNameSchema.safeParse(given);
    if (!parsed.success) throw new ImportError(describeSchemaError(parsed.error, `--name "${given}"`, { withPath: false }));
    return parsed.data;
  }
  // Derived names are made valid rather than refused: the person did not choose them.
  for (const candidate of [fallback, cn]) {
    const cleaned = candidate && replaceUnprintable(candidate, '-').replace(/[/\\]/g, '-').trim().slice(0, 64);
    if (cleaned) return cleaned;
  }
  return 'VPN';
}
