/**
 * What Ferry does with every openvpn 2.6 option an imported profile may hold: one row per
 * option of openvpn 2.6.14's manual (doc/man-sections/*.rst, vendored in
 * test/fixtures/openvpn-man/), plus the names only its option parser (options.c) or its
 * change log (Changes.rst) knows. docs/openvpn-options.md is generated from this table;
 * test/unit/option-policy.test.ts checks that the manual and the table agree.
 *
 * The rule is to do what a stock openvpn 2.6 client does with the same profile, except:
 * - refused: the option runs a program, reads or writes a file outside the profile, lends
 *   a root-only privilege, turns a protection off, or was removed (the message names the
 *   replacement). Import stops with the directive's line and this reason.
 * - owned: Ferry decides it itself (its management socket, retries, logging, how openvpn
 *   runs); the profile's line is left out, with a notice where the profile meant something.
 * - dropped: meant for servers, other clients or scripts; left out with a notice.
 * - inert: no effect on this platform (Windows-only); left out, with a notice where it matters.
 * - kept: passed through exactly as written, within the bounds openvpn itself enforces
 *   (tighter only where a row says why). `args` describes them; a kept row without `args`
 *   is one the importer interprets itself (remotes, certificates and keys, the device…).
 */
import {
  args,
  count,
  int,
  INT_MAX,
  NO_ARGS,
  oneOf,
  text,
  withCheck,
  withRest,
  word,
  type ArgSpec,
  type Param,
} from './option-args.js';

export type Disposition = 'kept' | 'inert' | 'dropped' | 'refused' | 'owned';

export interface OptionRow {
  name: string;
  disposition: Disposition;
  /** One line: why. For a refused option, completes `"name" …`. */
  reason: string;
  /** The manual page that defines it (doc/man-sections/NAME.rst), or 'options.c' / 'Changes.rst'. */
  source: string;
  /** Owned and inert rows: whether import says it left the line out (dropped rows always do). */
  notice?: boolean;
  /** Kept rows the config builder writes as given: their arguments and openvpn's bounds. */
  args?: ArgSpec;
  /** Kept rows: why a particular value is refused (e.g. "cipher none"). */
  refuse?: (values: string[]) => string | undefined;
  /** Refused rows: what to do instead; ends the message (default: remove the line). */
  fix?: string;
}

// ---------------------------------------------------------------------------------------
// Reasons shared by many rows

const SCRIPT = 'runs a script; Ferry never runs scripts from a profile';
const WRITES = 'reads or writes files on this computer; Ferry keeps profiles self-contained';
const LOG_FILE = "Ferry never lets openvpn write files; openvpn's log is kept by Ferry (the Log view, `ferry connect` output)";
const SERVER = "is a server's option; a client has no use for it";
const SERVER_ROLE = "makes openvpn a server; this is a server's config, not a client profile";
const PUSHED = "is sent by a server in its reply to the client's pull, not written in a profile";
const SCRIPT_ENV = 'only feeds scripts and plugins, which Ferry never runs';
const ONE_OFF = 'is a one-off command (openvpn runs it and exits instead of connecting), not a connection setting';
const WINDOWS = 'applies to Windows only; openvpn on Linux and macOS has no such setting';
const MANAGEMENT = 'Ferry drives openvpn through its own management socket, which only the user who connects can reach';
const RETRIES = "Ferry's session paces reconnects itself and gives up after the profile's reconnect timeout";
const OUTPUT = "Ferry reads openvpn's output itself (state, failures), so it decides where it goes";
const PROCESS = 'Ferry (or ferry-helper, as root) decides how the openvpn process runs';
const IGNORED = 'openvpn 2.6 ignores it (it only logs a warning)';
const TOKEN = 'uses a hardware token through a PKCS#11 library, which Ferry does not load';
const ROOT_SOCKET = "sets a root-only property of openvpn's own connection that firewall rules rely on; ferry-helper lends no such privilege";

// ---------------------------------------------------------------------------------------
// Argument vocabulary

const HOST = word('host', /^[A-Za-z0-9._:-]+$/, 253);
const IPV4 = word('address', /^\d{1,3}(\.\d{1,3}){3}$/, 15);
const IPV6 = word('address', /^[0-9A-Fa-f:.]+$/, 45);
const IPV6_NET = word('network/bits', /^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, 49);
/** An address, a name, or one of openvpn's special gateway words (vpn_gateway, net_gateway, remote_host). */
const ROUTE_ADDRESS = word('address', /^[A-Za-z0-9._-]+$/, 253);
const PORT = int('port', 1, 65535);
const SECONDS = count('seconds');
const BYTES = count('bytes');
/** OpenSSL algorithm names (AES-256-GCM, SHA256, …). */
const ALGORITHM = word('algorithm', /^[A-Za-z0-9-]+$/, 64);
/** src/openvpn/ssl_ncp.h MAX_NCP_CIPHERS_LENGTH; `?` marks a cipher optional (openvpn 2.6). */
const CIPHER_LIST = word('cipher-list', /^\??[A-Za-z0-9-]+(:\??[A-Za-z0-9-]+)*$/, 127);
/** OpenSSL cipher strings (tls-cipher) and suite/group lists: its own punctuation, no spaces. */
const OPENSSL_LIST = word('list', /^[A-Za-z0-9:+_!@=.-]+$/, 240);
const TLS_VERSION = oneOf('version', '1.0', '1.1', '1.2', '1.3');
/** Colon-separated hex of a SHA-1 (20 bytes) or SHA-256 (32 bytes) digest. */
const FINGERPRINT = word('fingerprint', /^(([0-9A-Fa-f]{2}:){19}|([0-9A-Fa-f]{2}:){31})[0-9A-Fa-f]{2}$/, 95);
const SHA256_FINGERPRINT = word('fingerprint', /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 95);
/** verify-hash: SHA-1 unless the second argument says SHA256; the length must match (options.c). */
const hashMatches = (v: string[]) => ((v[1] === 'SHA256') === (v[0]!.length === 95) ? undefined : `the fingerprint is not a ${v[1] ?? 'SHA1'} digest`);
const NAME_TEXT = (name: string) => text(name, 200);
const DNS_VALUE = word('value', /^[A-Za-z0-9._:[\]-]+$/, 253);

