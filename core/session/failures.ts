/**
 * Failure reasons a person can act on (the seed's FAQ 4.2): each names what went wrong —
 * the option or certificate field at fault — and what to do. `classifyLogLine` reads
 * openvpn 2.6's own error lines (their wording is openvpn's source: options.c, init.c,
 * ssl_ncp.c, ssl_verify*.c, ssl_pkt.c, push.c, ssl_openssl.c); `attemptFailure` judges an
 * attempt no line explained by what came back from the gateway, so that "no answer" is
 * said only when nothing did.
 */
export const FAILURE_CODES = [
  'unreachable',
  'tls',
  'cert-expired',
  'cert-revoked',
  'auth',
  'connection-limit',
  'pool-overlap',
  'openvpn-missing',
  'helper-missing',
  'service-missing',
  'engine-died',
  'reconnect-timeout',
  'config',
  'credentials-unavailable',
] as const;
/** What kind of failure: the heading a person reads first (and the CLI's JSON `code`). */
export type FailureCode = (typeof FAILURE_CODES)[number];

/**
 * What exactly went wrong and what to do: one explanation each, worded by whoever shows it
 * (core/session/failure-text.ts for the CLI and the main process, the renderer's locales
 * for the window), filled in with the failure's params.
 */
export const FAILURE_DETAILS = [
  // the gateway's certificate
  'server-name-mismatch',
  'server-cert-expired',
  'server-cert-not-yet-valid',
  'server-cert-wrong-ca',
  'server-cert-no-key-usage',
  'server-cert-no-eku',
  'server-cert-key-usage',
  'server-cert-not-tls-server',
  'server-cert-not-server-ku',
  'server-cert-ns-type',
  // what the gateway thinks of ours
  'cert-revoked',
  'cert-expired-gateway',
  'cert-unknown-ca',
  'certificate-not-accepted',
  'no-tls-version',
  'no-tls-cipher',
  // the login
  'temp-refusal',
  'temp-refusal-why',
  'no-data-cipher',
  'connection-limit',
  'session-ended',
  'auth-rejected',
  'auth-rejected-said',
  // options the gateway pushes
  'pushed-compression',
  'cipher-not-allowed',
  'no-cipher-fallback',
  'pushed-option-refused',
  'dco-incompatible',
  'crypto-options',
  'push-options',
  'no-push-reply',
  'tls-crypt-mismatch',
  'tls-auth-mismatch',
  // this profile's files
  'ca-unreadable',
  'cert-unreadable',
  'key-mismatch',
  'cert-expired-local',
  'cert-unreadable-local',
  // the network
  'cannot-resolve',
  'unreachable',
  'unreachable-at',
  'no-answer',
  'no-answer-with-key',
  'closed-before-answer',
  'closed-before-answer-with-key',
  'tls-incomplete',
  'not-set-up-in-time',
  // openvpn itself
  'no-tun-device',
  'openvpn-stopped',
  'openvpn-missing',
  'engine-exited',
  'engine-killed',
  'engine-restart-failed',
  'cannot-start',
  'other-password',
  // ferry-helper
  'helper-not-running',
  'helper-permission',
  'helper-error',
  'helper-no-answer',
  'helper-unexpected',
  'helper-refused',
  // OpenVPN's interactive service (Windows)
  'openvpn-not-installed',
  'service-not-running',
  'service-permission',
  'service-not-authorized',
  'service-refused',
  'service-no-answer',
  'service-timeout',
  'service-unexpected',
  // this device
  'pool-overlap',
  // the person
  'password-missing',
  'challenge-unanswered',
  'key-passphrase-wrong',
  'key-passphrase-missing',
] as const;
export type FailureDetail = (typeof FAILURE_DETAILS)[number];

/** How the OS named a network error, as a word the reader's language has (failure-text.ts). */
export const NETWORK_ERRORS = ['refused', 'no-route', 'network-unreachable', 'timed-out', 'host-unreachable'] as const;
export type NetworkError = (typeof NETWORK_ERRORS)[number];

/**
 * A failure as data: no sentence is made in the core. `params` fill the explanation's
 * blanks (names, addresses, openvpn's own line under `openvpn`); `repeated` and `gaveUp`
 * say how the session came to stop on it.
 */
export interface Failure {
  code: FailureCode;
  detail: FailureDetail;
  params: Record<string, string | number>;
  /** The same failure on this many attempts in a row (repeat-guard.ts). */
  repeated?: number;
  /** The reconnect timeout ran out: how long it was, and whether the tunnel had been up. */
  gaveUp?: { seconds: number; wasConnected: boolean };
}

