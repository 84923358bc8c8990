/**
 * `ferry-helper [--socket PATH]`: the root daemon that starts openvpn for ordinary users
 * (see server.ts for the socket, sessions.ts for what a session is). Stopping it stops
 * every session it runs; starting it stops whatever a crashed predecessor left.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultHelperSocket } from '../../core/engine/helper-protocol.js';
import { type Io, processIo, runCommand } from '../../core/util/cli-main.js';
import { FerryError, InputError } from '../../core/util/errors.js';
import { pickDnsBackend } from './dns.js';
import { DEFAULT_GROUP, GROUP_NAME, groupCommands, loadStartPolicy } from './policy.js';
import { prepareBaseDir, startHelperServer } from './server.js';
import { LIMITS, SessionManager } from './sessions.js';

const USAGE = `Usage: ferry-helper [--socket PATH] [--group NAME] [--max-sessions N]

Runs as root and starts openvpn for ordinary users of this machine, so that Ferry can
connect without root. Only root and members of the group (default "${DEFAULT_GROUP}") may
start a session; each user runs at most ${LIMITS.perUser}, the machine at most N (default
${LIMITS.total}). Default socket: ${defaultHelperSocket()}. Normally started by the
service manager (native/linux/ferry-helper.service, native/darwin/com.ferry.helper.plist).`;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand('ferry-helper', io, async () => {
    const { values } = parseArgs({ args: argv, options: { socket: { type: 'string' }, group: { type: 'string' }, 'max-sessions': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    if (process.getuid?.() !== 0) throw new FerryError('ferry-helper must run as root (it creates tun devices and routes for other users)');
    const socketPath = path.resolve(values.socket ?? defaultHelperSocket());
    if (!socketPath.endsWith('.sock')) throw new InputError('--socket must name a .sock file');
    const base = path.dirname(socketPath);
    await prepareBaseDir(base);

    const group = values.group ?? DEFAULT_GROUP;
    if (!GROUP_NAME.test(group)) throw new InputError('--group must name a group');
    const total = Number(values['max-sessions'] ?? LIMITS.total);
    if (!Number.isInteger(total) || total < 1 || total > 1024) throw new InputError('--max-sessions must be a whole number from 1 to 1024');
    const log = (message: string) => io.err(`ferry-helper: ${message}`);
    // Whatever escapes a handler is logged, never fatal: one user's request must not
    // take down every other user's tunnel (and leave their routes and DNS behind).
    process.on('uncaughtException', (err) => log(`internal error (kept running): ${err.stack ?? err.message}`));
    process.on('unhandledRejection', (err) => log(`internal error (kept running): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    const policy = await loadStartPolicy(group);
    if (policy.gid === undefined) log(`the group "${group}" does not exist: only root can start sessions (create it: ${groupCommands(process.platform, group, '').create})`);
    const dns = pickDnsBackend(base, log);
    const sessions = new SessionManager({ base, dns, log, limits: { perUser: Math.min(LIMITS.perUser, total), total } });
    await sessions.init();
    const activation = systemdSocket();
    const server = await startHelperServer({ socketPath, sessions, policy, dnsName: dns.name, log, ...activation });
    log(`serving ${socketPath}${activation.inheritedFd !== undefined ? ' (socket from systemd)' : ''} (DNS via ${dns.name}; sessions: root and group ${group})`);

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