/** openvpn 2.6's --dns forms (options.c, dns.c): search-domains D…, or server N address|resolve-domains|dnssec|transport|sni …. */
function checkDns(v: string[]): string | undefined {
  if (v[0] === 'search-domains') return undefined;
  // A profile may give any priority from -128 to 127 (dns.c dns_server_priority_parse).
  const priority = Number(v[1]);
  if (!/^-?\d{1,3}$/.test(v[1]!) || priority < -128 || priority > 127) return 'the server priority is a number from -128 to 127';
  const [what, value] = [v[2], v[3]];
  if (value === undefined) return 'dns server takes a priority, a setting and its value';
  if (what === 'address' || what === 'resolve-domains') return undefined;
  if (v.length !== 4) return `dns server ${what} takes one value`;
  if (what === 'dnssec') return ['yes', 'no', 'optional'].includes(value) ? undefined : 'dnssec is yes, no or optional';
  if (what === 'transport') return ['plain', 'DoH', 'DoT'].includes(value) ? undefined : 'transport is plain, DoH or DoT';
  return what === 'sni' ? undefined : 'the setting is address, resolve-domains, dnssec, transport or sni';
}

const flag = NO_ARGS;
const one = (param: Param) => args(1, param);
const upTo = (param: Param, max: number, required = 1) => withRest(args(required), param, max);

/** `none` in a cipher or digest turns protection off: below anything openvpn 2.6 does by default. */
const noNone = (what: string) => (values: string[]) => (values.some((v) => v.toLowerCase().split(':').includes('none')) ? what : undefined);

// ---------------------------------------------------------------------------------------
// Row builders

type Extra = Pick<OptionRow, 'notice' | 'refuse' | 'fix'>;
const row = (disposition: Disposition) => (name: string, source: string, reason: string, more: Extra & { args?: ArgSpec } = {}): OptionRow => ({
  name,
  disposition,
  source,
  reason,
  ...more,
});
const keep = (name: string, source: string, spec: ArgSpec | 'importer', reason: string, more: Extra = {}): OptionRow =>
  row('kept')(name, source, reason, { ...more, ...(spec === 'importer' ? {} : { args: spec }) });
const refuse = row('refused');
const drop = row('dropped');
const own = row('owned');
const inert = row('inert');
const removed = (name: string, source: string, when: string, instead: string, fix = 'remove the line and import again'): OptionRow =>
  refuse(name, source, `was removed in openvpn ${when}; ${instead}`, { fix });

// ---------------------------------------------------------------------------------------
// The table, in the manual's order

