import { JsonStringEncoder, SLICE_BYTES } from './json-bytes';

/**
 * Captured bytes that go on the wire as one JSON string: their UTF-8
 * decoding (invalid sequences as U+FFFD), encoded straight from the bytes by
 * the line encoder (`encode.ts`), so a multi-MiB result never becomes a JS
 * string. `JSON.stringify` still sees the decoded string (toJSON), with the
 * very same bytes, so code that encodes a message the ordinary way, or a test
 * that compares, needs nothing special.
 *
 * The chunks are referenced, not copied: they must not change afterwards.
 * `release`, when given, lets their buffers be read into again
 * (src/exec/read-buffers.ts): the one writer of the answer that carries them
 * calls it once every slice has been handed over, each held by its write.
 * Nobody else calls it; unreleased, the buffers go to the collector.
 */
export class JsonBytes {
  readonly byteLength: number;

  /**
   * `plain`: the bytes are ASCII that JSON carries as it is (base64 text), so they are written without
   * being scanned; the caller vouches for it.
   */
  constructor(
    readonly chunks: readonly Buffer[],
    readonly plain = false,
    readonly release?: () => void,
  ) {
    let n = 0;
    for (const c of chunks) n += c.length;
    this.byteLength = n;
  }

  /** The JSON string's content without its quotes, in slices of at most `sliceBytes`, produced one per step. */
  *slices(sliceBytes = SLICE_BYTES): Generator<Buffer> {
    if (this.plain) {
      for (const c of this.chunks) for (let i = 0; i < c.length; i += sliceBytes) yield c.subarray(i, i + sliceBytes);
      return;
    }
    const enc = new JsonStringEncoder(sliceBytes);
    for (const c of this.chunks) enc.push(c);
    enc.end();
    yield* enc.drain();
  }

  toString(): string {
    if (this.chunks.length === 1) return this.chunks[0]!.toString('utf8');
    return Buffer.concat(this.chunks as Buffer[], this.byteLength).toString('utf8');
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Text of a message: a string, or bytes the line encoder writes as the same JSON string. */
export type WireText = string | JsonBytes;

/** A wire type whose string fields may be given as JsonBytes (what the daemon builds; clients parse plain strings). */
export type WithBytes<T> = { [K in keyof T]: string extends T[K] ? T[K] | JsonBytes : T[K] };
