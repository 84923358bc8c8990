/** The `ferry` commands other than profiles and status (list.ts): import, show, remove, set, connect, disconnect. */
import type { FerryClient } from '../client.js';
import { OTP_CODE_LINE, OTP_SECRET_LINE, PASSWORD_LINE, readSecretLines } from './stdin-secrets.js';
import { stateLine } from './format.js';
import { OtpSecretNeededError, type ProfileEdit } from '../profile/edit.js';
import { formatHostPort, parseGateway } from '../profile/fields.js';
import { ProtoSchema, type Profile } from '../profile/schema.js';
import { isSaved } from '../secrets/secret-store.js';
import { failureText, messageText, terminalLanguage, type Language } from '../session/failure-text.js';
import type { Message } from '../session/messages.js';
import type { TunnelChange } from '../session/registry.js';
import type { SessionSnapshot } from '../session/snapshot.js';
import type { Io } from '../util/cli-main.js';
import { InputError } from '../util/errors.js';
import { oneName, parse, publicProfile } from './common.js';

function parseProto(value: string | undefined): 'tcp' | 'udp' | undefined {
  if (value === undefined) return undefined;
  const parsed = ProtoSchema.safeParse(value);
  if (!parsed.success) throw new InputError(`--proto must be tcp or udp, not "${value}"`);
  return parsed.data;
}

// ---- import / profiles / show / remove / set -----------------------------------------

export async function importCommand(client: FerryClient, args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    gateway: { type: 'string' },
    proto: { type: 'string' },
    username: { type: 'string' },
    'no-password': { type: 'boolean' },
  });
  if (positionals.length === 0) throw new InputError('ferry import needs files: the three PEM files, one .ovpn, one bundle .zip or one .p12');
  const { TerminalPrompter } = await import('./terminal-prompter.js');
  const prompter = new TerminalPrompter(Boolean(process.stdin.isTTY));
  const proto = parseProto(values.proto);
  const { profile, imported } = await client.importProfile(positionals, {
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.gateway !== undefined ? { gateway: parseGateway(values.gateway, '--gateway') } : {}),
    ...(proto ? { proto } : {}),
    ...(values.username !== undefined ? { username: values.username } : {}),
    ...(values['no-password'] ? { noPassword: true } : {}),
    askPassphrase: async (file: string) => (await prompter.keyPassphrase({ profile: file }))?.value,
  });
  for (const warning of imported.warnings) io.err(`ferry: warning: ${warning}`);
  const remote = profile.remotes[0]!;
  io.out(`imported "${profile.name}": gateway ${formatHostPort(remote.host, remote.port)} (${remote.proto})${profile.username ? `, user ${profile.username}` : ''}${profile.passwordRequired ? ', password required' : ''}`);
}

export async function showCommand(client: FerryClient, args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  const profile = await client.store.get(oneName(positionals, 'show'));
  const certificates = await client.certificates(profile);
  if (values.json) {
    io.out(JSON.stringify({ profile: publicProfile(profile), certificates }, null, 2));
    return;
  }
  io.out(`name:              ${profile.name}`);
  for (const r of profile.remotes) io.out(`gateway:           ${formatHostPort(r.host, r.port)} (${r.proto})`);
  io.out(`username:          ${profile.username ?? '-'}`);
  io.out(`password:          ${profile.passwordRequired ? 'required' : 'not used'}`);
  io.out(`one-time code:     ${profile.otp.kind === 'none' ? (profile.staticChallenge ? 'asked each time' : 'none') : profile.otp.kind.toUpperCase()}`);
  io.out(`reconnect timeout: ${profile.reconnectTimeoutSec} s`);
  for (const c of certificates) {
    io.out('');
    io.out(`${c.role === 'ca' ? 'CA certificate' : 'client certificate'}`);
    io.out(`  subject:  ${c.subject}`);
    io.out(`  issuer:   ${c.issuer}`);
    io.out(`  valid:    ${c.validFrom} to ${c.validTo}`);
    if (c.keyType) io.out(`  key:      ${c.keyType}`);
    io.out(`  SHA-1:    ${c.sha1}`);
    io.out(`  SHA-256:  ${c.sha256}`);
  }
}

