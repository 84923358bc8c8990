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
  'engine-died',
  'reconnect-timeout',
  'config',
  'credentials-unavailable',
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export interface Failure {
  code: FailureCode;
  message: string;
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
export const CERTIFICATE_NOT_ACCEPTED: Failure = {
  code: 'tls',
  message: 'the gateway closed the connection during the TLS handshake: it does not accept your certificate (revoked, expired, or issued by another CA); ask your administrator for a valid one',
};

/** openvpn's own line, as the tail of a reason: what to search for, or quote to an administrator. */
function openvpnSaid(line: string): string {
  return ` — openvpn: "${withoutTimestamp(line).trim()}"`;
}

/** openvpn's stdout lines start with a timestamp; management log lines do not. */
export function withoutTimestamp(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, '');
}

const SERVER_CERT_ADVICE = 'ask your administrator to give the gateway a server certificate (key usage, and extended key usage "TLS Web Server Authentication", as easy-rsa build-server-full makes)';
/** The usual way out when a profile no longer fits its gateway. */
const newProfile = (what?: string) => `import this gateway's current profile${what ? ` (${what})` : ''} from your administrator`;

type Rule = { re: RegExp; classify: (m: RegExpExecArray) => ClassifiedLine };

const rule = (re: RegExp, verdict: Verdict, failure: (m: RegExpExecArray) => Failure): Rule => ({ re, classify: (m) => ({ verdict, failure: failure(m) }) });

