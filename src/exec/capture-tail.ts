import type { OutputKeep } from '../protocol/messages';
import { OutputCapture, utf8SafeEnd, utf8SafeStart, type CapturedText, type StreamCapture } from './capture';

/**
 * The last `cap` bytes of a stream, as a queue of the chunks read: whole
 * chunks fall off the front once the rest still covers the cap, so a flood
 * holds at most the cap plus one pipe read.
 */
export class TailCapture implements StreamCapture {
  private chunks: Buffer[] = [];
  private head = 0;
  private kept = 0;
  private total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.cap <= 0) return;
    // A read larger than the whole cap is copied so the big buffer is not held.
    const part = chunk.length > this.cap ? Buffer.from(chunk.subarray(chunk.length - this.cap)) : chunk;
    this.chunks.push(part);
    this.kept += part.length;
    while (this.kept - this.chunks[this.head]!.length >= this.cap) {
      this.kept -= this.chunks[this.head]!.length;
      this.chunks[this.head++] = EMPTY;
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  get totalBytes(): number {
    return this.total;
  }

  /** The kept bytes: at most the cap, the end of the stream. */
  bytesKept(): Buffer {
    const all = Buffer.concat(this.chunks.slice(this.head), this.kept);
    this.chunks = [];
    this.head = 0;
    return all.length > this.cap ? all.subarray(all.length - this.cap) : all;
  }

  finish(): CapturedText {
    const truncated = this.total > this.cap;
    let buf = this.bytesKept();
    if (truncated) buf = buf.subarray(utf8SafeStart(buf));
    return { text: buf.toString('utf8'), truncated, bytes: this.total, omitted: this.total - buf.length };
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The first half of the cap and the last half: over the cap, `text` is the
 * head (cut before a partial character) and `tail` the end (starting after
 * one); `omitted` counts the bytes between them exactly. At or under the
 * cap, `text` is the whole stream and `tail` "".
 */
export class HeadTailCapture implements StreamCapture {
  private readonly headCap: number;
  private headChunks: Buffer[] = [];
  private headKept = 0;
  private readonly tailPart: TailCapture;
  private total = 0;

  constructor(private readonly cap: number) {
    this.headCap = Math.floor(cap / 2);
    this.tailPart = new TailCapture(cap - this.headCap);
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.headCap - this.headKept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.headChunks.push(part);
      this.headKept += part.length;
    }
    if (room < chunk.length) this.tailPart.push(room > 0 ? chunk.subarray(room) : chunk);
  }

  get totalBytes(): number {
    return this.total;
  }

  finish(): CapturedText {
    const head = Buffer.concat(this.headChunks, this.headKept);
    this.headChunks = [];
    const tail = this.tailPart.bytesKept();
    if (this.total <= this.cap) {
      // Nothing left out: head and tail are contiguous, decoded as one text.
      return { text: Buffer.concat([head, tail]).toString('utf8'), truncated: false, bytes: this.total, tail: '', omitted: 0 };
    }
    const headEnd = utf8SafeEnd(head);
    const tailStart = utf8SafeStart(tail);
    return {
      text: head.subarray(0, headEnd).toString('utf8'),
      truncated: true,
      bytes: this.total,
      tail: tail.subarray(tailStart).toString('utf8'),
      omitted: this.total - headEnd - (tail.length - tailStart),
    };
  }
}

/** The capture for a result's stream under the `output_keep` policy; `cap` 0 keeps nothing. */
export function captureFor(keep: OutputKeep, cap: number): StreamCapture {
  if (keep === 'tail') return new TailCapture(cap);
  if (keep === 'head_tail') return new HeadTailCapture(cap);
  return new OutputCapture(cap);
}
