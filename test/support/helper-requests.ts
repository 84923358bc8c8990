/**
 * Talking to ferry-helper the way any local program can: raw bytes on its socket, as a
 * given test user (another process, so the kernel sees that user's credentials) or from
 * this process (root) when many connections must be truly simultaneous.
 */
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import type { TestUser } from './users.js';

/**
 * One raw request from `user` (or root), written as given (no newline added; `undefined`
 * writes nothing at all); resolves with the reply lines once the helper closes.
 */
export function rawRequest(socket: string, payload: string | undefined, user?: TestUser): Promise<string[]> {
  const script = `const s=require('net').createConnection(process.argv[1]);let o='';s.on('data',d=>o+=d);s.on('error',e=>console.log(JSON.stringify({socketError:e.code})));s.on('close',()=>process.stdout.write(o));let i='';process.stdin.on('data',d=>i+=d).on('end',()=>{if(i)s.write(i)});`;
  const argv = [...(user?.asUser ?? []), process.execPath, '-e', script, socket];
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', () => resolve(out.split('\n').filter(Boolean)));
    child.stdin.end(payload ?? '');
  });
}

/** The parsed first reply line of a raw request. */
export async function rawReply(socket: string, payload: string, user?: TestUser): Promise<{ ok: boolean; result?: unknown; error?: string }> {
  const [line] = await rawRequest(socket, payload, user);
  return JSON.parse(line ?? '{"ok":false,"error":"(no reply)"}') as { ok: boolean; result?: unknown; error?: string };
}

/** From this process: resolves with the reply, '' if the helper closed without one, or the socket error code. */
export function inProcessRequest(socket: string, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(socket);
    let out = '';
    s.on('connect', () => s.write(payload));
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.on('close', () => resolve(out.trim()));
  });
}

export interface Conversation {
  /** The reply line, parsed. */
  reply: { ok: boolean; result?: unknown; error?: string };
  /** Every line received so far (reply first, then events). */
  lines: string[];
  /** Resolves when the helper closes the connection. */
  closed: Promise<void>;
  /** Hangs up (kills the user's client process). */
  hangUp(): void;
}

/**
 * A request whose connection stays open (start, watch), from `user`'s own process;
 * resolves once the reply has arrived, while events keep coming into `lines`.
 */
export function openConversation(socket: string, payload: string, user?: TestUser): Promise<Conversation> {
  const script = `const s=require('net').createConnection(process.argv[1]);s.on('data',d=>process.stdout.write(d));s.on('error',()=>{});s.on('close',()=>process.exit(0));s.on('connect',()=>s.write(process.argv[2]));`;
  const argv = [...(user?.asUser ?? []), process.execPath, '-e', script, socket, payload];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines: string[] = [];
  let partial = '';
  const closed = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      partial += c.toString();
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (lines.length === 1) resolve({ reply: JSON.parse(line) as Conversation['reply'], lines, closed, hangUp: () => child.kill('SIGKILL') });
      }
    });
    void closed.then(() => reject(new Error(`the helper closed without replying to ${payload.slice(0, 80)}`)));
  });
}

export interface HeldConnections {
  /** Per connection, in order: its first reply line (parsed), or undefined if closed without one. */
  replies: Promise<Array<{ ok: boolean; result?: unknown; error?: string } | undefined>>;
  /** How many connections have had their reply (or were closed without one) so far. */
  received(): number;
  /** Ends the holding process (and so every connection it holds). */
  release(): void;
  exited: Promise<void>;
}

/**
 * Opens one connection per payload from one process of `user`'s, all at once; each
 * writes its payload ('' writes nothing), reads its first reply line and then never reads
 * again (a silent watcher), holding the connection until `release()`.
 */
export function holdConnections(socket: string, payloads: string[], user?: TestUser): HeldConnections {
  const script = `const net=require('net');const payloads=JSON.parse(process.argv[2]);let left=payloads.length;
const done=()=>{if(--left===0)process.stdout.write('{"all":true}\\n')};
payloads.forEach((p,i)=>{const s=net.createConnection(process.argv[1]);let b='',seen=false;
const first=(line)=>{if(seen)return;seen=true;process.stdout.write(JSON.stringify({i,line})+'\\n');s.pause();s.removeAllListeners('data');done()};
s.on('connect',()=>{if(p)s.write(p)});s.on('data',d=>{b+=d;const n=b.indexOf('\\n');if(n>=0)first(b.slice(0,n))});
s.on('error',()=>{});s.on('close',()=>first(null))});`;
  const argv = [...(user?.asUser ?? []), process.execPath, '-e', script, socket, JSON.stringify(payloads)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let received = 0;
  const replies = new Promise<HeldConnections['replies'] extends Promise<infer T> ? T : never>((resolve, reject) => {
    const got: Array<{ ok: boolean; result?: unknown; error?: string } | undefined> = new Array(payloads.length);
    let partial = '';
    child.stdout.on('data', (c: Buffer) => {
      partial += c.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        const m = JSON.parse(l) as { i?: number; line?: string | null; all?: true };
        if (m.all) return resolve(got);
        got[m.i!] = m.line ? (JSON.parse(m.line) as { ok: boolean }) : undefined;
        received++;
      }
    });
    void exited.then(() => reject(new Error('the holding process ended before every connection had its reply')));
  });
  return { replies, received: () => received, release: () => child.kill('SIGKILL'), exited };
}

/**
 * `count` silent connections from one process of `user`'s, each reopened as soon as the
 * helper closes it: the attacker who keeps slots taken. Resolves once all are first open.
 */
export async function hogConnections(socket: string, count: number, user: TestUser): Promise<{ release(): void }> {
  const script = `const net=require('net');let up=0;const one=(first)=>{const s=net.createConnection(process.argv[1]);s.on('error',()=>{});
s.on('connect',()=>{if(first&&++up===Number(process.argv[2]))console.log('up')});s.on('close',()=>setTimeout(one,5,false))};
for(let i=0;i<Number(process.argv[2]);i++)one(true);`;
  const argv = [...user.asUser, process.execPath, '-e', script, socket, String(count)];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => c.toString().includes('up') && resolve());
    child.once('exit', () => reject(new Error('the hog exited before its connections were up')));
  });
  return { release: () => child.kill('SIGKILL') };
}
