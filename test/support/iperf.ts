/** iperf3 in the network lab: servers, one-shot measurements and live interval reports. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lab, LabNs } from '../lab/lab.js';
import { Watched } from './processes.js';

/**
 * `iperf3 -s`, one test at a time. It finishes a test only when the client's last control
 * message arrives, which on a shaped link can come after the client has exited (a dropped
 * packet, retransmitted): a next test started before that is refused with a reset. So each
 * run waits for the server's "Server listening" line that follows the previous test.
 */
export class IperfServer {
  private tests = 0;

  private constructor(
    readonly proc: Watched,
    readonly host: string,
    readonly port: number,
  ) {}

  /** Starts the server bound to host:port inside ns and waits until it listens. */
  static async start(lab: Lab, ns: LabNs, host: string, port: number): Promise<IperfServer> {
    const proc = new Watched(lab.spawn(ns, ['iperf3', '-s', '-B', host, '-p', String(port), '--forceflush']), `iperf3 -s ${host}:${port}`);
    for (let i = 0; i < 200; i++) {
      if ((await lab.exec(ns, ['ss', '-Hltn', `sport = :${port}`])).stdout.trim()) return new IperfServer(proc, host, port);
      if (proc.child.exitCode !== null) break;
      await sleep(25);
    }
    throw new Error(`iperf3 server ${host}:${port} in the ${ns} namespace is not listening:\n${proc.lines.join('\n')}`);
  }

  /** Resolves when the server is free for the next test, and counts that test. */
  async next(): Promise<void> {
    await this.proc.waitForCount(/Server listening on/, this.tests + 1, 30_000);
    this.tests++;
  }
}

export interface IperfOptions {
  seconds: number;
  /** -R: the server sends (the client's download). */
  reverse?: boolean;
  /** Seconds left out at the start (TCP slow start, a shaper's initial burst). */
  omit?: number;
}

/** One TCP run from ns to the server; Mbit/s of payload the receiving side got, and the sender's retransmits. */
export async function iperf(lab: Lab, ns: LabNs, server: IperfServer, opts: IperfOptions): Promise<{ mbps: number; retransmits: number }> {
  await server.next();
  const { host, port } = server;
  const args = ['iperf3', '-c', host, '-p', String(port), '-t', String(opts.seconds), '-O', String(opts.omit ?? 1), '-J', ...(opts.reverse ? ['-R'] : [])];
  const res = await lab.exec(ns, args, { timeoutMs: (opts.seconds + (opts.omit ?? 1) + 30) * 1000 });
  const out = JSON.parse(res.stdout || '{}') as { error?: string; end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } } };
  if (res.code !== 0 || !out.end?.sum_received) throw new Error(`iperf3 ${ns} → ${host}:${port} failed: ${out.error ?? res.stderr.trim()}`);
  return { mbps: out.end.sum_received.bits_per_second / 1e6, retransmits: out.end.sum_sent?.retransmits ?? 0 };
}

/** A run that reports every `interval` seconds as it goes (`--forceflush`), for changes mid-run. */
export class LiveIperf {
  private constructor(readonly proc: Watched) {}

  static async start(lab: Lab, ns: LabNs, server: IperfServer, opts: IperfOptions & { interval: number }): Promise<LiveIperf> {
    await server.next();
    const { host, port } = server;
    const args = ['iperf3', '-c', host, '-p', String(port), '-t', String(opts.seconds), '-i', String(opts.interval), '--forceflush', ...(opts.reverse ? ['-R'] : [])];
    return new LiveIperf(new Watched(lab.spawn(ns, args), `iperf3 -c ${host}:${port}`));
  }

  /** Interval reports so far: [start s, end s, Mbit/s]; the final summary lines are left out. */
  intervals(): Array<{ start: number; end: number; mbps: number }> {
    const out: Array<{ start: number; end: number; mbps: number }> = [];
    for (const line of this.proc.lines) {
      const m = /^\[\s*\d+\]\s+([\d.]+)-([\d.]+)\s+sec\s+[\d.]+\s+\w?Bytes\s+([\d.]+)\s+([KMG]?)bits\/sec(.*)$/.exec(line);
      if (!m || /sender|receiver/.test(m[5]!)) continue;
      const scale = { '': 1e-6, K: 1e-3, M: 1, G: 1e3 }[m[4] as '' | 'K' | 'M' | 'G'];
      out.push({ start: Number(m[1]), end: Number(m[2]), mbps: Number(m[3]) * scale });
    }
    return out;
  }

  /** Resolves once `count` interval reports have arrived. */
  async waitForIntervals(count: number): Promise<void> {
    await this.proc.waitForCount(/sec\s+[\d.]+\s+\w?Bytes/, count);
  }
}
