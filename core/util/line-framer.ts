/**
 * Newline framing for every line protocol Ferry speaks (openvpn's management interface and
 * output, ferry-helper, the JSON sockets): bytes in, whole lines out, every line bounded.
 * A peer that sends a longer line is not the peer we expect; `onOverflow` decides what then
 * (close the connection, usually) and the over-long line is dropped either way.
 *
 * Framing is done on bytes: "\n" (0x0a) never occurs inside a multi-byte UTF-8 sequence, so
 * a character split across chunks is whole again once its line is, and the bound is on what
 * the peer sent, however it is encoded. Each line is then decoded as UTF-8 (a malformed
 * sequence becomes U+FFFD, as a StringDecoder would make it).
 */

export interface LineFramerOptions {
  /** Longest line accepted, in bytes (UTF-8), without its newline (and its "\r" when stripped). */
  maxLineLength: number;
  /** Called once per over-long line; the framer then skips up to the next newline. */
  onOverflow?: () => void;
  /** Drop a trailing "\r" (CRLF peers such as openvpn's management interface). Default true. */
  stripCr?: boolean;
}

const LF = 0x0a;
const CR = 0x0d;

export class LineFramer {
  /** The unterminated line so far: its pieces and their total length. */
  private parts: Buffer[] = [];
  private length = 0;
  /** Inside an over-long line: everything up to its newline is dropped. */
  private skipping = false;
  private stopped = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly opts: LineFramerOptions,
  ) {}

  /** Feeds a chunk; calls onLine for each complete line in it (none once stop() was called). */
  push(chunk: string | Buffer): void {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let newline: number;
    while (!this.stopped && (newline = bytes.indexOf(LF)) >= 0) {
      this.take(bytes.subarray(0, newline));
      bytes = bytes.subarray(newline + 1);
      const line = this.endLine();
      if (line) this.deliver(line);
    }
    if (!this.stopped) this.take(bytes);
  }

  /** The unterminated rest (a process that exited mid-line), as a last line if non-empty. */
  flush(): void {
    const rest = this.endLine();
    if (!this.stopped && rest && rest.length > 0) this.deliver(rest);
  }

  /** Delivers nothing more, not even the rest of the chunk being pushed (the connection was closed). */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.length = 0;
  }

  /** The current line's bytes (undefined when it was over-long), and a fresh start for the next. */
  private endLine(): Buffer | undefined {
    const line = this.skipping ? undefined : this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    this.skipping = false;
    return line;
  }

  /** Adds bytes to the current line, or notices it has grown too long. */
  private take(bytes: Buffer): void {
    if (this.skipping || bytes.length === 0) return;
    this.parts.push(bytes);
    this.length += bytes.length;
    // One byte of slack for a "\r" that may still be followed by the newline.
    if (this.length > this.opts.maxLineLength + (this.stripsCr ? 1 : 0)) this.overflow();
  }

  private deliver(line: Buffer): void {
    const body = this.stripsCr && line[line.length - 1] === CR ? line.subarray(0, -1) : line;
    if (body.length > this.opts.maxLineLength) return this.overflow(false);
    this.onLine(body.toString('utf8'));
  }

  private overflow(skipToNewline = true): void {
    this.parts = [];
    this.length = 0;
    this.skipping = skipToNewline;
    this.opts.onOverflow?.();
  }

  private get stripsCr(): boolean {
    return this.opts.stripCr !== false;
  }
}
