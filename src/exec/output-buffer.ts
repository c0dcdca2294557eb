import type { StreamName } from '../protocol/events';
import { utf8SafeEnd } from './capture';
import { readBuffers } from './read-buffers';

/** A piece of one stream, whole UTF-8 characters only (unless the bytes are not UTF-8 at all). */
export interface Chunk {
  /** Arrival order across both streams. */
  seq: number;
  stream: StreamName;
  /** Byte offset of `data` within its stream. */
  offset: number;
  data: Buffer;
}

class Window {
  chunks: Chunk[] = [];
  head = 0; // index of the oldest retained chunk
  bytes = 0;
  /** Bytes written to the stream so far (the next chunk's offset). */
  total = 0;
  /** Trailing bytes of an unfinished UTF-8 character, held until the rest arrives. */
  carry: Buffer | null = null;

  get firstOffset(): number {
    return this.head < this.chunks.length ? this.chunks[this.head]!.offset : this.total;
  }
}

/**
 * The recent output of one command: per stream, the last `windowBytes`
 * bytes in chunks that never split a UTF-8 character. Older chunks are
 * dropped, so memory stays bounded however much the command writes and
 * however slowly anyone reads; readers that fall behind learn exactly how
 * many bytes they missed. A dropped chunk's read buffer is read into again
 * unless a reader took the chunk (read-buffers.ts).
 */
export class OutputBuffer {
  private seq = 0;
  private readonly windows: Record<StreamName, Window> = { stdout: new Window(), stderr: new Window() };

  constructor(
    private readonly windowBytes: number,
    private readonly onChunk: (chunk: Chunk) => void,
  ) {}

  push(stream: StreamName, data: Buffer): void {
    const w = this.windows[stream];
    if (w.carry) {
      const read = data;
      data = Buffer.concat([w.carry, read]);
      w.carry = null;
      readBuffers.release(read);
    }
    const end = utf8SafeEnd(data);
    if (end < data.length) {
      w.carry = Buffer.from(data.subarray(end));
      data = data.subarray(0, end);
    }
    if (data.length > 0) this.append(stream, w, data);
    else readBuffers.release(data);
  }

  /**
   * End of output: whatever unfinished character is left goes out as it is,
   * and what stays for late readers is copied out of the read buffers (a
   * chunk may fill a quarter of one), which go back to work.
   */
  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const w = this.windows[stream];
      if (w.carry) {
        const data = w.carry;
        w.carry = null;
        this.append(stream, w, data);
      }
      for (let i = w.head; i < w.chunks.length; i++) {
        const chunk = w.chunks[i]!;
        const kept = readBuffers.unpooled(chunk.data);
        if (kept === chunk.data) continue;
        readBuffers.release(chunk.data);
        chunk.data = kept;
      }
    }
  }

  /** Bytes held in both windows. */
  get retainedBytes(): number {
    return this.windows.stdout.bytes + this.windows.stderr.bytes;
  }

  totalBytes(stream: StreamName): number {
    return this.windows[stream].total;
  }

  /** First retained byte offset of a stream (== total when nothing is retained). */
  retainedFrom(stream: StreamName): number {
    return this.windows[stream].firstOffset;
  }

  /** Retained chunks of both streams with seq > `afterSeq`, in arrival order. */
  *since(afterSeq: number): Generator<Chunk> {
    const a = this.windows.stdout;
    const b = this.windows.stderr;
    let i = firstAfter(a, afterSeq);
    let j = firstAfter(b, afterSeq);
    while (i < a.chunks.length || j < b.chunks.length) {
      const ca = a.chunks[i];
      const cb = b.chunks[j];
      if (cb === undefined || (ca !== undefined && ca.seq < cb.seq)) {
        yield ca!;
        i++;
      } else {
        yield cb;
        j++;
      }
    }
  }

  private append(stream: StreamName, w: Window, data: Buffer): void {
    const chunk: Chunk = { seq: ++this.seq, stream, offset: w.total, data };
    w.total += data.length;
    w.chunks.push(chunk);
    w.bytes += data.length;
    while (w.bytes > this.windowBytes && w.head < w.chunks.length - 1) {
      const dropped = w.chunks[w.head]!.data;
      w.bytes -= dropped.length;
      readBuffers.release(dropped);
      w.chunks[w.head] = undefined as unknown as Chunk;
      w.head++;
    }
    if (w.head > 1024 && w.head * 2 > w.chunks.length) {
      w.chunks = w.chunks.slice(w.head);
      w.head = 0;
    }
    this.onChunk(chunk);
  }
}

function firstAfter(w: Window, seq: number): number {
  let lo = w.head;
  let hi = w.chunks.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (w.chunks[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