export async function removeCommand(client: FerryClient, args: string[], io: Io): Promise<void> {
  const { positionals } = parse(args, {});
  const removed = await client.removeProfile(oneName(positionals, 'remove'));
  io.out(`removed "${removed.name}"`);
}

export async function setCommand(client: FerryClient, args: string[], io: Io): Promise<void> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    gateway: { type: 'string' },
    proto: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    otp: { type: 'string' },
    'otp-secret-stdin': { type: 'boolean' },
    'reconnect-timeout': { type: 'string' },
    'auto-connect': { type: 'string' },
  });
  const name = oneName(positionals, 'set');
  const edit: ProfileEdit = {};
  if (values.name !== undefined) edit.name = values.name;
  if (values.username !== undefined) edit.username = values.username;
  if (values.gateway !== undefined) {
    parseGateway(values.gateway, '--gateway'); // refused here, in the option's name
    edit.gateway = values.gateway;
  }
  const proto = parseProto(values.proto);
  if (proto) edit.proto = proto;
  if (values.password !== undefined) {
    if (values.password !== 'required' && values.password !== 'none') throw new InputError('--password must be "required" or "none"');
    edit.passwordRequired = values.password === 'required';
  }
  if (values['reconnect-timeout'] !== undefined) {
    const seconds = Number(values['reconnect-timeout']);
    if (!Number.isInteger(seconds) || seconds < 5 || seconds > 86400) throw new InputError('--reconnect-timeout must be a whole number of seconds from 5 to 86400');
    edit.reconnectTimeoutSec = seconds;
  }
  if (values['auto-connect'] !== undefined) {
    if (values['auto-connect'] !== 'yes' && values['auto-connect'] !== 'no') throw new InputError('--auto-connect must be "yes" or "no"');
    edit.autoConnect = values['auto-connect'] === 'yes';
  }
  if (values.otp !== undefined) {
    if (values.otp !== 'none' && values.otp !== 'totp' && values.otp !== 'hotp') throw new InputError('--otp must be none, totp or hotp');
    edit.otpKind = values.otp;
  }
  if (values['otp-secret-stdin']) edit.otpSecret = (await readSecretLines([OTP_SECRET_LINE]))[0]!;
  const { profile, appliesAtNextConnect } = await client.updateProfile(name, edit).catch((err: unknown) => {
    if (err instanceof OtpSecretNeededError) throw new InputError(`--otp ${err.kind} needs the token's secret: pipe it with --otp-secret-stdin`);
    throw err;
  });
  io.out(`updated "${profile.name}"`);
  if (appliesAtNextConnect) io.err(`ferry: "${profile.name}" is connected and keeps its current settings; the new ones apply the next time it connects (disconnect and connect again to use them now)`);
}

// ---- connect / status ------------------------------------------------------------------

