/**
 * `npm run demo` (Linux, root): the seed's flow end to end in a throw-away network lab.
 * An administrator creates the SSL server and an account with ferry-server, the user gets
 * the three files, a stock OpenVPN client connects with the password and reaches the VPC
 * host; the gateway's status shows the session. Everything is torn down afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLab, labPrerequisites } from '../test/lab/lab.js';
import { addAccounts, ferryServer, unpackBundle } from '../test/support/cli.js';
import { CONNECTED, handWrittenConfig, readyGateway, startOpenvpnClient } from '../test/support/processes.js';

function step(text: string) {
  process.stdout.write(`\n== ${text}\n`);
}

async function main(): Promise<number> {
  const missing = labPrerequisites();
  if (missing) {
    process.stderr.write(`demo: ${missing}\n`);
    return 1;
  }
  const work = await mkdtemp(path.join(tmpdir(), 'ferry-demo-'));
  const dir = path.join(work, 'server');
  const lab = await createLab();
  try {
    step('administrator: create the SSL server (seed 3.4.2)');
    const init = await ferryServer(['init', '--dir', dir, '--name', 'SSL-server1', '--host', lab.addr.gatewayUnderlay, '--subnet', lab.addr.vpcSubnet, '--pool', lab.addr.pool, '--max-clients', '10']);
    process.stdout.write(init.stdout);
    if (init.code !== 0) throw new Error(init.stderr);

    step('administrator: create the SSL client account sslclient1 (seed 3.4.3)');
    const password = (await addAccounts(dir, ['sslclient1'])).get('sslclient1')!;
    process.stdout.write(`sslclient1 password: ${'*'.repeat(password.length)} (shown once to the administrator)\n`);
    const files = await unpackBundle(dir, 'sslclient1');
    process.stdout.write(`bundle unpacked: ca.crt client.crt client.key sslclient1.ovpn\n`);

    step('gateway: ferry-server run (real openvpn, in the gateway namespace)');
    const gateway = await readyGateway(lab, dir);
    process.stdout.write(`${gateway.lines.find((l) => l.includes('ready'))}\n`);

    step('user: connect with the three files and the password (stock openvpn client)');
    const config = await handWrittenConfig(files, { host: lab.addr.gatewayUnderlay, port: 1194, proto: 'tcp', credentials: ['sslclient1', password] });
    const client = startOpenvpnClient(lab, config);
    await client.waitFor(CONNECTED);
    process.stdout.write('tunnel up\n');

    step(`user: ping the VPC host ${lab.addr.vpcHost} through the tunnel`);
    const ping = await lab.exec('client', ['ping', '-c', '3', '-W', '2', lab.addr.vpcHost]);
    process.stdout.write(ping.stdout);

    step('administrator: ferry-server status (seed 3.4.5)');
    process.stdout.write((await ferryServer(['status', '--dir', dir])).stdout);

    step('disconnect and stop');
    await client.stop();
    await gateway.stop();
    return ping.code === 0 ? 0 : 1;
  } finally {
    await lab.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`demo failed: ${err.message}\n`);
    process.exit(1);
  },
);
