import { isUtf8 } from 'node:buffer';
import { ESCAPE_LEN, MAX_STEP, escape, runEnd, wordsOf, type Words } from './json-escape';
import { Utf8Sequence, wholeEnd } from './utf8-sequence';

/**
 * A JSON string encoded straight from captured bytes: the output is exactly
 * `Buffer.from(JSON.stringify(Buffer.concat(chunks).toString('utf8')))`
 * without the quotes, yet no JS string is ever made of the content. Invalid
 * UTF-8 becomes U+FFFD per maximal subpart (as Node's decoder does), a
 * character may be cut by chunk edges anywhere, and output comes in slices of
 * at most `sliceBytes`, one per `pull()`, so a transport can write one slice
 * and wait for 'drain' before the encoder produces the next.
 *
 * The quotes are the caller's: a string is always framed by the JSON around it
 * (`..."data":"` before, `"}` after), each written as one piece with its quote.
 *
 * Input is referenced, not copied: a chunk must not change once pushed. A long
 * run that needs no escaping is handed out as a subarray of its chunk.
 */
export class JsonStringEncoder {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private src: Buffer | null = null;
  private pos = 0;
  private words: Words = wordsOf(Buffer.alloc(0));
  /** src[pos, validTo) is known to be whole, valid UTF-8: its multi-byte sequences need no decoding. */
  private validTo = 0;
  /** The end of the last window of src given to isUtf8. */
  private checkedTo = 0;
  private readonly seq = new Utf8Sequence();
  private ended = false;

  constructor(readonly sliceBytes = SLICE_BYTES) {
    if (!Number.isInteger(sliceBytes) || sliceBytes < 8 * MAX_STEP) {
      throw new RangeError(`JsonStringEncoder sliceBytes ${sliceBytes}: expected an integer of at least ${8 * MAX_STEP}`);
    }
  }

  push(chunk: Buffer): void {
    if (this.ended) throw new Error('JsonStringEncoder.push after end(): start a new encoder for a new string');
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** No more input: a sequence left incomplete becomes one U+FFFD, as the decoder ends it. */
  end(): void {
    this.ended = true;
  }

  /** The next slice (1..sliceBytes bytes), or null once all input pushed so far is encoded. */
  pull(): Buffer | null {
    let out: Buffer | null = null;
    let n = 0;
    for (;;) {
      if (this.src === null && !this.next()) break;
      const src = this.src!;
      if (out === null) {
        const run = this.directRun(src);
        if (run !== null) return run;
        out = Buffer.allocUnsafe(Math.min(this.sliceBytes, MAX_STEP * (src.length - this.pos + this.queued + 2)));
      }
      n = this.fill(src, out, n);
      if (this.pos < src.length) break;
      this.src = null;
    }
    if (this.ended && this.src === null && this.seq.pending) {
      out ??= Buffer.allocUnsafe(MAX_STEP);
      if (n + MAX_STEP <= out.length) n = this.seq.finish(out, n);
    }
    return n > 0 ? out!.subarray(0, n) : null;
  }

  /** Every slice available now; after end(), the rest of the string. */
  *drain(): Generator<Buffer> {
    for (let s = this.pull(); s !== null; s = this.pull()) yield s;
  }

  private next(): boolean {
    const chunk = this.queue.shift();
    if (chunk === undefined) return false;
    this.queued -= chunk.length;
    this.src = chunk;
    this.words = wordsOf(chunk);
    this.pos = this.validTo = this.checkedTo = 0;
    return true;
  }

  /** Validates the next window of src from i, so that valid text is scanned for escapes only. */
  private check(src: Buffer, i: number): void {
    const to = Math.min(src.length, i + CHECK_WINDOW);
    const whole = wholeEnd(src, i, to);
    this.validTo = whole > i && isUtf8(src.subarray(i, whole)) ? whole : i;
    this.checkedTo = to;
  }

  /** The end of the run from i that needs no escaping and no decoding, looking no further than `max`. */
  private run(src: Buffer, i: number, max: number): number {
    if (i >= this.checkedTo) this.check(src, i);
    const valid = i < this.validTo;
    return runEnd(src, this.words, i, Math.min(valid ? this.validTo : this.checkedTo, max), valid);
  }

  /** A long run that needs no escaping, handed out without a copy. */
  private directRun(src: Buffer): Buffer | null {
    const i = this.pos;
    if (this.seq.pending) return null;
    const j = this.run(src, i, i + this.sliceBytes);
    if (j - i < ZERO_COPY_MIN) return null;
    this.pos = j;
    if (j === src.length) this.src = null;
    return src.subarray(i, j);
  }

  /** Encodes src from pos into out from n until out has no room for one more step or src is done; returns the new n. */
  private fill(src: Buffer, out: Buffer, n: number): number {
    const end = src.length;
    const limit = out.length - MAX_STEP;
    let i = this.pos;
    while (i < end && n <= limit) {
      if (this.seq.pending) {
        n = this.seq.resume(src, i, out, n);
        i = this.seq.at;
        continue;
      }
      if (i >= this.checkedTo) this.check(src, i);
      const b = src[i]!;
      const len = ESCAPE_LEN[b]!;
      if (len !== 0) {
        const k = escape(src, i, out, n);
        n += k * len;
        i += k;
      } else if (b >= 0x80 && i >= this.validTo) {
        n = this.seq.start(src, i, out, n);
        i = this.seq.at;
      } else {
        const j = this.run(src, i, i + out.length - n);
        // A long run is left for the next pull, which hands it out without copying.
        if (j - i >= ZERO_COPY_MIN && n > 0) break;
        if (j - i < 64) for (let k = i; k < j; k++) out[n++] = src[k]!;
        else n += src.copy(out, n, i, j);
        i = j;
      }
    }
    this.pos = i;
    return n;
  }
}

/** The default slice: what one socket write carries before the transport checks for 'drain'. */
export const SLICE_BYTES = 64 * 1024;

/** Bytes of text validated by one isUtf8 call; an invalid byte slows down only its own window. */
const CHECK_WINDOW = 64 * 1024;

/** A run at least this long is handed out as a subarray of the input instead of copied. */
const ZERO_COPY_MIN = 4096;

const QUOTE = Buffer.from('"');

/** `Buffer.from(JSON.stringify(Buffer.concat(chunks).toString('utf8')))`, quotes included, without the string. */
export function jsonStringBytes(input: Buffer | readonly Buffer[]): Buffer {
  const enc = new JsonStringEncoder();
  for (const chunk of Buffer.isBuffer(input) ? [input] : input) enc.push(chunk);
  enc.end();
  return Buffer.concat([QUOTE, ...enc.drain(), QUOTE]);
}
