/**
 * Failure reasons from openvpn 2.6's own lines. Each line is openvpn's text as its source
 * prints it (options.c, init.c, ssl_ncp.c, ssl_verify*.c, ssl_pkt.c, tls_crypt.c, push.c,
 * ssl_openssl.c, crypto_openssl.c), some with the timestamp openvpn's stdout puts in front
 * (lines read before the management socket exists), most without (management >LOG).
 */
import { describe, expect, it } from 'vitest';
import { failureText } from '../../core/session/failure-text.js';
import { attemptFailure, classifyAuthFailure, classifyFatal, classifyLogLine, newAttempt, type ClassifiedLine, type Failure } from '../../core/session/failures.js';

/** The English wording, as `ferry` prints it with LANG=en_US.UTF-8. */
const en = (f: Failure) => failureText(f, 'en');

const T = '2026-12-01 04:56:20 ';

describe('classifyLogLine: openvpn line → reason naming the option or certificate field', () => {
  it.each<[string, string, ClassifiedLine['verdict'], RegExp]>([
    // the gateway's certificate
    ['VERIFY X509NAME ERROR: CN=evil, must be CN=gateway', 'tls', 'fatal', /certificate is for "CN=evil", not "CN=gateway"/],
    ['VERIFY ERROR: depth=0, error=certificate has expired: CN=server, serial=4242', 'tls', 'fatal', /server's certificate has expired/],
    ['VERIFY ERROR: depth=0, error=certificate is not yet valid: CN=server, serial=4242', 'tls', 'fatal', /not valid yet: check that this computer's date and time/],
    ['VERIFY ERROR: depth=1, error=unable to get local issuer certificate: CN=Other CA, serial=1', 'tls', 'fatal', /not signed by this profile's CA certificate/],
    [`${T}Certificate does not have key usage extension`, 'tls', 'fatal', /^the gateway's certificate has no key usage extension, which this profile's "remote-cert-tls server" check requires: ask your administrator .* — openvpn: "Certificate does not have key usage extension"$/],
    ['Certificate does not have extended key usage extension', 'tls', 'fatal', /^the gateway's certificate has no extended key usage extension, which this profile's "remote-cert-tls server" check requires/],
    ['ERROR: Certificate has key usage 0080, expected one of:', 'tls', 'fatal', /^the gateway's certificate has key usage 0080, which this profile's "remote-cert-ku" check does not accept/],
    ['VERIFY EKU ERROR', 'tls', 'fatal', /not a TLS server certificate \(its extended key usage lacks "TLS Web Server Authentication"/],
    ['VERIFY KU ERROR', 'tls', 'fatal', /does not have the key usage of a server certificate/],
    ['VERIFY nsCertType ERROR: CN=server, require nsCertType=SERVER', 'tls', 'fatal', /not marked as a server certificate \(Netscape cert type\), which this profile's "ns-cert-type server" check requires/],
    // what the gateway says about ours
    ['OpenSSL: error:0A000414:SSL routines::sslv3 alert certificate revoked:SSL alert number 44', 'cert-revoked', 'fatal', /has been revoked/],
    ['OpenSSL: error:0A000415:SSL routines::sslv3 alert certificate expired:SSL alert number 45', 'cert-expired', 'fatal', /has expired/],
    ['OpenSSL: error:0A000418:SSL routines::tlsv1 alert unknown ca:SSL alert number 48', 'tls', 'fatal', /not issued by the gateway's CA/],
    [
      'TLS error: Unsupported protocol. This typically indicates that client and server have no common TLS version enabled. This can be caused by mismatched tls-version-min and tls-version-max options on client and server.',
      'tls',
      'persistent',
      /no TLS version in common: check the profile's "tls-version-min"/,
    ],
    ['OpenSSL: error:0A00042E:SSL routines::tlsv1 alert protocol version:SSL alert number 70', 'tls', 'persistent', /no TLS version in common/],
    ['OpenSSL: error:0A000410:SSL routines::sslv3 alert handshake failure:SSL alert number 40', 'tls', 'persistent', /refused the TLS handshake, usually because no TLS cipher suite is in common: check the profile's "tls-cipher"/],
    // the gateway's verdict on the login
    ['AUTH: Received control message: AUTH_FAILED,connection limit reached (2 clients)', 'connection-limit', 'fatal', /connection limit reached \(2 clients\); disconnect another device/],
    ['AUTH: Received control message: AUTH_FAILED', 'auth', 'fatal', /^the gateway rejected the username or password; check them/],
    ['AUTH: Received control message: AUTH_FAILED,Data channel cipher negotiation failed (no shared cipher)', 'config', 'fatal', /^the gateway and this profile have no data-channel cipher in common: .* — the gateway said: Data channel cipher negotiation failed \(no shared cipher\)$/],
    ['AUTH: Received control message: AUTH_FAILED,TEMP[backoff 30,advance no]:authentication backend down', 'unreachable', 'transient', /^the gateway refused the connection for now \(authentication backend down\) and asked to try again later$/],
    ['AUTH: Received control message: AUTH_FAILED,SESSION:Your session has expired', 'auth', 'fatal', /^the gateway ended your login session \(Your session has expired\); connect again and log in$/],
    // options the gateway pushes and this profile refuses
    [
      'OPTIONS ERROR: server pushed compression settings that are not allowed and will result in a non-working connection. See also allow-compression in the manual.',
      'config',
      'persistent',
      /^the gateway pushes compression \(compress or comp-lzo\), which this profile does not allow: import this gateway's current profile \(with its compress or comp-lzo line\) from your administrator, or ask them to turn compression off — openvpn: "OPTIONS ERROR: server pushed compression settings/,
    ],
    [
      "OPTIONS ERROR: failed to negotiate cipher with server.  Add the server's cipher ('AES-128-CBC') to --data-ciphers (currently 'AES-256-GCM:AES-128-GCM') if you want to connect to this server.",
      'config',
      'persistent',
      /^the gateway uses the data-channel cipher AES-128-CBC, which this profile does not allow \(its data-ciphers: AES-256-GCM:AES-128-GCM\): .*must include AES-128-CBC/,
    ],
    ['OPTIONS ERROR: failed to negotiate cipher with server. Configure --data-ciphers-fallback if you want to connect to this server.', 'config', 'persistent', /names no "data-ciphers-fallback"/],
    ['ERROR: failed to negotiate cipher with peer and --data-ciphers-fallback not enabled. No usable data channel cipher', 'config', 'persistent', /names no "data-ciphers-fallback"/],
    ["Pushed option rejected by filter: 'redirect-gateway def1'. Restarting.", 'config', 'persistent', /^the gateway pushes "redirect-gateway def1", which this profile's "pull-filter reject" refuses/],
    ['OPTIONS ERROR: pushed options are incompatible with data channel offload. Use --disable-dco to connect to this server', 'config', 'persistent', /data channel offload \(DCO\) cannot use/],
    ['OPTIONS ERROR: failed to import crypto options', 'config', 'persistent', /cannot set up the data-channel encryption/],
    ['ERROR: Failed to apply push options', 'config', 'persistent', /cannot apply the options the gateway pushes/],
    ['No reply from server to push requests in 60s', 'config', 'persistent', /never sent its settings \(no reply to PUSH_REQUEST\)/],
    // tls-crypt / tls-auth
    ['tls-crypt unwrap error: packet authentication failed', 'tls', 'persistent', /fail this profile's tls-crypt check: the gateway uses another tls-crypt key/],
    ['TLS Error: tls-crypt unwrapping failed from [AF_INET]198.18.1.1:1194', 'tls', 'persistent', /tls-crypt check/],
    ['TLS Error: cannot locate HMAC in incoming packet from [AF_INET]198.18.1.1:1194', 'tls', 'persistent', /fail this profile's tls-auth check: the gateway uses another tls-auth key or key direction/],
    ['TLS Error: incoming packet authentication failed from [AF_INET]198.18.1.1:1194', 'tls', 'persistent', /tls-auth check/],
    // this profile's own files
    [`${T}Cannot load CA certificate file /run/ferry/office/ca.crt (no entries were read)`, 'config', 'fatal', /cannot read this profile's CA certificate: .* — openvpn: "Cannot load CA certificate file \/run\/ferry\/office\/ca\.crt \(no entries were read\)"$/],
    ['Cannot load certificate file /run/ferry/office/client.crt', 'config', 'fatal', /cannot read your client certificate/],
    ['Private key does not match the certificate', 'config', 'fatal', /private key does not belong to your client certificate/],
    // the network
    ['read UDPv4 [ECONNREFUSED]: Connection refused (fd=3,code=111)', 'unreachable', 'transient', /cannot be reached \(connection refused\)/],
    ['TCP: connect to [AF_INET]198.18.1.1:1194 failed: Connection refused', 'unreachable', 'transient', /the gateway 198\.18\.1\.1:1194 cannot be reached/],
    ['RESOLVE: Cannot resolve host address: vpn.example.invalid:1194 (Name or service not known)', 'unreachable', 'transient', /cannot resolve the gateway's name vpn\.example\.invalid:1194/],
  ])('%s', (line, code, verdict, message) => {
    const classified = classifyLogLine(line);
    expect(classified).toMatchObject({ failure: { code }, verdict });
    expect(en(classified!.failure)).toMatch(message);
    // One line a person can read: no line breaks, no timestamp carried over.
    expect(en(classified!.failure)).not.toMatch(/\n|\d{4}-\d\d-\d\d \d\d:/);
  });

  it('says nothing about ordinary lines, nor about failures only the attempt as a whole can explain', () => {
    for (const line of [
      'Initialization Sequence Completed',
      'Certificate has EKU (str) TLS Web Server Authentication, expects TLS Web Server Authentication',
      // A private key that does not load is asked for again (wrong passphrase), not a verdict.
      'Cannot load private key file /run/ferry/office/client.key',
      // Whether these mean "no answer" depends on whether anything came back: attemptFailure.
      'TLS Error: TLS key negotiation failed to occur within 60 seconds (check your network connectivity)',
      'TLS Error: TLS handshake failed',
      'Server poll timeout, restarting',
      'Connection reset, restarting [0]',
    ]) {
      expect(classifyLogLine(line), line).toBeUndefined();
    }
  });

  it('reads the first cause in an attempt before the generic lines that follow it', () => {
    const attempt = [
      'Compression is not allowed since allow-compression is set to \'stub-only\'',
      'OPTIONS ERROR: server pushed compression settings that are not allowed and will result in a non-working connection. See also allow-compression in the manual.',
      'ERROR: Failed to apply push options',
    ].map(classifyLogLine);
    expect(en(attempt.find(Boolean)!.failure)).toMatch(/^the gateway pushes compression/);
  });
});

describe('classifyFatal', () => {
  it('keeps openvpn\'s words when it knows nothing better, and reads known lines', () => {
    expect(classifyFatal('Cannot load certificate file /x/client.crt')).toMatchObject({ code: 'config', detail: 'cert-unreadable' });
    expect(en(classifyFatal('Cannot load certificate file /x/client.crt'))).toMatch(/^openvpn cannot read your client certificate/);
    expect(en(classifyFatal('ERROR: Cannot open TUN/TAP dev /dev/net/tun: No such file or directory (errno=2)'))).toMatch(/cannot create the tunnel device/);
    expect(classifyFatal('Options error: something new')).toEqual({ code: 'config', detail: 'openvpn-stopped', params: { said: 'Options error: something new' } });
    expect(en(classifyFatal('Options error: something new'))).toBe('openvpn stopped: Options error: something new');
  });
});

describe('classifyAuthFailure (AUTH_FAILED reasons, also seen as PASSWORD Verification Failed)', () => {
  it('tells the password apart from the rest', () => {
    expect(classifyAuthFailure('wrong password')).toEqual({ verdict: 'fatal', failure: { code: 'auth', detail: 'auth-rejected-said', params: { said: 'wrong password' } } });
    expect(en(classifyAuthFailure('wrong password').failure)).toBe('the gateway rejected the username or password (wrong password); check them and connect again');
    expect(en(classifyAuthFailure('CRV1:R,E:abc:YWxpY2U=:Enter PIN').failure)).toBe('the gateway rejected the username or password; check them and connect again');
    expect(classifyAuthFailure('TEMP').verdict).toBe('transient');
    expect(en(classifyAuthFailure('TEMP[backoff 10]').failure)).toBe('the gateway refused the connection for now and asked to try again later');
    expect(classifyAuthFailure('Data channel cipher negotiation failed (no shared cipher)').failure.code).toBe('config');
  });
});

describe('attemptFailure: an attempt no line explained, judged by what came back', () => {
  const silent = newAttempt();
  const answered = { ...newAttempt(), answered: true };
  const tcpUp = { ...newAttempt(), linkUp: true };

  it('"no answer" only when nothing came back — and then it may heal, so it is transient', () => {
    expect(attemptFailure(silent, { restart: 'server_poll', tlsKey: false })).toMatchObject({ verdict: 'transient', failure: { code: 'unreachable' } });
    expect(en(attemptFailure(silent, { restart: 'server_poll', tlsKey: false })!.failure)).toMatch(/^no answer from the gateway: .*; if the gateway uses a tls-crypt or tls-auth key, this profile does not have it/);
    expect(en(attemptFailure(silent, { restart: 'tls-error', tlsKey: true })!.failure)).toMatch(/^no answer from the gateway: .*this profile's tls-crypt or tls-auth key is not its own$/);
    expect(attemptFailure(answered, { restart: 'tls-error', tlsKey: false })).toMatchObject({ verdict: 'persistent', failure: { code: 'tls' } });
    expect(en(attemptFailure(answered, { restart: 'tls-error', tlsKey: false })!.failure)).toMatch(/^the gateway answered, but the TLS handshake with it did not complete/);
  });

  it('a TCP connection closed before any answer is the tls-crypt/tls-auth key; after an answer, our certificate', () => {
    expect(attemptFailure(tcpUp, { restart: 'connection-reset', tlsKey: false })).toMatchObject({ verdict: 'persistent', failure: { code: 'tls' } });
    expect(en(attemptFailure(tcpUp, { restart: 'connection-reset', tlsKey: false })!.failure)).toMatch(/closed it before answering: it expects a tls-crypt or tls-auth key, which this profile does not have/);
    expect(en(attemptFailure(tcpUp, { restart: 'connection-reset', tlsKey: true })!.failure)).toMatch(/does not accept this profile's tls-crypt or tls-auth key/);
    expect(en(attemptFailure(answered, { restart: 'connection-reset', tlsKey: false })!.failure)).toMatch(/does not accept your certificate/);
    // Refused before TCP was up: the gateway is not there (yet), which may heal.
    expect(attemptFailure(silent, { restart: 'connection-reset', tlsKey: false })!.verdict).toBe('transient');
  });

  it('the attempt\'s own line wins; restarts Ferry asked for and ordinary ones after an answer are no failure', () => {
    const problem = classifyLogLine('ERROR: Failed to apply push options')!;
    expect(attemptFailure({ ...answered, problem }, { restart: 'process-push-msg-failed', tlsKey: false })).toBe(problem);
    expect(attemptFailure(silent, { restart: 'SIGUSR1', tlsKey: false })).toBeUndefined();
    expect(attemptFailure(answered, { restart: 'ping-restart', tlsKey: false })).toBeUndefined();
  });

  it('an attempt cut short by the reconnect timeout always says something', () => {
    expect(en(attemptFailure(silent, { tlsKey: false }).failure)).toMatch(/^no answer from the gateway/);
    expect(attemptFailure(answered, { tlsKey: false }).failure.code).toBe('tls');
    expect(en(attemptFailure(answered, { tlsKey: false }).failure)).toMatch(/^the gateway answered, but the connection was not set up in time/);
  });
});
