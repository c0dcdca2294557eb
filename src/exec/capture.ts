import { JsonBytes, type WireText } from '../protocol/json-text';
import { readBuffers } from './read-buffers';

/**
 * The captured text of one stream, cut at a character boundary if it was
 * capped: as a string (`finish`), or as the kept bytes themselves
 * (`finishBytes`, what a result is written from: the same JSON string).
 */
export interface CapturedText<T extends WireText = WireText> {
  text: T;
  truncated: boolean;
  /** Every byte the command wrote to the stream, kept or not. */
  bytes: number;
  /** head_tail only: the end of the stream, after the omitted span ("" when nothing was omitted). */
  tail?: T;
  /** tail and head_tail only: bytes of the stream in neither `text` nor `tail`. */
  omitted?: number;
}

/** What a stream's result keeps of it, given `push`ed bytes. */
export interface StreamCapture {
  push(chunk: Buffer): void;
  readonly totalBytes: number;
  finish(): CapturedText<string>;
  finishBytes(): CapturedText<JsonBytes>;
}

/** The same capture decoded: JsonBytes as the string JSON.stringify would see. */
export function asText(c: CapturedText<JsonBytes>): CapturedText<string> {
  const { tail, ...rest } = c;
  return tail === undefined ? { ...rest, text: c.text.toString() } : { ...rest, text: c.text.toString(), tail: tail.toString() };
}

/**
 * Keeps at most `cap` bytes of a stream while it is read and only counts the
 * rest, so a flood costs no memory beyond the cap.
 */
export class OutputCapture implements StreamCapture {
  private chunks: Buffer[] = [];
  /** The kept chunks that are read buffers (read-buffers.ts): they go back once the answer carrying them is written. */
  private holds: (() => void)[] = [];
  private kept = 0;
  private total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    const hold = readBuffers.keep(part);
    if (hold) this.holds.push(hold);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get totalBytes(): number {
    return this.total;
  }

  finish(): CapturedText<string> {
    const bytes = this.finishBytes();
    const text = asText(bytes);
    bytes.text.release?.();
    return text;
  }

  finishBytes(): CapturedText<JsonBytes> {
    let chunks = this.chunks;
    this.chunks = [];
    const truncated = this.total > this.kept;
    if (truncated) chunks = cutEnd(chunks);
    return { text: new JsonBytes(chunks, false, releaseAll(this.takeHolds())), truncated, bytes: this.total };
  }

  private takeHolds(): (() => void)[] {
    const holds = this.holds;
    this.holds = [];
    return holds;
  }
}

/** One call lets every hold go (each lets go once); undefined when there are none. */
function releaseAll(holds: (() => void)[]): (() => void) | undefined {
  if (holds.length === 0) return undefined;
  return () => {
    for (const hold of holds) hold();
  };
}

/** The chunks cut as utf8SafeEnd cuts their concatenation (it looks at the last four bytes only). */
export function cutEnd(chunks: Buffer[]): Buffer[] {
  const last = edgeBytes(chunks, false);
  let drop = last.length - utf8SafeEnd(last);
  const out = chunks.slice();
  while (drop > 0) {
    const c = out.pop()!;
    if (c.length > drop) out.push(c.subarray(0, c.length - drop));
    drop -= Math.min(drop, c.length);
  }
  return out;
}

/** The chunks cut as utf8SafeStart cuts their concatenation (it looks at the first four bytes only). */
export function cutStart(chunks: Buffer[]): Buffer[] {
  let drop = utf8SafeStart(edgeBytes(chunks, true));
  const out = chunks.slice();
  while (drop > 0) {
    const c = out.shift()!;
    if (c.length > drop) out.unshift(c.subarray(drop));
    drop -= Math.min(drop, c.length);
  }
  return out;
}

/** Up to four bytes at the start (or end) of the chunks' concatenation. */
function edgeBytes(chunks: Buffer[], start: boolean): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; i < chunks.length && n < 4; i++) {
    const c = chunks[start ? i : chunks.length - 1 - i]!;
    const part = start ? c.subarray(0, 4 - n) : c.subarray(Math.max(0, c.length - (4 - n)));
    if (start) parts.push(part);
    else parts.unshift(part);
    n += part.length;
  }
  return Buffer.concat(parts, n);
}

/**
 * Where to cut a buffer so that its last UTF-8 character is whole: if the tail
 * holds the start of a multi-byte sequence without all its continuation bytes,
 * cut before that start. Invalid bytes are left for the decoder to replace.
 */
export function utf8SafeEnd(buf: Buffer): number {
  const end = buf.length;
  for (let i = end - 1; i >= 0 && i >= end - 4; i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b < 0xc2 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : b < 0xf5 ? 4 : 1;
    return end - i < need ? i : end;
  }
  return end;
}

/**
 * Where to start a buffer so that its first UTF-8 character is whole: skip
 * the continuation bytes (at most three) of a character whose lead byte was
 * cut off. Longer runs are invalid anyway and are left to the decoder.
 */
export function utf8SafeStart(buf: Buffer): number {
  let i = 0;
  while (i < 3 && i < buf.length && (buf[i]! & 0xc0) === 0x80) i++;
  return i < buf.length && (buf[i]! & 0xc0) === 0x80 ? 0 : i;
}