/** First match wins: the specific lines come before the generic ones that follow them in openvpn's log. */
const RULES: Rule[] = [
  // ---- the gateway's certificate (ssl_verify.c, ssl_verify_openssl.c) -------------------
  rule(/VERIFY X509NAME ERROR: (.*), must be (.*)/, 'fatal', (m) => ({
    code: 'tls',
    message: `the server's certificate is for "${m[1]}", not "${m[2]}" as the profile expects: you may be talking to the wrong server; check the gateway address or ask your administrator`,
  })),
  rule(/VERIFY ERROR: .*error=certificate has expired/, 'fatal', () => ({ code: 'tls', message: "the server's certificate has expired; tell your administrator" })),
  rule(/VERIFY ERROR: .*error=certificate is not yet valid/, 'fatal', () => ({
    code: 'tls',
    message: "the server's certificate is not valid yet: check that this computer's date and time are right, or tell your administrator",
  })),
  rule(
    /VERIFY ERROR: .*error=(self[- ]signed certificate in certificate chain|unable to get local issuer certificate|unable to get issuer certificate|certificate signature failure|self[- ]signed certificate)/,
    'fatal',
    () => ({
      code: 'tls',
      message: "the server's certificate is not signed by this profile's CA certificate (wrong CA file, or not your organisation's server); import the CA certificate your administrator sent",
    }),
  ),
  rule(/Certificate does not have key usage extension/, 'fatal', (m) => ({
    code: 'tls',
    message: `the gateway's certificate has no key usage extension, which this profile's "remote-cert-tls server" check requires: ${SERVER_CERT_ADVICE}${openvpnSaid(m.input)}`,
  })),
  rule(/Certificate does not have extended key usage extension/, 'fatal', (m) => ({
    code: 'tls',
    message: `the gateway's certificate has no extended key usage extension, which this profile's "remote-cert-tls server" check requires: ${SERVER_CERT_ADVICE}${openvpnSaid(m.input)}`,
  })),
  rule(/ERROR: Certificate has key usage ([0-9a-f]+), expected one of:/, 'fatal', (m) => ({
    code: 'tls',
    message: `the gateway's certificate has key usage ${m[1]}, which this profile's "remote-cert-ku" check does not accept: ${SERVER_CERT_ADVICE}`,
  })),
  rule(/VERIFY EKU ERROR/, 'fatal', () => ({
    code: 'tls',
    message: `the gateway's certificate is not a TLS server certificate (its extended key usage lacks "TLS Web Server Authentication", which "remote-cert-tls server" requires): check the gateway address, or ${SERVER_CERT_ADVICE}`,
  })),
  rule(/VERIFY KU ERROR/, 'fatal', () => ({
    code: 'tls',
    message: `the gateway's certificate does not have the key usage of a server certificate, which "remote-cert-tls server" requires: ${SERVER_CERT_ADVICE}`,
  })),
  rule(/VERIFY nsCertType ERROR: .*, require nsCertType=(\w+)/, 'fatal', (m) => ({
    code: 'tls',
    message: `the gateway's certificate is not marked as a ${m[1]!.toLowerCase()} certificate (Netscape cert type), which this profile's "ns-cert-type server" check requires: ${SERVER_CERT_ADVICE}`,
  })),
  // ---- what the gateway thinks of ours (TLS alerts) -----------------------------------
  rule(/alert certificate revoked|SSL alert number 44\b/, 'fatal', () => ({
    code: 'cert-revoked',
    message: 'the gateway refused your certificate because it has been revoked; ask your administrator for a new account',
  })),
  rule(/alert certificate expired|SSL alert number 45\b/, 'fatal', () => ({
    code: 'cert-expired',
    message: 'the gateway refused your certificate because it has expired; ask your administrator for a new one',
  })),
  rule(/alert (?:unknown ca|bad certificate|certificate unknown)|SSL alert number (?:42|46|48)\b/, 'fatal', () => ({
    code: 'tls',
    message: "the gateway did not accept your certificate (it was not issued by the gateway's CA); import the files your administrator sent for this gateway",
  })),
  rule(/TLS error: Unsupported protocol|alert protocol version|SSL alert number 70\b/, 'persistent', (m) => ({
    code: 'tls',
    message: `the gateway and this profile have no TLS version in common: check the profile's "tls-version-min" against the gateway's, or ask your administrator${openvpnSaid(m.input)}`,
  })),
  rule(/alert handshake failure|SSL alert number 40\b/, 'persistent', (m) => ({
    code: 'tls',
    message: `the gateway refused the TLS handshake, usually because no TLS cipher suite is in common: check the profile's "tls-cipher" and "tls-version-min" against the gateway's, or ask your administrator${openvpnSaid(m.input)}`,
  })),
  // ---- the gateway's verdict on the login (push.c receive_auth_failed) -----------------
  { re: /AUTH: Received control message: AUTH_FAILED,?(.*)$/, classify: (m) => classifyAuthFailure(m[1] ?? '') },
  // ---- options the gateway pushes and this profile refuses (init.c, ssl_ncp.c, options.c)
  rule(/OPTIONS ERROR: server pushed compression settings that are not allowed/, 'persistent', (m) => ({
    code: 'config',
    message: `the gateway pushes compression (compress or comp-lzo), which this profile does not allow: ${newProfile('with its compress or comp-lzo line')}, or ask them to turn compression off${openvpnSaid(m.input)}`,
  })),
  rule(/OPTIONS ERROR: failed to negotiate cipher with server\.\s+Add the server's cipher \('([^']+)'\) to --data-ciphers \(currently '([^']*)'\)/, 'persistent', (m) => ({
    code: 'config',
    message: `the gateway uses the data-channel cipher ${m[1]}, which this profile does not allow (its data-ciphers: ${m[2]}): ${newProfile(`its data-ciphers must include ${m[1]}`)}, or ask them to offer one of ${m[2]}`,
  })),
  rule(/failed to negotiate cipher with (?:server\. Configure|peer and) --data-ciphers-fallback/, 'persistent', (m) => ({
    code: 'config',
    message: `the gateway does not negotiate a data-channel cipher (an OpenVPN older than 2.4?) and this profile names no "data-ciphers-fallback": ${newProfile()}, or ask them which cipher the gateway uses${openvpnSaid(m.input)}`,
  })),
  rule(/Pushed option rejected by filter: '([^']*)'/, 'persistent', (m) => ({
    code: 'config',
    message: `the gateway pushes "${m[1]}", which this profile's "pull-filter reject" refuses: ${newProfile()}, or ask them to stop pushing it`,
  })),
  rule(/OPTIONS ERROR: pushed options are incompatible with data channel offload/, 'persistent', (m) => ({
    code: 'config',
    message: `the gateway pushes options that openvpn's data channel offload (DCO) cannot use: tell your administrator${openvpnSaid(m.input)}`,
  })),
  rule(/OPTIONS ERROR: failed to import crypto options/, 'persistent', () => ({
    code: 'config',
    message: 'openvpn cannot set up the data-channel encryption the gateway asks for (see the log for the option): tell your administrator',
  })),
  rule(/ERROR: Failed to apply push options/, 'persistent', () => ({
    code: 'config',
    message: 'openvpn cannot apply the options the gateway pushes (see the log for the option at fault): tell your administrator',
  })),
  rule(/No reply from server to push requests/, 'persistent', () => ({
    code: 'config',
    message: 'the gateway completed the TLS handshake but never sent its settings (no reply to PUSH_REQUEST): it may not be set up for clients of this kind; ask your administrator',
  })),
  // ---- tls-crypt / tls-auth on packets that came back (ssl_pkt.c, tls_crypt.c) -----------
  // Per packet and unauthenticated (anyone can send one): never fatal on its own.
  rule(/tls-crypt unwrap(?:ping failed| error)/, 'persistent', (m) => ({
    code: 'tls',
    message: `packets from the gateway fail this profile's tls-crypt check: the gateway uses another tls-crypt key (or none); ${newProfile('with its tls-crypt key')}${openvpnSaid(m.input)}`,
  })),
  rule(/TLS Error: (?:cannot locate HMAC in incoming packet|incoming packet authentication failed) from/, 'persistent', (m) => ({
    code: 'tls',
    message: `packets from the gateway fail this profile's tls-auth check: the gateway uses another tls-auth key or key direction (or none); ${newProfile('with its tls-auth key')}${openvpnSaid(m.input)}`,
  })),
  // ---- this profile's own files, at start (ssl_openssl.c; M_FATAL) ------------------------
  // (Not "Cannot load private key file": openvpn also says it for a wrong passphrase, which
  // is asked again over the management socket.)
  rule(/Cannot load CA certificate file/, 'fatal', (m) => ({
    code: 'config',
    message: `openvpn cannot read this profile's CA certificate: import the CA certificate your administrator sent again${openvpnSaid(m.input)}`,
  })),
  rule(/Cannot load (?:inline )?certificate file/, 'fatal', (m) => ({
    code: 'config',
    message: `openvpn cannot read your client certificate: import the certificate your administrator sent again${openvpnSaid(m.input)}`,
  })),
  rule(/Private key does not match the certificate/, 'fatal', () => ({
    code: 'config',
    message: 'your private key does not belong to your client certificate: import the key that was issued with it',
  })),
  // ---- the network --------------------------------------------------------------------
  rule(/RESOLVE: Cannot resolve host address: ([^ ]+)/, 'transient', (m) => ({
    code: 'unreachable',
    message: `cannot resolve the gateway's name ${m[1]}: check the gateway address and your network connection`,
  })),
  rule(
    /(?:TCP: connect to \[AF_INET\]([^ ]+) failed: |write UDPv4.*: |link_socket.*: )?(Connection refused|No route to host|Network is unreachable|Connection timed out|Host is unreachable)/,
    'transient',
    (m) => ({
      code: 'unreachable',
      message: `the gateway${m[1] ? ` ${m[1]}` : ''} cannot be reached (${m[2]!.toLowerCase()}): check the gateway address, that the gateway is running, and your network connection`,
    }),
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
    return { verdict: 'transient', failure: { code: 'unreachable', message: `the gateway refused the connection for now${why ? ` (${why})` : ''} and asked to try again later` } };
  }
  if (/cipher negotiation failed|no shared cipher/i.test(reason)) {
    return {
      verdict: 'fatal',
      failure: { code: 'config', message: `the gateway and this profile have no data-channel cipher in common: ${newProfile("its data-ciphers must include the gateway's cipher")} — the gateway said: ${reason}` },
    };
  }
  if (/connection limit/i.test(reason)) {
    return { verdict: 'fatal', failure: { code: 'connection-limit', message: `the gateway refused the connection: ${reason}; disconnect another device or ask your administrator to raise the limit` } };
  }
  if (/^SESSION:/.test(reason)) {
    return { verdict: 'fatal', failure: { code: 'auth', message: `the gateway ended your login session (${reason.slice('SESSION:'.length).trim()}); connect again and log in` } };
  }
  const detail = reason && !/^CRV1:/.test(reason) ? ` (${reason})` : '';
  return { verdict: 'fatal', failure: { code: 'auth', message: `the gateway rejected the username or password${detail}; check them and connect again` } };
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
    return { code: 'config', message: `openvpn cannot create the tunnel device (${message.trim()}): Ferry needs root or its privileged helper to connect` };
  }
  return classifyLogLine(message)?.failure ?? { code: 'config', message: `openvpn stopped: ${message.trim()}` };
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
    if (attempt.linkUp && restart === 'connection-reset') return { verdict: 'persistent', failure: closedBeforeAnswer(tlsKey) };
    return { verdict: 'transient', failure: noAnswer(tlsKey) };
  }
  if (restart === undefined) {
    return { verdict: 'transient', failure: { code: 'tls', message: 'the gateway answered, but the connection was not set up in time (see the log for what openvpn was waiting for)' } };
  }
  if (restart === 'connection-reset') return { verdict: 'persistent', failure: CERTIFICATE_NOT_ACCEPTED };
  if (restart === 'tls-error') {
    return {
      verdict: 'persistent',
      failure: { code: 'tls', message: 'the gateway answered, but the TLS handshake with it did not complete (see the log for openvpn\'s reason): check that the profile is the one for this gateway, or ask your administrator' },
    };
  }
  return undefined;
}

/**
 * Nothing came back. Over UDP this is all an unreachable gateway looks like — and all a
 * gateway that drops packets without its tls-crypt/tls-auth key looks like, too.
 */
function noAnswer(tlsKey: boolean): Failure {
  const key = tlsKey
    ? "; a gateway also stays silent when this profile's tls-crypt or tls-auth key is not its own"
    : `; if the gateway uses a tls-crypt or tls-auth key, this profile does not have it: ${newProfile('with its key')}`;
  return {
    code: 'unreachable',
    message: `no answer from the gateway: check the gateway address, port and protocol, that the gateway is running, and that no firewall blocks it${key}`,
  };
}

function closedBeforeAnswer(tlsKey: boolean): Failure {
  const why = tlsKey
    ? `it does not accept this profile's tls-crypt or tls-auth key (a different key?): ${newProfile('with its key')}`
    : `it expects a tls-crypt or tls-auth key, which this profile does not have: ${newProfile('with its key')}`;
  return { code: 'tls', message: `the gateway accepted the TCP connection but closed it before answering: ${why}` };
}