const ROWS: OptionRow[] = [
  // generic-options.rst
  drop('help', 'generic-options', ONE_OFF),
  own('auth-nocache', 'generic-options', 'Ferry always writes it: openvpn forgets the password once used, and Ferry asks again (or reads the keychain)'),
  own('cd', 'generic-options', 'Ferry gives openvpn every file as an absolute path, so the working directory does not matter'),
  refuse('chroot', 'generic-options', "makes openvpn look for its files under a folder the profile names (as root, ferry-helper's own DNS hook would run from there)"),
  keep('compat-mode', 'generic-options', one(word('version', /^\d{1,2}\.\d{1,2}\.\d{1,2}$/, 8)), 'adjusts defaults for an old peer, as the profile asks'),
  refuse('config', 'generic-options', 'includes another file; Ferry reads only the profile itself'),
  own('daemon', 'generic-options', `${PROCESS}: openvpn stays in the foreground under Ferry`),
  keep('disable-dco', 'generic-options', flag, 'turns data-channel offload off, as the profile asks'),
  keep('disable-occ', 'generic-options', flag, 'deprecated but still honoured: stops the option-consistency warning exchange'),
  refuse('engine', 'generic-options', 'loads an OpenSSL engine (a shared library) into openvpn; Ferry loads no code from a profile'),
  keep('fast-io', 'generic-options', flag, 'a performance setting openvpn honours on Linux'),
  own('group', 'generic-options', `${PROCESS}; ferry-helper needs root after connecting to remove routes and restore DNS`, { notice: true }),
  own('ignore-unknown-option', 'generic-options', 'applied at import: an option it names that openvpn 2.6 does not know is left out with a notice'),
  refuse('iproute', 'generic-options', SCRIPT),
  keep('keying-material-exporter', 'generic-options', args(2, word('label', /^EXPORTER[A-Za-z0-9_-]*$/, 64), int('length', 16, 4095)), 'exports key material to scripts and plugins; harmless, kept as openvpn would'),
  own('mlock', 'generic-options', `${PROCESS}: it raises openvpn's locked-memory limit to 100 MB, a root privilege (and openvpn exits where it may not)`, { notice: true }),
  own('nice', 'generic-options', `${PROCESS}; a negative value would be a root privilege lent to the profile`, { notice: true }),
  own('persist-key', 'generic-options', 'Ferry always writes it, so soft restarts need no second passphrase'),
  keep('providers', 'generic-options', upTo(oneOf('provider', 'default', 'legacy', 'base', 'fips'), 8), "loads OpenSSL providers (legacy: old ciphers such as BF-CBC); only OpenSSL's built-in names, since a path would load a library as root"),
  own('remap-usr1', 'generic-options', "Ferry's session restarts openvpn through the management socket and relies on openvpn's usual signal meanings", { notice: true }),
  own('script-security', 'generic-options', 'Ferry writes its own level: no script of the profile can run whatever the profile says (each script option is refused)'),
  own('setcon', 'generic-options', PROCESS, { notice: true }),
  own('status', 'generic-options', "Ferry never lets openvpn write files; the tunnel's status is in Ferry's own status", { notice: true }),
  own('status-version', 'generic-options', 'only shapes the status file, which Ferry never lets openvpn write'),
  drop('test-crypto', 'generic-options', ONE_OFF),
  refuse('tmp-dir', 'generic-options', WRITES),
  inert('use-prediction-resistance', 'generic-options', 'exists only in openvpn builds with mbed TLS; the OpenSSL build Ferry runs does not know it (a stock client here would refuse the line)', { notice: true }),
  own('user', 'generic-options', `${PROCESS}; ferry-helper needs root after connecting to remove routes and restore DNS`, { notice: true }),
  refuse('writepid', 'generic-options', WRITES),

  // log-options.rst
  drop('echo', 'log-options', 'sends a message to the graphical client driving openvpn (other clients use it); Ferry has none to act on'),
  own('errors-to-stderr', 'log-options', OUTPUT),
  // Azure's downloaded profile says `log openvpn.log`: refusing it would lock every Azure
  // user out for a file nobody needs, since Ferry keeps openvpn's log itself.
  own('log', 'log-options', LOG_FILE, { notice: true }),
  own('log-append', 'log-options', LOG_FILE, { notice: true }),
  own('machine-readable-output', 'log-options', OUTPUT),
  own('mute', 'log-options', OUTPUT),
  own('mute-replay-warnings', 'log-options', OUTPUT),
  own('suppress-timestamps', 'log-options', OUTPUT),
  own('syslog', 'log-options', OUTPUT, { notice: true }),
  own('verb', 'log-options', OUTPUT),

  // protocol-options.rst
  keep('allow-compression', 'protocol-options', one(oneOf('mode', 'yes', 'no', 'asym')), 'kept exactly: whether openvpn accepts (and sends) compressed packets is the server\'s and profile\'s choice; openvpn 2.6 defaults to no'),
  keep('auth', 'protocol-options', one(ALGORITHM), 'HMAC digest for tls-auth and CBC data ciphers', { refuse: noNone('turns packet authentication off') }),
  keep('cipher', 'protocol-options', one(ALGORITHM), 'kept exactly; openvpn 2.6 uses it only for frame sizes with old peers (it is no longer appended to data-ciphers)', { refuse: noNone('turns encryption off') }),
  keep('compress', 'protocol-options', args(0, oneOf('algorithm', 'stub', 'stub-v2', 'lz4', 'lz4-v2', 'lzo', 'migrate')), 'compression framing the server expects'),
  keep('comp-lzo', 'protocol-options', args(0, oneOf('mode', 'yes', 'no', 'adaptive')), 'legacy compression framing the server expects'),
  keep('comp-noadapt', 'protocol-options', flag, 'turns adaptive LZO compression off'),
  keep('key-direction', 'protocol-options', one(oneOf('direction', '0', '1')), 'the direction of the tls-auth key'),
  keep('data-ciphers', 'protocol-options', one(CIPHER_LIST), 'the negotiable data-channel ciphers, `?` marking optional ones', { refuse: noNone('turns encryption off') }),
  keep('data-ciphers-fallback', 'protocol-options', one(ALGORITHM), 'the cipher for servers that cannot negotiate', { refuse: noNone('turns encryption off') }),
  refuse('secret', 'protocol-options', 'uses static-key mode, which has no forward secrecy and which Ferry does not support'),
  keep('tran-window', 'protocol-options', one(SECONDS), 'how long the old key stays valid after renegotiation'),
  drop('force-tls-key-material-export', 'protocol-options', `${SERVER} (openvpn 2.6 refuses it without --mode server)`),

  // client-options.rst
  keep('allow-pull-fqdn', 'client-options', flag, 'lets the server push names instead of addresses'),
  keep('allow-recursive-routing', 'client-options', flag, 'lets the server route the gateway itself through the tunnel'),
  drop('auth-token', 'client-options', PUSHED),
  drop('auth-token-user', 'client-options', PUSHED),
  keep('auth-user-pass', 'client-options', 'importer', 'the server asks a username and password; Ferry asks for the password and keeps it in the keychain (a file of credentials is refused)'),
  own('auth-retry', 'client-options', 'Ferry always writes "auth-retry interact": a wrong password is asked again, and the session decides when to stop'),
  own('client', 'client-options', 'Ferry always writes it'),
  keep('client-nat', 'client-options', args(4, oneOf('type', 'snat', 'dnat'), IPV4, IPV4, IPV4), 'rewrites addresses of tunnel packets, as the profile asks'),
  own('connect-retry', 'client-options', RETRIES),
  own('connect-retry-max', 'client-options', RETRIES),
  own('connect-timeout', 'client-options', `${RETRIES} (the same as server-poll-timeout)`),
  keep('dns', 'client-options', withCheck(withRest(args(2, oneOf('kind', 'search-domains', 'server'), DNS_VALUE), DNS_VALUE, 12), checkDns), 'DNS settings; ferry-helper applies them as it applies the ones the server pushes'),
  keep('explicit-exit-notify', 'client-options', args(0, count('n')), 'tells a UDP server when the client leaves'),
  keep('inactive', 'client-options', args(1, SECONDS, BYTES), 'ends the tunnel after a quiet period, as the profile asks'),
  keep('proto-force', 'client-options', one(oneOf('protocol', 'udp', 'tcp')), 'keeps only the connection entries of one protocol'),
  own('pull', 'client-options', 'Ferry always writes "client", which implies it'),
  keep('pull-filter', 'client-options', args(2, oneOf('type', 'accept', 'ignore', 'reject'), NAME_TEXT('text')), 'which pushed options to accept, ignore or reject (first match wins, in the profile\'s order)'),
  drop('push-peer-info', 'client-options', "sends the server details of this computer (its MAC address, the environment's UV_ variables); Ferry sends only its own version"),
  keep('remote', 'client-options', 'importer', 'where to connect; stored as the profile\'s gateways'),
  keep('remote-random', 'client-options', flag, 'tries the gateways in random order'),
  keep('remote-random-hostname', 'client-options', flag, 'prefixes the gateway name with random bytes (for DNS-based load balancing)'),
  own('resolv-retry', 'client-options', RETRIES),
  keep('single-session', 'client-options', flag, 'refuses a second session with the server, as the profile asks'),
  own('server-poll-timeout', 'client-options', RETRIES),
  keep('static-challenge', 'client-options', 'importer', 'the server asks a one-time code; Ferry prompts for it (or generates it)'),

  // link-options.rst
  own('bind', 'link-options', 'Ferry writes "nobind": the system picks the local port, so several sessions never collide', { notice: true }),
  keep('float', 'link-options', flag, "accepts the server's packets from a new address"),
  keep('fragment', 'link-options', withCheck(args(1, count('max'), oneOf('flag', 'mtu')), (v) => (Number(v[0]) < 68 ? 'max must be at least 68' : undefined)), 'fragments packets itself (the server must too)'),
  keep('keepalive', 'link-options', withCheck(args(2, int('interval', 1, INT_MAX), int('timeout', 1, INT_MAX)), (v) => (Number(v[1]) < 2 * Number(v[0]) ? 'timeout must be at least twice the interval' : undefined)), 'ping and restart timing'),
  keep('link-mtu', 'link-options', one(count('n')), 'deprecated but still honoured: the link MTU'),
  own('local', 'link-options', 'Ferry writes "nobind": the system picks the local address and port, so several sessions never collide', { notice: true }),
  own('lport', 'link-options', 'Ferry writes "nobind": the system picks the local port, so several sessions never collide', { notice: true }),
  refuse('mark', 'link-options', ROOT_SOCKET),
  keep('mode', 'link-options', one(oneOf('mode', 'p2p', 'server')), '"p2p" is what a client runs anyway; "server" is refused', { refuse: (v) => (v[0] === 'server' ? SERVER_ROLE : undefined) }),
  keep('mssfix', 'link-options', args(0, count('max'), oneOf('flag', 'mtu', 'fixed')), 'clamps TCP segment sizes in the tunnel'),
  keep('mtu-disc', 'link-options', one(oneOf('type', 'no', 'maybe', 'yes')), 'path MTU discovery on the connection'),
  keep('mtu-test', 'link-options', flag, 'measures the MTU at start-up'),
  own('nobind', 'link-options', 'Ferry always writes it'),
  keep('passtos', 'link-options', flag, "copies the packets' TOS field onto the connection"),
  keep('ping', 'link-options', one(SECONDS), 'keep-alive pings'),
  keep('ping-exit', 'link-options', one(SECONDS), 'ends the session when the server stops answering'),
  keep('ping-restart', 'link-options', one(SECONDS), 'restarts the connection when the server stops answering'),
  keep('ping-timer-rem', 'link-options', flag, 'runs the ping timer only once the server is known'),
  keep('proto', 'link-options', 'importer', "the gateways' protocol (udp or tcp); a server protocol is refused"),
  keep('port', 'link-options', 'importer', "the gateways' port"),
  keep('rport', 'link-options', 'importer', "the gateways' port"),
  keep('replay-window', 'link-options', args(1, int('n', 0, 65536), int('t', 0, 600)), 'the replay-protection window'),
  refuse('replay-persist', 'link-options', WRITES),
  keep('session-timeout', 'link-options', one(SECONDS), 'ends the session after a while, as the profile asks'),
  keep('socket-flags', 'link-options', upTo(oneOf('flag', 'TCP_NODELAY'), 1), 'socket options on the connection'),
  keep('tcp-nodelay', 'link-options', flag, 'turns Nagle off on the tunnel'),
  keep('max-packet-size', 'link-options', one(count('size')), 'caps control-channel packets (and data packets through mssfix)'),

  // renegotiation.rst
  keep('reneg-bytes', 'renegotiation', one(BYTES), 'renegotiates the key after this much traffic'),
  keep('reneg-pkts', 'renegotiation', one(count('n')), 'renegotiates the key after this many packets'),
  keep('reneg-sec', 'renegotiation', args(1, SECONDS, SECONDS), 'renegotiates the key after this many seconds (OpenVPN Access Server writes a week); openvpn bounds it only by its integer type'),

  // tls-options.rst
  own('askpass', 'tls-options', 'Ferry asks for the key passphrase itself (and keeps it in the keychain); "askpass FILE", which would read a file as root, is refused'),
  keep('ca', 'tls-options', 'importer', "the CA certificate; stored with the profile (a file outside the profile's folder is refused)"),
  refuse('capath', 'tls-options', 'reads CA certificates from a folder on this computer; Ferry keeps profiles self-contained', { fix: 'put the CA certificates into <ca> and import again' }),
  keep('cert', 'tls-options', 'importer', 'the client certificate; stored with the profile'),
  drop('crl-verify', 'tls-options', 'Ferry does not yet check the server certificate against a CRL (it would have to store and renew the list with the profile)'),
  drop('dh', 'tls-options', SERVER),
  keep('ecdh-curve', 'tls-options', one(word('name', /^[A-Za-z0-9_-]+$/, 64)), 'the ECDH curve'),
  refuse('extra-certs', 'tls-options', 'adds certificates Ferry does not keep', { fix: 'put intermediate certificates into <cert> after the client certificate and import again' }),
  keep('hand-window', 'tls-options', one(SECONDS), 'how long a TLS handshake may take'),
  keep('key', 'tls-options', 'importer', 'the client key; stored with the profile, its passphrase in the keychain'),
  keep('pkcs12', 'tls-options', 'importer', 'a PKCS#12 file with certificate and key; Ferry stores them as PEM'),
  keep('remote-cert-eku', 'tls-options', one(NAME_TEXT('oid')), "requires this extended key usage in the server's certificate, as written"),
  keep('remote-cert-ku', 'tls-options', upTo(word('key-usage', /^(0x)?[0-9A-Fa-f]{1,4}$/, 6), 15, 0), "requires these key usages in the server's certificate, as written"),
  keep('remote-cert-tls', 'tls-options', one(oneOf('type', 'server')), "requires a server certificate (key usage and TLS Web Server Authentication); a client profile checks the server, so only \"server\""),
  keep('tls-auth', 'tls-options', 'importer', 'the HMAC key for the control channel; stored with the profile'),
  keep('tls-groups', 'tls-options', one(OPENSSL_LIST), 'the key-exchange groups'),
  keep('tls-cert-profile', 'tls-options', one(oneOf('profile', 'legacy', 'preferred', 'suiteb')), 'which certificate algorithms are acceptable; "insecure" (OpenSSL security level 0) is refused', {
    refuse: (v) => (v[0] === 'insecure' ? 'lowers OpenSSL\'s security level to 0 (MD5 and SHA-1 signatures, short keys), below openvpn 2.6\'s default' : undefined),
  }),
  keep('tls-cipher', 'tls-options', one(OPENSSL_LIST), 'TLS 1.2 cipher list; one that sets @SECLEVEL=0 is refused', {
    refuse: (v) => (/@SECLEVEL=0/i.test(v[0]!) ? "lowers OpenSSL's security level to 0, below openvpn 2.6's default" : undefined),
  }),
  keep('tls-ciphersuites', 'tls-options', one(OPENSSL_LIST), 'narrows the TLS 1.3 cipher suites'),
  own('tls-client', 'tls-options', 'Ferry always writes "client", which implies it'),
  keep('tls-crypt', 'tls-options', 'importer', 'the control-channel encryption key; stored with the profile'),
  keep('tls-crypt-v2', 'tls-options', 'importer', 'the per-client control-channel key; stored with the profile'),
  refuse('tls-crypt-v2-verify', 'tls-options', SCRIPT),
  keep('tls-exit', 'tls-options', flag, 'exits on a TLS error instead of retrying, as the profile asks'),
  refuse('tls-server', 'tls-options', SERVER_ROLE),
  keep('tls-timeout', 'tls-options', one(SECONDS), 'control-channel retransmit timeout'),
  keep('tls-version-min', 'tls-options', args(1, TLS_VERSION, oneOf('flag', 'or-highest')), 'the lowest TLS version to accept, as written'),
  keep('tls-version-max', 'tls-options', one(TLS_VERSION), 'the highest TLS version to use'),
  keep('verify-hash', 'tls-options', withCheck(args(1, FINGERPRINT, oneOf('algorithm', 'SHA1', 'SHA256')), hashMatches), "deprecated but still honoured: pins the CA's fingerprint (an inline block is written as one SHA256 line per fingerprint)"),
  keep('peer-fingerprint', 'tls-options', one(SHA256_FINGERPRINT), "pins the server certificate's SHA-256 fingerprint (an inline block is written as one line per fingerprint)"),
  keep('verify-x509-name', 'tls-options', args(1, text('name', 200), oneOf('type', 'subject', 'name', 'name-prefix')), "checks the server certificate's name, as written"),
  drop('x509-track', 'tls-options', SCRIPT_ENV),
  drop('x509-username-field', 'tls-options', SERVER),

  // encryption-options.rst
  drop('show-ciphers', 'encryption-options', ONE_OFF),
  drop('show-digests', 'encryption-options', ONE_OFF),
  drop('show-tls', 'encryption-options', ONE_OFF),
  drop('show-engines', 'encryption-options', ONE_OFF),
  drop('show-groups', 'encryption-options', ONE_OFF),
  refuse('genkey', 'encryption-options', 'writes a key file and exits instead of connecting; Ferry keeps profiles self-contained'),

  // pkcs11-options.rst
  refuse('pkcs11-cert-private', 'pkcs11-options', TOKEN),
  refuse('pkcs11-id', 'pkcs11-options', TOKEN),
  refuse('pkcs11-id-management', 'pkcs11-options', TOKEN),
  refuse('pkcs11-pin-cache', 'pkcs11-options', TOKEN),
  refuse('pkcs11-private-mode', 'pkcs11-options', TOKEN),
  refuse('pkcs11-protected-authentication', 'pkcs11-options', TOKEN),
  refuse('pkcs11-providers', 'pkcs11-options', TOKEN),
  refuse('show-pkcs11-ids', 'pkcs11-options', TOKEN),

  // plugin-options.rst
  refuse('plugin', 'plugin-options', 'loads a plugin; Ferry never loads plugins from a profile'),

  // proxy-options.rst
  keep('http-proxy', 'proxy-options', args(2, HOST, PORT), 'connects through an HTTP proxy without a password; one with credentials (a file, or asking) is refused', {
    refuse: (v) => (v.length > 2 ? 'gives the proxy credentials (a file, or asking for them), which Ferry cannot supply yet' : undefined),
  }),
  refuse('http-proxy-user-pass', 'proxy-options', 'keeps proxy credentials in a file or in the profile; Ferry keeps passwords only in the keychain'),
  keep('http-proxy-option', 'proxy-options', withCheck(args(2, oneOf('type', 'VERSION', 'AGENT', 'CUSTOM-HEADER', 'EXT1', 'EXT2'), NAME_TEXT('value'), NAME_TEXT('content')), (v) => (v.length === 3 && (v[0] === 'VERSION' || v[0] === 'AGENT') ? `${v[0]} takes one value` : undefined)), 'HTTP proxy request details'),
  keep('socks-proxy', 'proxy-options', args(1, HOST, PORT), 'connects through a SOCKS5 proxy without a password; one with a credentials file is refused', {
    refuse: (v) => (v.length > 2 ? 'reads the proxy credentials from a file; Ferry keeps passwords only in the keychain' : undefined),
  }),

  // script-options.rst
  refuse('auth-user-pass-verify', 'script-options', SCRIPT),
  refuse('client-crresponse', 'script-options', SCRIPT),
  refuse('client-connect', 'script-options', SCRIPT),
  refuse('client-disconnect', 'script-options', SCRIPT),
  refuse('down', 'script-options', SCRIPT),
  drop('down-pre', 'script-options', 'only changes when the down script runs, and Ferry runs no profile scripts'),
  refuse('ipchange', 'script-options', SCRIPT),
  refuse('learn-address', 'script-options', SCRIPT),
  refuse('route-up', 'script-options', SCRIPT),
  refuse('route-pre-down', 'script-options', SCRIPT),
  keep('setenv', 'script-options', 'importer', '"setenv opt X" is judged as X; FORWARD_COMPATIBLE and REMOTE_RANDOM_HOSTNAME are honoured; other variables (UV_*, CLIENT_CERT…) only feed scripts or other clients and are left out with a notice'),
  drop('setenv-safe', 'script-options', SCRIPT_ENV),
  refuse('tls-verify', 'script-options', SCRIPT),
  refuse('tls-export-cert', 'script-options', WRITES),
  refuse('up', 'script-options', SCRIPT),
  keep('up-delay', 'script-options', flag, 'opens the tunnel device only once the connection is up'),
  own('up-restart', 'script-options', "ferry-helper writes it for its own DNS hook; without a script it changes nothing"),

  // server-options.rst
  drop('auth-gen-token', 'server-options', SERVER),
  drop('auth-gen-token-secret', 'server-options', SERVER),
  drop('auth-user-pass-optional', 'server-options', SERVER),
  drop('ccd-exclusive', 'server-options', SERVER),
  drop('client-config-dir', 'server-options', SERVER),
  drop('client-to-client', 'server-options', SERVER),
  drop('disable', 'server-options', SERVER),
  drop('connect-freq', 'server-options', SERVER),
  drop('connect-freq-initial', 'server-options', SERVER),
  drop('duplicate-cn', 'server-options', SERVER),
  drop('ifconfig-pool', 'server-options', SERVER),
  drop('ifconfig-ipv6-pool', 'server-options', SERVER),
  drop('ifconfig-pool-persist', 'server-options', SERVER),
  drop('ifconfig-push', 'server-options', SERVER),
  drop('ifconfig-ipv6-push', 'server-options', SERVER),
  drop('multihome', 'server-options', SERVER),
  drop('iroute', 'server-options', SERVER),
  drop('iroute-ipv6', 'server-options', SERVER),
  drop('max-clients', 'server-options', SERVER),
  drop('max-routes-per-client', 'server-options', SERVER),
  drop('opt-verify', 'server-options', SERVER),
  drop('port-share', 'server-options', SERVER),
  drop('push', 'server-options', SERVER),
  drop('push-remove', 'server-options', SERVER),
  drop('push-reset', 'server-options', SERVER),
  refuse('server', 'server-options', SERVER_ROLE),
  refuse('server-bridge', 'server-options', SERVER_ROLE),
  refuse('server-ipv6', 'server-options', SERVER_ROLE),
  drop('stale-routes-check', 'server-options', SERVER),
  drop('username-as-common-name', 'server-options', SERVER),
  drop('verify-client-cert', 'server-options', SERVER),
  drop('vlan-tagging', 'server-options', SERVER),
  drop('vlan-accept', 'server-options', SERVER),
  drop('vlan-pvid', 'server-options', SERVER),

  // management-options.rst
  own('management', 'management-options', MANAGEMENT, { notice: true }),
  own('management-client', 'management-options', MANAGEMENT, { notice: true }),
  drop('management-client-auth', 'management-options', SERVER),
  own('management-client-group', 'management-options', MANAGEMENT, { notice: true }),
  own('management-client-user', 'management-options', MANAGEMENT, { notice: true }),
  refuse('management-external-cert', 'management-options', 'takes the certificate from the program driving openvpn, and Ferry has no such certificate'),
  refuse('management-external-key', 'management-options', 'has the program driving openvpn sign with a key Ferry does not hold'),
  own('management-forget-disconnect', 'management-options', MANAGEMENT, { notice: true }),
  own('management-hold', 'management-options', MANAGEMENT),
  own('management-log-cache', 'management-options', MANAGEMENT),
  own('management-query-passwords', 'management-options', MANAGEMENT),
  own('management-query-proxy', 'management-options', MANAGEMENT, { notice: true }),
  own('management-query-remote', 'management-options', MANAGEMENT, { notice: true }),
  own('management-signal', 'management-options', MANAGEMENT, { notice: true }),
  own('management-up-down', 'management-options', MANAGEMENT, { notice: true }),

  // advanced-options.rst
  drop('show-gateway', 'advanced-options', ONE_OFF),
  drop('hash-size', 'advanced-options', SERVER),
  drop('bcast-buffers', 'advanced-options', SERVER),
  keep('persist-local-ip', 'advanced-options', flag, 'keeps the local address across restarts'),
  keep('persist-remote-ip', 'advanced-options', flag, "keeps the server's resolved address across restarts"),
  keep('rcvbuf', 'advanced-options', one(BYTES), 'socket receive buffer'),
  keep('shaper', 'advanced-options', one(int('n', 100, 100_000_000)), 'caps the outgoing rate (bytes per second)'),
  keep('sndbuf', 'advanced-options', one(BYTES), 'socket send buffer'),
  drop('tcp-queue-limit', 'advanced-options', SERVER),
  keep('txqueuelen', 'advanced-options', one(count('n')), "the tunnel device's queue length"),

  // vpn-network-options.rst
  refuse('bind-dev', 'vpn-network-options', ROOT_SOCKET),
  keep('block-ipv6', 'vpn-network-options', flag, 'drops IPv6 traffic that would otherwise leak outside the tunnel'),
  keep('dev', 'vpn-network-options', 'importer', 'tun or tap; Ferry names its own device ("dev tun0" is read as tun)'),
  refuse('dev-node', 'vpn-network-options', 'names a device node on this computer; Ferry creates its own tunnel device'),
  keep('dev-type', 'vpn-network-options', 'importer', 'tun or tap, for a device named otherwise'),
  keep('dhcp-option', 'vpn-network-options', args(1, word('type', /^[A-Za-z0-9_-]+$/, 32), word('value', /^[A-Za-z0-9._:-]+$/, 253)), 'DNS and other DHCP settings; ferry-helper applies the DNS ones as it applies pushed ones'),
  keep('ifconfig', 'vpn-network-options', args(2, ROUTE_ADDRESS, ROUTE_ADDRESS), "the tunnel's address, when the server does not push one"),
  keep('ifconfig-ipv6', 'vpn-network-options', args(2, IPV6_NET, IPV6), "the tunnel's IPv6 address, when the server does not push one"),
  keep('ifconfig-noexec', 'vpn-network-options', flag, 'leaves the tunnel without an address, as the profile asks (stock openvpn would too)'),
  keep('ifconfig-nowarn', 'vpn-network-options', flag, 'silences the ifconfig consistency warning'),
  keep('lladdr', 'vpn-network-options', one(word('address', /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/, 17)), "the tap device's MAC address"),
  own('persist-tun', 'vpn-network-options', 'Ferry always writes it, so traffic waits for the tunnel during a reconnect instead of leaking'),
  keep('redirect-gateway', 'vpn-network-options', upTo(oneOf('flag', 'def1', 'bypass-dhcp', 'bypass-dns', 'local', 'autolocal', 'block-local', 'ipv6', '!ipv4'), 8, 0), 'sends all traffic through the tunnel'),
  keep('redirect-private', 'vpn-network-options', upTo(oneOf('flag', 'def1', 'bypass-dhcp', 'bypass-dns', 'local', 'autolocal', 'block-local', 'ipv6', '!ipv4'), 8, 0), 'like redirect-gateway without changing the default route'),
  keep('route', 'vpn-network-options', args(1, ROUTE_ADDRESS, IPV4, ROUTE_ADDRESS, count('metric')), 'a route through the tunnel'),
  keep('route-delay', 'vpn-network-options', args(0, SECONDS, SECONDS), 'waits before adding routes'),
  keep('route-ipv6', 'vpn-network-options', args(1, IPV6_NET, IPV6, count('metric')), 'an IPv6 route through the tunnel'),
  keep('route-gateway', 'vpn-network-options', one(ROUTE_ADDRESS), 'the gateway for routes'),
  keep('route-ipv6-gateway', 'vpn-network-options', one(IPV6), 'the gateway for IPv6 routes'),
  keep('route-metric', 'vpn-network-options', one(count('metric')), 'the default metric of routes'),
  keep('route-noexec', 'vpn-network-options', flag, 'adds no routes, as the profile asks (stock openvpn would not either)'),
  keep('route-nopull', 'vpn-network-options', flag, 'ignores the routes the server pushes'),
  keep('topology', 'vpn-network-options', one(oneOf('mode', 'net30', 'p2p', 'subnet')), 'the address topology, when the server does not push one'),
  keep('tun-mtu', 'vpn-network-options', args(1, int('mtu', 100, 65536), count('occ-mtu')), "the tunnel's MTU (openvpn's TUN_MTU_MIN is 100)"),
  refuse('tun-max-mtu', 'vpn-network-options', 'is not an option openvpn 2.6 reads (its manual misspells "tun-mtu-max")', { fix: 'write "tun-mtu-max" instead and import again' }),
  keep('tun-mtu-extra', 'vpn-network-options', one(count('n')), 'extra room for tap devices'),
  drop('mktun', 'vpn-network-options', ONE_OFF),
  drop('rmtun', 'vpn-network-options', ONE_OFF),

  // windows-options.rst
  inert('allow-nonadmin', 'windows-options', WINDOWS),
  inert('block-outside-dns', 'windows-options', `${WINDOWS}; here ferry-helper applies the DNS servers the gateway pushes`, { notice: true }),
  refuse('cryptoapicert', 'windows-options', 'takes the client certificate from the Windows certificate store', { fix: 'export the certificate with its key (a .p12 file) and import that with the profile' }),
  inert('dhcp-release', 'windows-options', WINDOWS),
  inert('dhcp-renew', 'windows-options', WINDOWS),
  inert('ip-win32', 'windows-options', WINDOWS),
  inert('pause-exit', 'windows-options', WINDOWS),
  inert('register-dns', 'windows-options', WINDOWS),
  inert('route-method', 'windows-options', WINDOWS),
  inert('service', 'windows-options', WINDOWS),
  inert('show-adapters', 'windows-options', WINDOWS),
  inert('show-net', 'windows-options', WINDOWS),
  inert('show-net-up', 'windows-options', WINDOWS),
  inert('show-valid-subnets', 'windows-options', WINDOWS),
  inert('tap-sleep', 'windows-options', WINDOWS),
  inert('win-sys', 'windows-options', WINDOWS),
  inert('windows-driver', 'windows-options', WINDOWS),

  // unsupported-options.rst: removed options, refused naming what replaced them. Two of
  // them, ns-cert-type and prng, are listed there but still read by openvpn 2.6.14: the
  // rows above and below follow what the binary does.
  removed('client-cert-not-required', 'unsupported-options', '2.5', 'it was a server option ("verify-client-cert none" replaced it)'),
  removed('ifconfig-pool-linear', 'unsupported-options', '2.5', 'it was a server option ("topology p2p" replaced it)'),
  removed('key-method', 'unsupported-options', '2.5', 'only method 2 remains, and it is always used'),
  removed('management-client-pf', 'unsupported-options', '2.6', 'packet filtering is gone'),
  removed('ncp-disable', 'unsupported-options', '2.6', 'cipher negotiation is always on: list the ciphers the server accepts in "data-ciphers"', 'replace the line with "data-ciphers CIPHER" (the server\'s cipher) and import again'),
  removed('no-iv', 'unsupported-options', '2.5', 'it weakened encryption and had done nothing since 2.4'),
  refuse('no-replay', 'unsupported-options', 'turns replay protection off (openvpn 2.6 still reads it, but its manual lists it as removed)'),
  keep('ns-cert-type', 'unsupported-options', one(oneOf('type', 'server')), 'the manual lists it as removed, but openvpn 2.6.14 still honours it (nsCertType, else the TLS Web Server usage); kept as written, never turned into remote-cert-tls, which needs key usages old certificates lack'),
  drop('prng', 'unsupported-options', IGNORED),

  // Only in openvpn 2.6.14's option parser (src/openvpn/options.c), not in its manual.
  removed('compat-names', 'options.c', '2.5', 'certificate names are always in the standard form now'),
  keep('connection', 'options.c', 'importer', "a <connection> block: its remote, proto and port become the profile's gateways"),
  inert('dhcp-internal', 'options.c', `${WINDOWS} (used internally by the Windows service)`),
  inert('dhcp-pre-release', 'options.c', WINDOWS),
  drop('gremlin', 'options.c', 'is a test feature that damages the connection on purpose (debug builds only)'),
  drop('http-proxy-override', 'options.c', 'is set by graphical clients on the command line, not in a profile'),
  drop('http-proxy-retry', 'options.c', IGNORED),
  drop('http-proxy-timeout', 'options.c', IGNORED),
  drop('ifconfig-push-constraint', 'options.c', SERVER),
  inert('ip-remote-hint', 'options.c', `${WINDOWS} (used internally by the Windows service)`),
  drop('key-derivation', 'options.c', PUSHED),
  drop('max-routes', 'options.c', IGNORED),
  refuse('memstats', 'options.c', WRITES),
  inert('msg-channel', 'options.c', `${WINDOWS} (used internally by the Windows service)`),
  refuse('mtu-dynamic', 'options.c', 'was removed (openvpn 2.6 refuses it); "fragment" replaced it', { fix: 'replace the line with "fragment SIZE" and import again' }),
  keep('ncp-ciphers', 'options.c', one(CIPHER_LIST), 'the old name of data-ciphers, which openvpn 2.6 still reads', { refuse: noNone('turns encryption off') }),
  removed('no-name-remapping', 'options.c', '2.5', 'certificate names are always in the standard form now'),
  drop('parameter', 'options.c', 'is an echo for the graphical client driving openvpn; Ferry has none to act on'),
  drop('peer-id', 'options.c', PUSHED),
  keep('preresolve', 'options.c', args(0, HOST), 'resolves the gateways before connecting'),
  drop('protocol-flags', 'options.c', PUSHED),
  drop('push-continuation', 'options.c', PUSHED),
  inert('rdns-internal', 'options.c', `${WINDOWS} (used internally by the Windows service)`),
  drop('show-curves', 'options.c', ONE_OFF),
  drop('socks-proxy-retry', 'options.c', IGNORED),
  drop('tun-ipv6', 'options.c', IGNORED),
  keep('tun-mtu-max', 'options.c', args(1, int('maxmtu', 68, 65536)), 'the largest MTU the server may push'),
  keep('udp-mtu', 'options.c', one(count('n')), 'the old name of link-mtu, which openvpn 2.6 still reads'),
  drop('version', 'options.c', ONE_OFF),

  // Removed before 2.6 and named only in Changes.rst; old profiles still carry them.
  removed('inetd', 'Changes.rst', '2.6', 'run openvpn as a normal client'),
  removed('keysize', 'Changes.rst', '2.6', 'the cipher name fixes its key size (list ciphers in "data-ciphers")'),
  removed('tls-remote', 'Changes.rst', '2.4', '"verify-x509-name" replaced it', 'replace the line with "verify-x509-name NAME name" and import again'),
];

export const OPTION_ROWS: readonly OptionRow[] = ROWS;

/** The rows by option name (a Map, so "__proto__" or "constructor" are simply unknown). */
export const OPTION_POLICY: ReadonlyMap<string, OptionRow> = new Map(ROWS.map((r) => [r.name, r]));

/** Kept options written as given, each with its arguments' bounds: what a profile's `directives` may hold. */
export function passThrough(name: string): OptionRow | undefined {
  const row = OPTION_POLICY.get(name);
  return row?.disposition === 'kept' && row.args ? row : undefined;
}