/** A failure from its parts; `params` default to none. */
export const failure = (code: FailureCode, detail: FailureDetail, params: Failure['params'] = {}): Failure => ({ code, detail, params });

/** Two failures are the same when everything a person would read is (repeat-guard.ts). */
export function sameFailure(a: Failure, b: Failure): boolean {
  return failureKey(a) === failureKey(b);
}

export function failureKey(f: Failure): string {
  return JSON.stringify([f.code, f.detail, Object.entries(f.params).sort(([x], [y]) => (x < y ? -1 : 1))]);
}

/**
 * What retrying can do about a failure:
 * - `fatal`: nothing, and one sighting is proof (a certificate the CA did not sign): give up now.
 * - `persistent`: nothing either, but one attempt is no verdict (another remote may work, a
 *   gateway being reconfigured, a forged packet): give up once it repeats (repeat-guard.ts).
 * - `transient`: waiting can fix it (the network, a gateway restarting): retry until the
 *   reconnect timeout.
 */
export type Verdict = 'fatal' | 'persistent' | 'transient';

export interface ClassifiedLine {
  failure: Failure;
  verdict: Verdict;
}

/** The gateway closed the connection mid-handshake, again and again (see attemptFailure). */
export const CERTIFICATE_NOT_ACCEPTED: Failure = failure('tls', 'certificate-not-accepted');

/** openvpn's stdout lines start with a timestamp; management log lines do not. */
export function withoutTimestamp(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, '');
}

/** openvpn's own line, as a param: what to search for, or quote to an administrator. */
const said = (line: string) => ({ openvpn: withoutTimestamp(line).trim() });

type Rule = { re: RegExp; classify: (m: RegExpExecArray) => ClassifiedLine };

const rule = (re: RegExp, verdict: Verdict, make: (m: RegExpExecArray) => Failure): Rule => ({ re, classify: (m) => ({ verdict, failure: make(m) }) });

const NETWORK_ERROR_WORDS: Record<string, NetworkError> = {
  'connection refused': 'refused',
  'no route to host': 'no-route',
  'network is unreachable': 'network-unreachable',
  'connection timed out': 'timed-out',
  'host is unreachable': 'host-unreachable',
};

