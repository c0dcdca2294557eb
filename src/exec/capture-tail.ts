import type { OutputKeep } from '../protocol/messages';
import { JsonBytes } from '../protocol/json-text';
import { readBuffers } from './read-buffers';
import { OutputCapture, asText, cutEnd, cutStart, type CapturedText, type StreamCapture } from './capture';

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
    const part = chunk.length > this.cap ? Buffer.from(chunk.subarray(chunk.length - this.cap)) : readBuffers.unpooled(chunk);
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
    return Buffer.concat(this.chunksKept());
  }

  /** The kept chunks (no copy): at most the cap, the end of the stream. */
  chunksKept(): Buffer[] {
    const chunks = this.chunks.slice(this.head);
    this.chunks = [];
    this.head = 0;
    if (this.kept > this.cap) chunks[0] = chunks[0]!.subarray(this.kept - this.cap);
    return chunks;
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
}

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
