/**
 * Splits a byte stream into lines without holding more than `maxLineBytes`
 * of an unfinished line. A line is handed over as bytes (a subarray of the
 * chunk, or the chunks it spans joined), so a UTF-8 character split across
 * chunks is decoded whole, and a reader may take bytes from it without a string.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly onLine: (line: Buffer) => void,
    private readonly onOverflow: () => void,
  ) {}

  /** Feeds a chunk. Returns false once a line overflowed; the caller must stop feeding. */
  push(chunk: Buffer): boolean {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl >= 0) {
      if (this.pendingBytes + (nl - start) > this.maxLineBytes) return this.overflow();
      let line: Buffer;
      if (this.pending.length === 0) {
        line = chunk.subarray(start, nl);
      } else {
        this.pending.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
      }
      this.emit(line);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.pendingBytes + rest.length > this.maxLineBytes) return this.overflow();
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    return true;
  }

  private emit(line: Buffer): void {
    let end = line.length;
    if (end > 0 && line[end - 1] === 13) end--; // tolerate CRLF
    if (end === 0) return; // blank lines are keep-alives, not requests
    this.onLine(end === line.length ? line : line.subarray(0, end));
  }

  private overflow(): false {
    this.pending = [];
    this.pendingBytes = 0;
    this.onOverflow();
    return false;
  }
}

/** One message as a wire line. */
export function encodeLine(message: unknown): string {
  return JSON.stringify(message) + '\n';
}