export async function connectCommand(client: FerryClient, args: string[], io: Io): Promise<number> {
  // 0.1 took `--otp CODE`, which every local user could read in `ps`. Refused before
  // parsing, in any spelling, and the code is not repeated.
  if (args.some((a) => a === '--otp' || a.startsWith('--otp='))) {
    throw new InputError('--otp CODE is no longer accepted: a code in the command line shows in `ps` to every user of this computer; pipe it with --otp-stdin (with --password-stdin too: the password on the first line, the code on the second)');
  }
  const { values, positionals } = parse(args, {
    'password-stdin': { type: 'boolean' },
    'otp-stdin': { type: 'boolean' },
    'save-password': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const profile = await client.store.get(oneName(positionals, 'connect'));
  const wanted = [...(values['password-stdin'] ? [PASSWORD_LINE] : []), ...(values['otp-stdin'] ? [OTP_CODE_LINE] : [])];
  const lines = wanted.length > 0 ? await readSecretLines(wanted) : [];
  const piped = values['password-stdin'] ? lines[0] : undefined;
  const otp = values['otp-stdin'] ? lines[lines.length - 1] : undefined;
  // Stdin that carried secrets is not a terminal to ask on any more.
  const interactive = Boolean(process.stdin.isTTY) && wanted.length === 0;
  // A tunnel ferry-helper kept after its Ferry process died is taken over: nothing to ask.
  if (!(await client.isKeptRunning(profile))) await checkSecretsReachable(client, profile, { piped, otp, interactive });

  const { TerminalPrompter } = await import('./terminal-prompter.js');
  const prompter = new TerminalPrompter(interactive);
  // What this command prints is what the registry publishes about the profile's tunnel;
  // failure reasons and notices in the terminal's language (LC_ALL, LC_MESSAGES, LANG).
  const language = terminalLanguage();
  const notice = (said: Message) => {
    const text = messageText(said, language);
    io[values.json ? 'out' : 'err'](values.json ? JSON.stringify({ notice: text, code: said.code, params: said.params }) : `ferry: ${text}`);
  };
  const onChange = ({ id, before, after }: TunnelChange) => {
    const snapshot = after?.snapshot;
    if (id !== profile.id || !snapshot || snapshot.state === before?.snapshot?.state) return;
    io.out(values.json ? JSON.stringify(jsonState(snapshot, language)) : stateLine(snapshot, profile.remotes[0]!, language));
  };
  client.registry.on('change', onChange);
  const stop = () => void client.registry.disconnect(profile.id).catch(() => {});
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const { ended } = await client.connect(profile.name, {
      prompter,
      ...(piped !== undefined ? { password: piped } : {}),
      ...(otp !== undefined ? { otp } : {}),
      savePassword: Boolean(values['save-password']),
      notice,
    });
    const end = await ended;
    if (end.state === 'FAILED') {
      const reason =
        end.failure?.code === 'credentials-unavailable' && prompter.refused
          ? `${prompter.refused}: pipe the password with --password-stdin (and a one-time code with --otp-stdin, on the next line)`
          : end.failure && failureText(end.failure, language);
      io.err(`ferry: ${reason ?? 'the connection failed'}`);
      return 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    client.registry.off('change', onChange);
  }
}

/** Fails at once, before starting anything, when a secret will be needed and nothing can supply it. */
async function checkSecretsReachable(client: FerryClient, profile: Profile, given: { piped?: string | undefined; otp?: string | undefined; interactive: boolean }): Promise<void> {
  if (given.interactive) return;
  if (profile.passwordRequired && given.piped === undefined && !(await isSaved(client.secrets, profile.id, 'password'))) {
    throw new InputError(`"${profile.name}" needs a password and there is no terminal to ask on: pipe it with --password-stdin, or connect once from a terminal with --save-password`);
  }
  if (profile.staticChallenge && given.otp === undefined && !(profile.otp.kind !== 'none' && (await isSaved(client.secrets, profile.id, 'otp-secret')))) {
    throw new InputError(`"${profile.name}" needs a one-time code and there is no terminal to ask on: pipe it with --otp-stdin (after the password line, with --password-stdin), or save the token's secret with \`ferry set ${profile.name} --otp totp --otp-secret-stdin\``);
  }
}

/** One `--json` line: `reason` in the terminal's language; `code`, `detail` and `params` for scripts. */
function jsonState(snapshot: SessionSnapshot, language: Language) {
  return {
    state: snapshot.state,
    profile: snapshot.profile,
    time: snapshot.since,
    ...(snapshot.stats.virtualIp ? { virtualIp: snapshot.stats.virtualIp } : {}),
    ...(snapshot.stats.server ? { server: snapshot.stats.server } : {}),
    ...(snapshot.stats.cipher ? { cipher: snapshot.stats.cipher } : {}),
    ...(snapshot.deadline ? { deadline: snapshot.deadline } : {}),
    ...(snapshot.failure ? { reason: failureText(snapshot.failure, language), code: snapshot.failure.code, detail: snapshot.failure.detail, params: snapshot.failure.params } : {}),
  };
}

export async function disconnectCommand(client: FerryClient, args: string[], io: Io): Promise<void> {
  const { positionals } = parse(args, {});
  const name = oneName(positionals, 'disconnect');
  const last = await client.disconnect(name);
  const profile = await client.store.get(name);
  io.out(last?.snapshot ? `disconnected "${profile.name}"` : `"${profile.name}" was not connected`);
}
