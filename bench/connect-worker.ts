/**
 * bench:connect's long-running client, as the desktop app runs the core: started once in the
 * lab's client namespace with FERRY_HOME / XDG_RUNTIME_DIR set, it loads the profile once and
 * then connects on command. JSON lines on stdin, one JSON reply per command on stdout:
 *
 *   {"cmd":"init","profile":NAME,"password":PW}  -> {"ok":true,"loadMs":…}
 *   {"cmd":"connect"}                           -> {"ok":true,"openMs":…,"tlsMs":…,"connectMs":…,"downMs":…}
 *   {"cmd":"quit"}                              -> exits
 *
 * connectMs runs from session.connect() to the 'state' event CONNECTED; tlsMs to the state
 * AUTH (openvpn's AUTH: the gateway's first TLS packet arrived); openMs is the
 * client.openSession() before connect(), downMs the disconnect until `done`. Secrets stay in memory
 * (MemorySecretStore; the password arrives on stdin, never in argv).
 *
 * With FERRY_BENCH_LAUNCHER=helper the worker starts openvpn through ferry-helper (at
 * $FERRY_HELPER_SOCKET), as an ordinary user's app does; otherwise directly, as root.
 */
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { FerryClient } from '../core/client.js';
import { HelperLauncher } from '../core/engine/helper-launcher.js';
import { helperSocketPath } from '../core/engine/helper-protocol.js';
import { DirectLauncher } from '../core/engine/launcher.js';
import type { Profile } from '../core/profile/schema.js';
import { MemorySecretStore } from '../core/secrets/secret-store.js';
import { SessionCredentials, type Prompter } from '../core/session/credentials.js';
import { failureText } from '../core/session/failure-text.js';

const CONNECT_TIMEOUT_MS = 30_000;
const nobody: Prompter = { password: async () => undefined, otp: async () => undefined, challenge: async () => undefined, keyPassphrase: async () => undefined };
const launcher = process.env.FERRY_BENCH_LAUNCHER === 'helper' ? new HelperLauncher(helperSocketPath()) : new DirectLauncher();
const client = new FerryClient({ secrets: new MemorySecretStore(), launcher });
let loaded: { profile: Profile; password: string } | undefined;

async function connectOnce(): Promise<Record<string, unknown>> {
  if (!loaded) throw new Error('init first');
  const { profile, password } = loaded;
  const t0 = performance.now();
  const { session, close } = await client.openSession(profile, new SessionCredentials(profile, client.secrets, nobody, { password }));
  try {
    let tlsAt = NaN;
    const connected = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not CONNECTED within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      session.on('state', (s) => {
        if (s.state === 'AUTH' && Number.isNaN(tlsAt)) return void (tlsAt = performance.now());
        if (s.state === 'CONNECTED') resolve(performance.now());
        else if (s.state === 'FAILED') reject(new Error(`FAILED: ${s.failure ? failureText(s.failure, 'en') : 'no reason'}`));
        else return;
        clearTimeout(timer);
      });
    });
    const start = performance.now();
    await session.connect();
    const at = await connected;
    const down = performance.now();
    await session.disconnect();
    await session.done;
    return { ok: true, openMs: start - t0, tlsMs: tlsAt - start, connectMs: at - start, downMs: performance.now() - down };
  } finally {
    await session.disconnect().catch(() => {});
    await close();
  }
}

async function handle(msg: { cmd: string; profile?: string; password?: string }): Promise<Record<string, unknown>> {
  switch (msg.cmd) {
    case 'init': {
      const t0 = performance.now();
      loaded = { profile: await client.store.get(msg.profile ?? ''), password: msg.password ?? '' };
      return { ok: true, loadMs: performance.now() - t0 };
    }
    case 'connect':
      return connectOnce();
    case 'quit':
      process.exit(0);
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

const reply = (obj: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(obj)}\n`);
// One command at a time: the bench waits for each reply before sending the next.
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  try {
    reply(await handle(JSON.parse(line) as { cmd: string }));
  } catch (err) {
    reply({ ok: false, error: (err as Error).message });
  }
}
