/** The captured text of one stream, cut at a character boundary if it was capped. */
export interface CapturedText {
  text: string;
  truncated: boolean;
  /** Every byte the command wrote to the stream, kept or not. */
  bytes: number;
  /** head_tail only: the end of the stream, after the omitted span ("" when nothing was omitted). */
  tail?: string;
  /** tail and head_tail only: bytes of the stream in neither `text` nor `tail`. */
  omitted?: number;
}

/** What a stream's result keeps of it, given `push`ed bytes. */
export interface StreamCapture {
  push(chunk: Buffer): void;
  readonly totalBytes: number;
  finish(): CapturedText;
}

/**
 * Keeps at most `cap` bytes of a stream while it is read and only counts the
 * rest, so a flood costs no memory beyond the cap.
 */
export class OutputCapture implements StreamCapture {
  private chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    const room = this.cap - this.kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get totalBytes(): number {
    return this.total;
  }

  finish(): CapturedText {
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.kept);
    this.chunks = [];
    const truncated = this.total > this.kept;
    if (truncated) buf = buf.subarray(0, utf8SafeEnd(buf));
    return { text: buf.toString('utf8'), truncated, bytes: this.total };
  }
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
