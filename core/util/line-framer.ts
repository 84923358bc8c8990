/**
 * Newline framing for every line protocol Ferry speaks (openvpn's management interface and
 * output, ferry-helper, the JSON sockets): bytes in, whole lines out, every line bounded.
 * A peer that sends a longer line is not the peer we expect; `onOverflow` decides what then
 * (close the connection, usually) and the partial line is dropped either way.
 */
import { StringDecoder } from 'node:string_decoder';

export interface LineFramerOptions {
  /** Longest line accepted, in UTF-16 code units, without its newline. */
  maxLineLength: number;
  /** Called once per over-long line; the framer then skips up to the next newline. */
  onOverflow?: () => void;
  /** Drop a trailing "\r" (CRLF peers such as openvpn's management interface). Default true. */
  stripCr?: boolean;
}

export class LineFramer {
  private buffer = '';
  private skipping = false;
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly opts: LineFramerOptions,
  ) {}

  /** Feeds a chunk; calls onLine for each complete line in it. */
  push(chunk: string | Buffer): void {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (line.length > this.opts.maxLineLength) {
        this.opts.onOverflow?.();
        continue;
      }
      this.onLine(this.opts.stripCr === false ? line : line.replace(/\r$/, ''));
    }
    if (this.buffer.length > this.opts.maxLineLength) {
      this.buffer = '';
      if (!this.skipping) this.opts.onOverflow?.();
      this.skipping = true;
    }
  }

  /** The unterminated rest (a process that exited mid-line), as a last line if non-empty. */
  flush(): void {
    const rest = this.buffer + this.decoder.end();
    this.buffer = '';
    if (!this.skipping && rest !== '' && rest.length <= this.opts.maxLineLength) this.onLine(this.opts.stripCr === false ? rest : rest.replace(/\r$/, ''));
    this.skipping = false;
  }
}
