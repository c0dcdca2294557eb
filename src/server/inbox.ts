import { LineSplitter } from '../protocol/ndjson';

/**
 * Request lines read from one client and not yet dispatched: at most one
 * chunk's worth plus one long line, because the conversation reads more only
 * once these are all dispatched.
 */
export class Inbox {
  private lines: string[] = [];
  private head = 0;
  private heard = false;
  private readonly splitter: LineSplitter;

  constructor(maxLineBytes: number, onOverflow: () => void) {
    this.splitter = new LineSplitter(
      maxLineBytes,
      (line) => {
        this.heard = true;
        this.lines.push(line.toString('utf8'));
      },
      onOverflow,
    );
  }

  /** Feeds a chunk. Returns false once a line overflowed; the caller must stop feeding. */
  push(chunk: Buffer): boolean {
    return this.splitter.push(chunk);
  }

  /** Whether one complete request line has ever arrived. */
  get heardRequest(): boolean {
    return this.heard;
  }

  get empty(): boolean {
    return this.head >= this.lines.length;
  }

  /** The next line to dispatch; once the last is taken, the array is let go. */
  take(): string | undefined {
    if (this.empty) return undefined;
    const line = this.lines[this.head]!;
    this.lines[this.head++] = '';
    if (this.empty) this.clear();
    return line;
  }

  clear(): void {
    this.lines = [];
    this.head = 0;
  }
}
