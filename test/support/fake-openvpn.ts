/**
 * A Launcher that plays openvpn's management interface for unit tests: it listens on the
 * socket the session asks for, records every command, answers SUCCESS (or what a real
 * openvpn says to `state` and `log all`), and lets the test send notifications.
 * `keptRunning` plays ferry-helper keeping a tunnel while the app was away.
 */
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import type { EngineSpec } from '../../core/engine/config.js';
import type { EngineExit, Launcher, LauncherKind, RunningEngine } from '../../core/engine/launcher.js';
import { tempDir } from './cli.js';

export class FakeOpenvpn implements Launcher {
  readonly commands: string[] = [];
  launches = 0;
  /** A profile id whose openvpn is already up (found, not launched). */
  keptRunning: string | undefined;
  /** Greets like a real openvpn waiting in its start hold, the moment the session attaches. */
  holdOnAttach = false;
  private socket: Socket | undefined;
  private server: Server | undefined;
  private exit: ((e: EngineExit) => void) | undefined;
  private connected!: () => void;
  /** Resolves once the session has attached to the management socket. */
  attached = new Promise<void>((resolve) => (this.connected = resolve));

  async launch(spec: EngineSpec): Promise<RunningEngine> {
    this.launches++;
    return this.serve(spec.managementSocket, false);
  }

  async kind(): Promise<LauncherKind> {
    return 'direct';
  }

  async running(): Promise<string[]> {
    return this.keptRunning ? [this.keptRunning] : [];
  }

  async find(label: string): Promise<RunningEngine | undefined> {
    if (label !== this.keptRunning) return undefined;
    this.keptRunning = undefined;
    return this.serve(path.join(await tempDir('ferry-kept-'), 'management.sock'), true);
  }

  send(line: string): void {
    this.socket!.write(`${line}\n`);
  }

  die(exit: EngineExit = { code: 0, signal: null }): void {
    this.socket?.destroy();
    this.server?.close();
    this.exit?.(exit);
  }

  async waitFor(re: RegExp, count = 1): Promise<void> {
    for (let i = 0; i < 300 && this.commands.filter((c) => re.test(c)).length < count; i++) await new Promise((r) => setTimeout(r, 10));
    if (this.commands.filter((c) => re.test(c)).length < count) throw new Error(`openvpn never got ${count} × ${re}; it got: ${this.commands.join(' | ')}`);
  }

  /** `alreadyUp`: answers `state` as a connected openvpn does. */
  private async serve(managementSocket: string, alreadyUp: boolean): Promise<RunningEngine> {
    this.commands.length = 0;
    this.server = createServer((socket) => {
      this.socket = socket;
      let buffer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const command = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          this.commands.push(command);
          if (command === 'state' && alreadyUp) socket.write('1700000001,CONNECTED,SUCCESS,198.18.100.2,198.18.1.1,1194,,\nEND\n');
          else if (command === 'log all') socket.write('1700000000,I,Initialization Sequence Completed\nEND\n');
          else socket.write('SUCCESS: ok\n');
          if (command === 'signal SIGTERM') setImmediate(() => this.die());
        }
      });
      // What a real openvpn in its start hold says first, before any command (management-notes).
      if (this.holdOnAttach) socket.write(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\n>HOLD:Waiting for hold release:0\n");
      this.connected();
    });
    await new Promise<void>((resolve) => this.server!.listen(managementSocket, resolve));
    const exited = new Promise<EngineExit>((resolve) => (this.exit = resolve));
    return { pid: 4242, managementSocket, exited, onOutput: () => {}, kill: () => this.die({ code: null, signal: 'SIGKILL' }) };
  }
}