/** First match wins: the specific lines come before the generic ones that follow them in openvpn's log. */
const RULES: Rule[] = [
  // ---- the gateway's certificate (ssl_verify.c, ssl_verify_openssl.c) -------------------
  rule(/VERIFY X509NAME ERROR: (.*), must be (.*)/, 'fatal', (m) => failure('tls', 'server-name-mismatch', { actual: m[1]!, expected: m[2]! })),
  rule(/VERIFY ERROR: .*error=certificate has expired/, 'fatal', () => failure('tls', 'server-cert-expired')),
  rule(/VERIFY ERROR: .*error=certificate is not yet valid/, 'fatal', () => failure('tls', 'server-cert-not-yet-valid')),
  rule(
    /VERIFY ERROR: .*error=(self[- ]signed certificate in certificate chain|unable to get local issuer certificate|unable to get issuer certificate|certificate signature failure|self[- ]signed certificate)/,
    'fatal',
    () => failure('tls', 'server-cert-wrong-ca'),
  ),
  rule(/Certificate does not have key usage extension/, 'fatal', (m) => failure('tls', 'server-cert-no-key-usage', said(m.input))),
  rule(/Certificate does not have extended key usage extension/, 'fatal', (m) => failure('tls', 'server-cert-no-eku', said(m.input))),
  rule(/ERROR: Certificate has key usage ([0-9a-f]+), expected one of:/, 'fatal', (m) => failure('tls', 'server-cert-key-usage', { usage: m[1]! })),
  rule(/VERIFY EKU ERROR/, 'fatal', () => failure('tls', 'server-cert-not-tls-server')),
  rule(/VERIFY KU ERROR/, 'fatal', () => failure('tls', 'server-cert-not-server-ku')),
  rule(/VERIFY nsCertType ERROR: .*, require nsCertType=(\w+)/, 'fatal', (m) => failure('tls', 'server-cert-ns-type', { type: m[1]!.toLowerCase() })),
  // ---- what the gateway thinks of ours (TLS alerts) -----------------------------------
  rule(/alert certificate revoked|SSL alert number 44\b/, 'fatal', () => failure('cert-revoked', 'cert-revoked')),
  rule(/alert certificate expired|SSL alert number 45\b/, 'fatal', () => failure('cert-expired', 'cert-expired-gateway')),
  rule(/alert (?:unknown ca|bad certificate|certificate unknown)|SSL alert number (?:42|46|48)\b/, 'fatal', () => failure('tls', 'cert-unknown-ca')),
  rule(/TLS error: Unsupported protocol|alert protocol version|SSL alert number 70\b/, 'persistent', (m) => failure('tls', 'no-tls-version', said(m.input))),
  rule(/alert handshake failure|SSL alert number 40\b/, 'persistent', (m) => failure('tls', 'no-tls-cipher', said(m.input))),
  // ---- the gateway's verdict on the login (push.c receive_auth_failed) -----------------
  { re: /AUTH: Received control message: AUTH_FAILED,?(.*)$/, classify: (m) => classifyAuthFailure(m[1] ?? '') },
  // ---- options the gateway pushes and this profile refuses (init.c, ssl_ncp.c, options.c)
  rule(/OPTIONS ERROR: server pushed compression settings that are not allowed/, 'persistent', (m) => failure('config', 'pushed-compression', said(m.input))),
  rule(/OPTIONS ERROR: failed to negotiate cipher with server\.\s+Add the server's cipher \('([^']+)'\) to --data-ciphers \(currently '([^']*)'\)/, 'persistent', (m) =>
    failure('config', 'cipher-not-allowed', { cipher: m[1]!, allowed: m[2]! }),
  ),
  rule(/failed to negotiate cipher with (?:server\. Configure|peer and) --data-ciphers-fallback/, 'persistent', (m) => failure('config', 'no-cipher-fallback', said(m.input))),
  rule(/Pushed option rejected by filter: '([^']*)'/, 'persistent', (m) => failure('config', 'pushed-option-refused', { option: m[1]! })),
  rule(/OPTIONS ERROR: pushed options are incompatible with data channel offload/, 'persistent', (m) => failure('config', 'dco-incompatible', said(m.input))),
  rule(/OPTIONS ERROR: failed to import crypto options/, 'persistent', () => failure('config', 'crypto-options')),
  rule(/ERROR: Failed to apply push options/, 'persistent', () => failure('config', 'push-options')),
  rule(/No reply from server to push requests/, 'persistent', () => failure('config', 'no-push-reply')),
  // ---- tls-crypt / tls-auth on packets that came back (ssl_pkt.c, tls_crypt.c) -----------
  // Per packet and unauthenticated (anyone can send one): never fatal on its own.
  rule(/tls-crypt unwrap(?:ping failed| error)/, 'persistent', (m) => failure('tls', 'tls-crypt-mismatch', said(m.input))),
  rule(/TLS Error: (?:cannot locate HMAC in incoming packet|incoming packet authentication failed) from/, 'persistent', (m) => failure('tls', 'tls-auth-mismatch', said(m.input))),
  // ---- this profile's own files, at start (ssl_openssl.c; M_FATAL) ------------------------
  // (Not "Cannot load private key file": openvpn also says it for a wrong passphrase, which
  // is asked again over the management socket.)
  rule(/Cannot load CA certificate file/, 'fatal', (m) => failure('config', 'ca-unreadable', said(m.input))),
  rule(/Cannot load (?:inline )?certificate file/, 'fatal', (m) => failure('config', 'cert-unreadable', said(m.input))),
  rule(/Private key does not match the certificate/, 'fatal', () => failure('config', 'key-mismatch')),
  // ---- the network --------------------------------------------------------------------
  rule(/RESOLVE: Cannot resolve host address: ([^ ]+)/, 'transient', (m) => failure('unreachable', 'cannot-resolve', { host: m[1]! })),
  rule(
    /(?:TCP: connect to \[AF_INET\]([^ ]+) failed: |write UDPv4.*: |link_socket.*: )?(Connection refused|No route to host|Network is unreachable|Connection timed out|Host is unreachable)/,
    'transient',
    (m) => {
      const error = NETWORK_ERROR_WORDS[m[2]!.toLowerCase()]!;
      return m[1] ? failure('unreachable', 'unreachable-at', { address: m[1], error }) : failure('unreachable', 'unreachable', { error });
    },
  ),
];

/**
 * What the gateway's `AUTH_FAILED[,reason]` means (push.c receive_auth_failed); the same
 * reason also comes as `>PASSWORD:Verification Failed: 'Auth' ['reason']`. Not every
 * refusal is about the password: a server with no data-channel cipher in common refuses
 * the same way.
 */
