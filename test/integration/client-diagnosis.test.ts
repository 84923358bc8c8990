/**
 * Gateways that answer, but not in a way this profile can use: each must end FAILED with a
 * reason naming the option or certificate field at fault, after a bounded number of
 * attempts — not loop until the reconnect timeout and then blame the network.
 *
 * Real openvpn both ends: stock servers with easy-rsa PKIs (test/support/stock-server.ts),
 * a hand-written inline .ovpn imported with `ferry import`, `ferry connect --json`; then a
 * stock `openvpn` client on the same .ovpn as the reference, asserting the line of its log
 * that Ferry parses. Attempts are counted in the server's log (one client source port per
 * attempt), never by elapsed time.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPEAT_LIMIT } from '../../core/session/repeat-guard.js';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { tempDir } from '../support/cli.js';
import { clientHome, ferry, keychainSkipReason, startConnect, STATE, type ClientHome } from '../support/ferry.js';
import { startOpenvpnClient } from '../support/processes.js';
import { makeEasyRsaPki, makeTlsCryptKey, startStockServer, type EasyRsaPki, type StockServer, type StockServerOptions } from '../support/stock-server.js';

const skip = labSkipReason() ?? (await keychainSkipReason());

/** Long enough that a looping session would show many attempts before it; the bound is REPEAT_LIMIT. */
const RECONNECT_TIMEOUT = 20;

