/**
 * `npm run demo` (Linux, root): the seed's flow end to end in a throw-away network lab.
 * An administrator creates the SSL server and an account with ferry-server; the user
 * imports the bundle with `ferry import`, connects with `ferry connect` and the password,
 * reaches the VPC host and sees the status; then disconnects. Everything is torn down
 * afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLab, labPrerequisites } from '../test/lab/lab.js';
import { addAccounts, ferryServer } from '../test/support/cli.js';
import { clientHome, ferry, startConnect, STATE } from '../test/support/ferry.js';
import { readyGateway } from '../test/support/processes.js';

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
    const bundle = path.join(work, 'sslclient1.zip');
    await ferryServer(['client', 'bundle', 'sslclient1', '--dir', dir, '--out', bundle]);
    process.stdout.write(`bundle for the user: ${bundle} (ca.crt client.crt client.key sslclient1.ovpn)\n`);

    step('gateway: ferry-server run (real openvpn, in the gateway namespace)');
    const gateway = await readyGateway(lab, dir);
    process.stdout.write(`${gateway.lines.find((l) => l.includes('ready'))}\n`);

    step('user: ferry import sslclient1.zip');
    const user = await clientHome();
    const imported = await ferry(user, ['import', bundle]);
    process.stdout.write(imported.stdout + imported.stderr);
    if (imported.code !== 0) throw new Error('import failed');
    process.stdout.write((await ferry(user, ['show', 'sslclient1'])).stdout);

    step('user: ferry connect sslclient1 (password piped on stdin, in the client namespace)');
    const session = startConnect(lab, user, 'sslclient1', { stdin: `${password}\n`, args: ['--password-stdin'] });
    session.child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    await session.waitFor(STATE('CONNECTED'));

    step(`user: ping the VPC host ${lab.addr.vpcHost} through the tunnel`);
    const ping = await lab.exec('client', ['ping', '-c', '3', '-W', '2', lab.addr.vpcHost]);
    process.stdout.write(ping.stdout);

    step('user: ferry status');
    process.stdout.write((await ferry(user, ['status'])).stdout);

    step('administrator: ferry-server status (seed 3.4.5)');
    process.stdout.write((await ferryServer(['status', '--dir', dir])).stdout);

    step('user: disconnect (SIGINT), then stop the gateway');
    await session.stop('SIGINT');
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