export function classifyAuthFailure(reason: string): ClassifiedLine {
  if (/^TEMP/.test(reason)) {
    // AUTH_FAILED,TEMP[backoff N]:message — openvpn retries by itself after the pause.
    const why = /^TEMP(?:\[[^\]]*\])?:?\s*(.*)$/.exec(reason)?.[1];
    return { verdict: 'transient', failure: why ? failure('unreachable', 'temp-refusal-why', { why }) : failure('unreachable', 'temp-refusal') };
  }
  if (/cipher negotiation failed|no shared cipher/i.test(reason)) {
    return { verdict: 'fatal', failure: failure('config', 'no-data-cipher', { said: reason }) };
  }
  if (/connection limit/i.test(reason)) {
    return { verdict: 'fatal', failure: failure('connection-limit', 'connection-limit', { said: reason }) };
  }
  if (/^SESSION:/.test(reason)) {
    return { verdict: 'fatal', failure: failure('auth', 'session-ended', { why: reason.slice('SESSION:'.length).trim() }) };
  }
  const detail = reason && !/^CRV1:/.test(reason);
  return { verdict: 'fatal', failure: detail ? failure('auth', 'auth-rejected-said', { said: reason }) : failure('auth', 'auth-rejected') };
}

export function classifyLogLine(message: string): ClassifiedLine | undefined {
  for (const r of RULES) {
    const m = r.re.exec(message);
    if (m) return r.classify(m);
  }
  return undefined;
}

/** What openvpn's own fatal messages mean for the person (e.g. options errors, missing tun). */
export function classifyFatal(message: string): Failure {
  if (/Cannot open TUN|Cannot ioctl TUNSETIFF|ERROR: Cannot open TUN\/TAP|Operation not permitted/i.test(message)) {
    return failure('config', 'no-tun-device', { said: message.trim() });
  }
  return classifyLogLine(message)?.failure ?? failure('config', 'openvpn-stopped', { said: message.trim() });
}

// ---- one attempt, judged by what came back -----------------------------------------------

/** What one attempt (an openvpn start or restart until the next) showed. */
export interface AttemptEvidence {
  /** The first line of the attempt that classifyLogLine explained. */
  problem?: ClassifiedLine;
  /** Something came back from the gateway: its first handshake packet (openvpn's AUTH state). */
  answered: boolean;
  /** TCP only: the connection to the gateway's port was established. */
  linkUp: boolean;
}

export const newAttempt = (): AttemptEvidence => ({ answered: false, linkUp: false });

/** Restarts Ferry asks for itself (network change, wake-up): the attempt was cut short, not failed. */
const OWN_RESTARTS = new Set(['SIGUSR1', 'SIGHUP']);

/**
 * The failure an attempt amounts to. `restart` is openvpn's reason for ending it (the
 * RECONNECTING state's description: tls-error, connection-reset, server_poll, …); without
 * one, the attempt is still running (the reconnect timeout cut it short) and always
 * amounts to something. `tlsKey`: the profile has a tls-crypt/tls-auth key.
 */
export function attemptFailure(attempt: AttemptEvidence, opts: { restart: string; tlsKey: boolean }): ClassifiedLine | undefined;
export function attemptFailure(attempt: AttemptEvidence, opts: { tlsKey: boolean }): ClassifiedLine;
export function attemptFailure(attempt: AttemptEvidence, { restart, tlsKey }: { restart?: string; tlsKey: boolean }): ClassifiedLine | undefined {
  if (attempt.problem) return attempt.problem;
  if (restart !== undefined && OWN_RESTARTS.has(restart)) return undefined;
  if (!attempt.answered) {
    // A TCP gateway that accepts the connection and closes it unanswered has dropped our
    // first packet: what an OpenVPN server does to one without its tls-crypt/tls-auth key.
    if (attempt.linkUp && restart === 'connection-reset') return { verdict: 'persistent', failure: failure('tls', tlsKey ? 'closed-before-answer-with-key' : 'closed-before-answer') };
    // Nothing came back. Over UDP this is all an unreachable gateway looks like — and all
    // a gateway that drops packets without its tls-crypt/tls-auth key looks like, too.
    return { verdict: 'transient', failure: failure('unreachable', tlsKey ? 'no-answer-with-key' : 'no-answer') };
  }
  if (restart === undefined) return { verdict: 'transient', failure: failure('tls', 'not-set-up-in-time') };
  if (restart === 'connection-reset') return { verdict: 'persistent', failure: CERTIFICATE_NOT_ACCEPTED };
  if (restart === 'tls-error') return { verdict: 'persistent', failure: failure('tls', 'tls-incomplete') };
  return undefined;
}
