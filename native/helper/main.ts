/**
 * `ferry-helper [--socket PATH]`: the root daemon that starts openvpn for ordinary users
 * (see server.ts for the socket, sessions.ts for what a session is). Stopping it stops
 * every session it runs; starting it stops whatever a crashed predecessor left.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_HELPER_SOCKET } from '../../core/engine/helper-protocol.js';
import { type Io, processIo, runCommand } from '../../core/util/cli-main.js';
import { FerryError, InputError } from '../../core/util/errors.js';
import { pickDnsBackend } from './dns.js';
import { prepareBaseDir, startHelperServer } from './server.js';
import { SessionManager } from './sessions.js';

const USAGE = `Usage: ferry-helper [--socket PATH]

Runs as root and starts openvpn for ordinary users of this machine, so that Ferry can
connect without root. Default socket: ${DEFAULT_HELPER_SOCKET}. Normally started by the
service manager (native/linux/ferry-helper.service).`;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand('ferry-helper', io, async () => {
    const { values } = parseArgs({ args: argv, options: { socket: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    if (process.getuid?.() !== 0) throw new FerryError('ferry-helper must run as root (it creates tun devices and routes for other users)');
    const socketPath = path.resolve(values.socket ?? DEFAULT_HELPER_SOCKET);
    if (!socketPath.endsWith('.sock')) throw new InputError('--socket must name a .sock file');
    const base = path.dirname(socketPath);
    await prepareBaseDir(base);

    const log = (message: string) => io.err(`ferry-helper: ${message}`);
    const dns = pickDnsBackend(base, log);
    const sessions = new SessionManager({ base, dns, log });
    await sessions.init();
    const activation = systemdSocket();
    const server = await startHelperServer({ socketPath, sessions, dnsName: dns.name, log, ...activation });
    log(`serving ${socketPath}${activation.inheritedFd !== undefined ? ' (socket from systemd)' : ''} (DNS via ${dns.name})`);

    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        log(`${signal}: stopping every session`);
        resolve();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    server.close();
    await sessions.shutdown();
    return 0;
  });
}

/** systemd socket activation (ferry-helper.socket): the listening socket is descriptor 3. */
function systemdSocket(): { inheritedFd?: number } {
  return process.env.LISTEN_PID === String(process.pid) && process.env.LISTEN_FDS === '1' ? { inheritedFd: 3 } : {};
}
