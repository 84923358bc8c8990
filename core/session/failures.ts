/**
 * Failure reasons a person can act on (the seed's FAQ 4.2): each names what went wrong
 * and what to do. `classifyLogLine` reads openvpn's log for the signs; `fatal` says
 * whether retrying could ever help (a wrong CA never fixes itself; a lost route may).
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

export interface ClassifiedLine {
  failure: Failure;
  /** Retrying cannot help: give up now instead of waiting for the timeout. */
  fatal: boolean;
}

/** The TLS handshake never completed: over UDP that is all an unreachable gateway looks like. */
export const NO_HANDSHAKE: Failure = {
  code: 'unreachable',
  message: 'no answer from the gateway (the TLS handshake did not complete): check the gateway address, port and protocol, that the gateway is running, and that no firewall blocks it',
};

/** The gateway closed the connection mid-handshake, again and again (see Session.onHandshakeReset). */
export const CERTIFICATE_NOT_ACCEPTED: Failure = {
  code: 'tls',
  message: 'the gateway closed the connection during the TLS handshake: it does not accept your certificate (revoked, expired, or issued by another CA); ask your administrator for a valid one',
};

const RULES: Array<{ re: RegExp; fatal: boolean; failure: (m: RegExpExecArray) => Failure }> = [
  {
    re: /VERIFY X509NAME ERROR: (.*), must be (.*)/,
    fatal: true,
    failure: (m) => ({ code: 'tls', message: `the server's certificate is for "${m[1]}", not "${m[2]}" as the profile expects: you may be talking to the wrong server; check the gateway address or ask your administrator` }),
  },
  {
    re: /VERIFY ERROR: .*error=(certificate has expired)/,
    fatal: true,
    failure: () => ({ code: 'tls', message: "the server's certificate has expired; tell your administrator" }),
  },
  {
    re: /VERIFY ERROR: .*error=(self[- ]signed certificate in certificate chain|unable to get local issuer certificate|unable to get issuer certificate|certificate signature failure|self[- ]signed certificate)/,
    fatal: true,
    failure: () => ({
      code: 'tls',
      message: "the server's certificate is not signed by this profile's CA certificate (wrong CA file, or not your organisation's server); import the CA certificate your administrator sent",
    }),
  },
  {
    re: /VERIFY KU ERROR|VERIFY EKU ERROR|Certificate does not have key usage extension/,
    fatal: true,
    failure: () => ({ code: 'tls', message: "the server presented a certificate that is not a server certificate; check the gateway address or ask your administrator" }),
  },
  {
    re: /alert certificate revoked|SSL alert number 44\b/,
    fatal: true,
    failure: () => ({ code: 'cert-revoked', message: 'the gateway refused your certificate because it has been revoked; ask your administrator for a new account' }),
  },
  {
    re: /alert certificate expired|SSL alert number 45\b/,
    fatal: true,
    failure: () => ({ code: 'cert-expired', message: 'the gateway refused your certificate because it has expired; ask your administrator for a new one' }),
  },
  {
    re: /alert (?:unknown ca|bad certificate|certificate unknown)|SSL alert number (?:42|46|48)\b/,
    fatal: true,
    failure: () => ({ code: 'tls', message: "the gateway did not accept your certificate (it was not issued by the gateway's CA); import the files your administrator sent for this gateway" }),
  },
  {
    re: /AUTH: Received control message: AUTH_FAILED,?(.*)$/,
    fatal: true,
    failure: (m) => authFailure(m[1] ?? ''),
  },
  {
    re: /RESOLVE: Cannot resolve host address: ([^ ]+)/,
    fatal: false,
    failure: (m) => ({ code: 'unreachable', message: `cannot resolve the gateway's name ${m[1]}: check the gateway address and your network connection` }),
  },
  {
    re: /(?:TCP: connect to \[AF_INET\]([^ ]+) failed: |write UDPv4.*: |link_socket.*: )?(Connection refused|No route to host|Network is unreachable|Connection timed out|Host is unreachable)/,
    fatal: false,
    failure: (m) => ({ code: 'unreachable', message: `the gateway${m[1] ? ` ${m[1]}` : ''} cannot be reached (${m[2]!.toLowerCase()}): check the gateway address, that the gateway is running, and your network connection` }),
  },
  {
    re: /TLS Error: TLS key negotiation failed|TLS Error: TLS handshake failed/,
    fatal: false,
    failure: () => NO_HANDSHAKE,
  },
];

export function authFailure(reason: string): Failure {
  if (/connection limit/i.test(reason)) {
    return { code: 'connection-limit', message: `the gateway refused the connection: ${reason}; disconnect another device or ask your administrator to raise the limit` };
  }
  const detail = reason && !/^CRV1:/.test(reason) ? ` (${reason})` : '';
  return { code: 'auth', message: `the gateway rejected the username or password${detail}; check them and connect again` };
}

export function classifyLogLine(message: string): ClassifiedLine | undefined {
  for (const rule of RULES) {
    const m = rule.re.exec(message);
    if (m) return { failure: rule.failure(m), fatal: rule.fatal };
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