describe.skipIf(skip)('ferry names the cause when a gateway answers but cannot be used', () => {
  let lab: Lab;
  let pki: EasyRsaPki;
  let dir: string;
  let server: StockServer | undefined;
  /** What each test started (servers, clients), stopped after it, last started first. */
  const started: Array<{ stop(): Promise<unknown> }> = [];

  beforeAll(async () => {
    lab = await createLab();
    dir = await tempDir('ferry-diagnosis-');
    pki = await makeEasyRsaPki(path.join(dir, 'pki'), { algo: 'ec', clients: ['alice'] });
  });

  afterEach(async () => {
    for (const running of started.splice(0).reverse()) await running.stop();
  });

  afterAll(async () => {
    await lab?.teardown();
  });

  async function startServer(opts: Omit<StockServerOptions, 'pki'> & { pki?: EasyRsaPki }): Promise<StockServer> {
    server = await startStockServer(lab, { pki, ...opts });
    started.push(server);
    return server;
  }

  /** A hand-written client .ovpn with the three files inline, as installer scripts write them. */
  async function writeOvpn(name: string, proto: 'udp' | 'tcp', extra: string[] = []): Promise<string> {
    const inline = async (tag: string, file: string) => `<${tag}>\n${(await readFile(file, 'utf8')).trim()}\n</${tag}>`;
    const lines = [
      'client',
      'dev tun',
      `proto ${proto}`,
      `remote ${lab.addr.gatewayUnderlay} 1194`,
      'nobind',
      'persist-key',
      'persist-tun',
      'remote-cert-tls server',
      'verb 3',
      ...extra,
      await inline('ca', pki.ca),
      await inline('cert', pki.clients.alice!.cert),
      await inline('key', pki.clients.alice!.key),
    ];
    const file = path.join(await tempDir('ferry-ovpn-'), `${name}.ovpn`);
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }

  async function importOvpn(file: string, name: string, args: string[] = []): Promise<ClientHome> {
    const client = await clientHome();
    const imported = await ferry(client, ['import', file, '--name', name, ...args]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const set = await ferry(client, ['set', name, '--reconnect-timeout', String(RECONNECT_TIMEOUT)]);
    expect(set.code).toBe(0);
    return client;
  }

  /** `ferry connect --json` to its end; returns the FAILED line and how many attempts the server saw. */
  async function connectUntilFailed(client: ClientHome, name: string, stdin?: string): Promise<{ code: string; reason: string; attempts: number }> {
    const seenBefore = server!.server.lines.length;
    const session = startConnect(lab, client, name, stdin === undefined ? {} : { stdin, args: ['--password-stdin'] });
    started.push(session);
    expect(await session.exited).toBe(1);
    const failed = JSON.parse(session.lines.find((l) => STATE('FAILED').test(l))!) as { code: string; reason: string };
    return { ...failed, attempts: attemptsIn(server!.server.lines.slice(seenBefore)) };
  }

  /** Each openvpn (re)start opens a new socket (nobind): one client source port per attempt. */
  function attemptsIn(serverLines: string[]): number {
    const client = lab.addr.client.replace(/\./g, '\\.');
    return new Set(serverLines.flatMap((l) => [...l.matchAll(new RegExp(`${client}:(\\d+)`, 'g'))].map((m) => m[1]))).size;
  }

  /** The reference: a stock openvpn client on the same .ovpn fails too; returns the line Ferry parses. */
  async function stockClientSays(ovpn: string, line: RegExp, extra: string[] = []): Promise<string> {
    const stock = startOpenvpnClient(lab, ovpn, extra);
    started.push(stock);
    try {
      return await stock.waitFor(line);
    } finally {
      await stock.stop();
    }
  }

  it.each([
    ['compress lz4-v2', 'udp'],
    ['comp-lzo yes', 'tcp'],
  ] as const)('a gateway that pushes "%s" (%s) the profile does not allow: FAILED naming compression, not "no answer"', async (compression, proto) => {
    await startServer({ proto, extraConfig: [compression, `push "${compression}"`] });
    // No compress, comp-lzo or allow-compression line: openvpn 2.6 then allows stub framing only.
    const ovpn = await writeOvpn('office', proto);
    const client = await importOvpn(ovpn, 'office');

    const failed = await connectUntilFailed(client, 'office');
    expect(failed.code).toBe('config');
    expect(failed.reason).toMatch(/^the gateway pushes compression \(compress or comp-lzo\), which this profile does not allow/);
    expect(failed.reason).toMatch(/OPTIONS ERROR: server pushed compression settings that are not allowed/);
    expect(failed.reason).not.toMatch(/no answer/);
    expect(failed.attempts).toBeGreaterThanOrEqual(1);
    expect(failed.attempts).toBeLessThanOrEqual(REPEAT_LIMIT);

    expect(await stockClientSays(ovpn, /OPTIONS ERROR: server pushed compression settings that are not allowed/)).toBeTruthy();
  });

  it('no data-channel cipher in common: FAILED naming the cipher, and the password is not asked again', async () => {
    await startServer({ proto: 'udp', auth: { kind: 'password', users: { alice: 'alice-pass-1' } }, extraConfig: ['data-ciphers AES-128-GCM'] });
    const ovpn = await writeOvpn('cipher', 'udp', ['data-ciphers AES-256-GCM', 'auth-user-pass']);
    const client = await importOvpn(ovpn, 'cipher', ['--username', 'alice']);

    const failed = await connectUntilFailed(client, 'cipher', 'alice-pass-1\n');
    expect(failed.code).toBe('config');
    expect(failed.reason).toMatch(/no data-channel cipher in common/);
    expect(failed.reason).toMatch(/Data channel cipher negotiation failed \(no shared cipher\)/);
    expect(failed.reason).not.toMatch(/username or password/);
    // The gateway's AUTH_FAILED is its verdict: one attempt.
    expect(failed.attempts).toBe(1);

    // The stock client reads its password from a file; --auth-retry none: it stops at the refusal.
    const creds = path.join(dir, 'cipher-credentials');
    await writeFile(creds, 'alice\nalice-pass-1\n', { mode: 0o600 });
    expect(await stockClientSays(ovpn, /AUTH_FAILED,Data channel cipher negotiation failed \(no shared cipher\)/, ['--auth-user-pass', creds])).toBeTruthy();
  });

  it('a tls-crypt gateway and a profile without the key (TCP): FAILED naming the missing key after a bounded number of attempts', async () => {
    const key = await makeTlsCryptKey(path.join(dir, 'tls-crypt-tcp.key'));
    await startServer({ proto: 'tcp', tlsCrypt: key });
    const ovpn = await writeOvpn('nokey', 'tcp');
    const client = await importOvpn(ovpn, 'nokey');

    const failed = await connectUntilFailed(client, 'nokey');
    expect(failed.code).toBe('tls');
    expect(failed.reason).toMatch(/closed it before answering: it expects a tls-crypt or tls-auth key, which this profile does not have/);
    expect(failed.attempts).toBeGreaterThanOrEqual(2);
    expect(failed.attempts).toBeLessThanOrEqual(REPEAT_LIMIT);
    // It never got as far as the TLS handshake: that is not the certificate's fault.
    expect(failed.reason).not.toMatch(/certificate/);

    // The stock client: connected, then reset before any packet of the gateway's came back.
    const stock = startOpenvpnClient(lab, ovpn);
    started.push(stock);
    await stock.waitFor(/Connection reset, restarting/);
    await stock.stop();
    expect(stock.lines.some((l) => /TCP connection established with/.test(l))).toBe(true);
    expect(stock.lines.some((l) => /TLS: Initial packet from/.test(l))).toBe(false);
  });

  it('a tls-crypt gateway over UDP drops the profile silently: the reason at the timeout names the missing key as the likely cause', async () => {
    const key = await makeTlsCryptKey(path.join(dir, 'tls-crypt-udp.key'));
    await startServer({ proto: 'udp', tlsCrypt: key });
    const ovpn = await writeOvpn('silent', 'udp');
    const client = await importOvpn(ovpn, 'silent');
    // Over UDP this looks exactly like a gateway that is down, which can heal: Ferry waits for
    // the reconnect timeout (the shortest allowed here) instead of stopping early.
    expect((await ferry(client, ['set', 'silent', '--reconnect-timeout', '5'])).code).toBe(0);

    const failed = await connectUntilFailed(client, 'silent');
    expect(failed.code).toBe('unreachable');
    expect(failed.reason).toMatch(/^could not connect within 5 s: no answer from the gateway/);
    expect(failed.reason).toMatch(/if the gateway uses a tls-crypt or tls-auth key, this profile does not have it/);
    expect(failed.attempts).toBeGreaterThanOrEqual(1);
    expect(failed.attempts).toBeLessThanOrEqual(REPEAT_LIMIT);

    expect(await stockClientSays(ovpn, /Server poll timeout, restarting/, ['--server-poll-timeout', '2'])).toBeTruthy();
    const tlsCryptErrors = server!.server.lines.filter((l) => /TLS Error: tls-crypt unwrapping failed from/.test(l));
    expect(tlsCryptErrors.length).toBeGreaterThan(0);
  });

  it('a gateway certificate without key usage, and remote-cert-tls server: FAILED naming the certificate field', async () => {
    const noKu = await serverCertWithoutKeyUsage(pki, path.join(dir, 'no-ku'));
    // TCP: the server logs every connection, though the client hangs up before sending anything it would log.
    await startServer({ proto: 'tcp', pki: { ...pki, serverCert: noKu.cert, serverKey: noKu.key } });
    const ovpn = await writeOvpn('ku', 'tcp');
    const client = await importOvpn(ovpn, 'ku');

    const failed = await connectUntilFailed(client, 'ku');
    expect(failed.code).toBe('tls');
    expect(failed.reason).toMatch(/^the gateway's certificate has no key usage extension, which this profile's "remote-cert-tls server" check requires/);
    // The certificate is signed by our CA, so the missing field is proof enough: one attempt.
    expect(failed.attempts).toBe(1);

    expect(await stockClientSays(ovpn, /Certificate does not have key usage extension/)).toBeTruthy();
  });
});

/**
 * A server certificate signed by the PKI's CA with no extensions at all (an X.509 v1
 * certificate, as `openssl x509 -req` makes without -extfile): no key usage, no extended
 * key usage — what old appliances and hand-rolled PKIs hand out.
 */
async function serverCertWithoutKeyUsage(pki: EasyRsaPki, prefix: string): Promise<{ cert: string; key: string }> {
  const run = promisify(execFile);
  const [key, csr, cert] = [`${prefix}.key`, `${prefix}.csr`, `${prefix}.crt`];
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=server']);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', pki.ca, '-CAkey', path.join(pki.dir, 'private', 'ca.key'), '-CAcreateserial', '-out', cert, '-days', '30']);
  return { cert, key };
}
