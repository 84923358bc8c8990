/**
 * The `ferry` command line (DESIGN.md's CLI contract). Each command's code is loaded when
 * it runs: `ferry profiles` and `ferry status` (cli/list.ts) need none of what connecting,
 * importing or editing loads (cli/commands.ts).
 */
import { FerryClient } from './client.js';
import { processIo, runCommand, type Io } from './util/cli-main.js';
import { InputError } from './util/errors.js';

const USAGE = `usage:
  ferry import FILE... [--name N] [--gateway HOST[:PORT]] [--proto tcp|udp] [--username U] [--no-password]
        FILE...: the three PEM files in any order | one .ovpn | one bundle .zip | one .p12/.pfx
  ferry profiles [--json]
  ferry show NAME [--json]
  ferry remove NAME
  ferry set NAME [--name N] [--gateway HOST[:PORT]] [--proto tcp|udp] [--username U] [--password required|none]
        [--otp none|totp|hotp] [--otp-secret-stdin] [--reconnect-timeout SECONDS] [--auto-connect yes|no]
  ferry connect NAME [--password-stdin] [--otp-stdin] [--save-password] [--json]
        --password-stdin --otp-stdin: the password on the first line of stdin, the code on the second;
        without them Ferry asks on the terminal (the password with input hidden)
  ferry disconnect NAME             (the tunnel, whichever Ferry process runs it)
  ferry status [--json] [--watch]   (--watch: one line per change, until interrupted)
profiles live in $FERRY_HOME (default: the OS config directory)`;

export function main(argv: string[], io: Io = processIo): Promise<number> {
  return runCommand('ferry', io, () => dispatch(argv, io));
}

async function dispatch(argv: string[], io: Io): Promise<number | void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return;
  }
  const client = new FerryClient();
  switch (command) {
    case 'import':
      return (await import('./cli/commands.js')).importCommand(client, rest, io);
    case 'profiles':
      return (await import('./cli/list.js')).profilesCommand(client, rest, io);
    case 'show':
      return (await import('./cli/commands.js')).showCommand(client, rest, io);
    case 'remove':
      return (await import('./cli/commands.js')).removeCommand(client, rest, io);
    case 'set':
      return (await import('./cli/commands.js')).setCommand(client, rest, io);
    case 'connect':
      return (await import('./cli/commands.js')).connectCommand(client, rest, io);
    case 'disconnect':
      return (await import('./cli/commands.js')).disconnectCommand(client, rest, io);
    case 'status':
      return (await import('./cli/list.js')).statusCommand(client, rest, io);
    default:
      throw new InputError(`unknown command "${command}" (see ferry --help)`);
  }
}
