import type { OutputKeep } from '../protocol/messages';
import { JsonBytes } from '../protocol/json-text';
import { OutputCapture, asText, cutEnd, cutStart, type CapturedText, type StreamCapture } from './capture';
import { readBuffers } from './read-buffers';

/**
 * The last `cap` bytes of a stream, copied into a ring that grows (doubling)
 * up to the cap: a flood costs one copy per read into the same memory, not
 * a new buffer per read (each of which V8 must look after: a flood of them
 * made it collect its whole heap many times a second), and the read buffers
 * go back to their readers (read-buffers.ts).
 */
export class TailCapture implements StreamCapture {
  private ring = EMPTY;
  /** The oldest kept byte's index in the ring; the kept bytes run from there, wrapping at its end. */
  private start = 0;
  private kept = 0;
  private total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.cap <= 0 || chunk.length === 0) return;
    const part = chunk.length > this.cap ? chunk.subarray(chunk.length - this.cap) : chunk;
    if (this.kept + part.length > this.ring.length && this.ring.length < this.cap) {
      this.grow(Math.min(this.cap, Math.max(this.kept + part.length, 2 * this.ring.length, MIN_RING)));
    }
    const size = this.ring.length;
    const at = (this.start + this.kept) % size;
    const first = Math.min(part.length, size - at);
    part.copy(this.ring, at, 0, first);
    if (first < part.length) part.copy(this.ring, 0, first);
    const over = this.kept + part.length - size;
    if (over > 0) {
      this.start = (this.start + over) % size;
      this.kept = size;
    } else {
      this.kept += part.length;
    }
  }

  get totalBytes(): number {
    return this.total;
  }

  /** The kept bytes: at most the cap, the end of the stream. */
  bytesKept(): Buffer {
    return Buffer.concat(this.chunksKept());
  }

  /** The kept bytes as (at most two) pieces of the ring, which is let go: nothing is written into them after. */
  chunksKept(): Buffer[] {
    const { ring, start, kept } = this;
    this.ring = EMPTY;
    this.start = this.kept = 0;
    const end = start + kept;
    if (end <= ring.length) return kept > 0 ? [ring.subarray(start, end)] : [];
    return [ring.subarray(start), ring.subarray(0, end - ring.length)];
  }

  finish(): CapturedText<string> {
    return asText(this.finishBytes());
  }

  finishBytes(): CapturedText<JsonBytes> {
    const truncated = this.total > this.cap;
    let chunks = this.chunksKept();
    if (truncated) chunks = cutStart(chunks);
    const text = new JsonBytes(chunks);
    return { text, truncated, bytes: this.total, omitted: this.total - text.byteLength };
  }

  /** A bigger ring with the kept bytes in order at its start. */
  private grow(size: number): void {
    const next = Buffer.allocUnsafe(size);
    const pieces = this.chunksKept();
    let n = 0;
    for (const piece of pieces) n += piece.copy(next, n);
    this.ring = next;
    this.kept = n;
  }
}

/** A ring's first size: small outputs cost a small copy. */
const MIN_RING = 256;
const EMPTY = Buffer.alloc(0);
const NO_TEXT = new JsonBytes([]);

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
      const part = readBuffers.unpooled(chunk.length <= room ? chunk : chunk.subarray(0, room));
      this.headChunks.push(part);
      this.headKept += part.length;
    }
    if (room < chunk.length) this.tailPart.push(room > 0 ? chunk.subarray(room) : chunk);
  }

  get totalBytes(): number {
    return this.total;
  }

  finish(): CapturedText<string> {
    return asText(this.finishBytes());
  }

  finishBytes(): CapturedText<JsonBytes> {
    const head = this.headChunks;
    this.headChunks = [];
    const tail = this.tailPart.chunksKept();
    if (this.total <= this.cap) {
      // Nothing left out: head and tail are contiguous, decoded as one text.
      return { text: new JsonBytes([...head, ...tail]), truncated: false, bytes: this.total, tail: NO_TEXT, omitted: 0 };
    }
    const text = new JsonBytes(cutEnd(head));
    const tailText = new JsonBytes(cutStart(tail));
    return { text, truncated: true, bytes: this.total, tail: tailText, omitted: this.total - text.byteLength - tailText.byteLength };
  }
}

/** The capture for a result's stream under the `output_keep` policy; `cap` 0 keeps nothing. */
export function captureFor(keep: OutputKeep, cap: number): StreamCapture {
  if (keep === 'tail') return new TailCapture(cap);
  if (keep === 'head_tail') return new HeadTailCapture(cap);
  return new OutputCapture(cap);
}
