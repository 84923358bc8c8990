/**
 * The gateway's admission bookkeeping against a scripted openvpn (test/support/
 * scripted-openvpn.cjs): a client that goes away while its CONNECT is being decided must not
 * be recorded afterwards — it would hold a connection slot it never uses and stay in memory
 * for the gateway's lifetime.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, labSkipReason, type Lab } from '../lab/lab.js';
import { addAccounts, FERRY_SERVER, initServer, ROOT, unpackBundle } from '../support/cli.js';
import { Watched } from '../support/processes.js';
import { until } from '../support/until.js';

const SCRIPTED = path.join(ROOT, 'test/support/scripted-openvpn.cjs');

describe.skipIf(labSkipReason())('gateway admission races (scripted openvpn)', () => {
  let lab: Lab;
  let gateway: Watched;
  let side: Socket;
  /** Every command the gateway sent openvpn ("CMD ..."), echoed by the scripted openvpn. */
  let commands = '';
  /** Each account's certificate serial, as openvpn reports it in tls_serial_hex_0. */
  const serials = new Map<string, string>();
  const answerTo = async (cid: number): Promise<string> => {
    const re = new RegExp(`CMD client-(auth-nt|deny) ${cid} .*`);
    await until(() => re.test(commands), `the gateway's answer to client ${cid}`, 10_000);
    return re.exec(commands)![0];
  };

  beforeAll(async () => {
    lab = await createLab();
    const dir = await initServer(['--no-two-factor', '--max-clients', '1']);
    await addAccounts(dir, ['alice', 'bob']);
    // openvpn passes the verified certificate's serial with every CONNECT; admission needs it.
    for (const account of ['alice', 'bob']) {
      serials.set(account, new X509Certificate(await readFile(path.join(await unpackBundle(dir, account), 'client.crt'))).serialNumber);
    }
    // The scripted openvpn serves its side socket next to the management socket.
    const ctl = path.join(dir, 'run', 'management.sock.ctl');
    gateway = new Watched(
      lab.spawn('gateway', [process.execPath, FERRY_SERVER, 'run', '--dir', dir], { env: { ...process.env, FERRY_OPENVPN: SCRIPTED } }),
      'gateway',
    );
    await gateway.waitFor(/gateway .* ready/);
    side = createConnection(ctl);
    await new Promise((resolve, reject) => {
      side.once('connect', resolve);
      side.once('error', reject);
    });
    side.setEncoding('utf8');
    side.on('data', (chunk: string) => (commands += chunk));
  });

  afterAll(async () => {
    side?.destroy();
    await gateway?.stop();
    await lab?.teardown();
  });

  const connect = (cid: number, cn: string) => `>CLIENT:CONNECT,${cid},0\n>CLIENT:ENV,common_name=${cn}\n>CLIENT:ENV,tls_serial_hex_0=${serials.get(cn)}\n>CLIENT:ENV,IV_PROTO=990\n>CLIENT:ENV,END\n`;
  const disconnect = (cid: number, cn: string) => `>CLIENT:DISCONNECT,${cid}\n>CLIENT:ENV,common_name=${cn}\n>CLIENT:ENV,END\n`;

  it('a client gone while its CONNECT was decided holds no slot: the next one is admitted', async () => {
    // openvpn sends these back to back when a client drops during authentication.
    side.write(connect(3, 'alice') + disconnect(3, 'alice'));
    await gateway.waitFor(/alice left before its admission was decided/);
    side.write(connect(4, 'bob'));
    expect(await answerTo(4)).toMatch(/^CMD client-auth-nt 4 0$/);
    // And the limit still holds for a real second client.
    side.write(connect(5, 'alice'));
    expect(await answerTo(5)).toMatch(/^CMD client-deny 5 0 .*connection limit/);
  });
});
