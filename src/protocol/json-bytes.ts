import { isUtf8 } from 'node:buffer';
import { ESCAPE, ESCAPE_LEN, MAX_STEP, REPLACEMENT, RUN_BLOCK, escapeRunBlock, runEnd, wholeEnd, wordsOf, type Words } from './json-escape';

/**
 * A JSON string encoded straight from captured bytes: the output is exactly
 * `Buffer.from(JSON.stringify(Buffer.concat(chunks).toString('utf8')))`
 * without the quotes, yet no JS string is ever made of the content. Invalid
 * UTF-8 becomes U+FFFD per maximal subpart (the WHATWG rule Node's decoder
 * follows), a character may be split across chunks anywhere, and output comes
 * in slices of at most `sliceBytes`, one per `pull()`, so a transport can write
 * one slice and wait for 'drain' before the encoder produces the next.
 *
 * The quotes are the caller's: a string is always framed by the JSON around it
 * (`..."data":"` before, `"}` after), written as one piece with the quote.
 *
 * Input is referenced, not copied: a chunk must not change once pushed. A long
 * run that needs no escaping is handed out as a subarray of its chunk.
 */
export class JsonStringEncoder {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private src: Buffer | null = null;
  private pos = 0;
  private words: Words = NO_WORDS;
  /** src[pos, validTo) is known to be whole, valid UTF-8; multi-byte sequences there need no decoding. */
  private validTo = 0;
  /** The end of the last window of src given to isUtf8. */
  private checkedTo = 0;
  /** A sequence begun at the end of an earlier chunk: its bytes, their count, its length, the range of its next byte. */
  private readonly part = new Uint8Array(4);
  private seen = 0;
  private need = 0;
  private lower = 0x80;
  private upper = 0xbf;
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
    if (this.ended && this.need > 0 && this.src === null) {
      if (out === null) out = Buffer.allocUnsafe(REPLACEMENT.length);
      if (n + REPLACEMENT.length <= out.length) {
        n = replacement(out, n);
        this.need = 0;
      }
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

  /** Validates the next window of src from i, so valid text is scanned for escapes only. */
  private check(src: Buffer, i: number): void {
    const to = Math.min(src.length, i + CHECK_WINDOW);
    const whole = wholeEnd(src, i, to);
    this.validTo = whole > i && isUtf8(src.subarray(i, whole)) ? whole : i;
    this.checkedTo = to;
  }

  /** A long run that needs no escaping, handed out without a copy. */
  private directRun(src: Buffer): Buffer | null {
    const i = this.pos;
    if (this.need > 0) return null;
    if (i >= this.checkedTo) this.check(src, i);
    const valid = i < this.validTo;
    const j = runEnd(src, this.words, i, Math.min(valid ? this.validTo : this.checkedTo, i + this.sliceBytes), valid);
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
      if (this.need > 0) {
        this.pos = i;
        n = this.resume(src, out, n);
        i = this.pos;
        continue;
      }
      if (i >= this.checkedTo) this.check(src, i);
      const valid = i < this.validTo;
      const j = runEnd(src, this.words, i, Math.min(valid ? this.validTo : this.checkedTo, i + out.length - n), valid);
      if (j > i) {
        // A long run is left for the next pull, which hands it out without copying.
        if (j - i >= ZERO_COPY_MIN && n > 0) break;
        if (j - i < 64) for (let k = i; k < j; k++) out[n++] = src[k]!;
        else n += src.copy(out, n, i, j);
        i = j;
        continue;
      }
      const b = src[i]!;
      if (b >= 0x80) {
        this.pos = i;
        n = this.sequence(src, out, n);
        i = this.pos;
      } else if (i + 1 < end && src[i + 1] === b) {
        this.pos = i;
        n = this.escapeRun(src, out, n);
        i = this.pos;
      } else {
        const len = ESCAPE_LEN[b]!;
        const at = b * MAX_STEP;
        for (let k = 0; k < len; k++) out[n + k] = ESCAPE[at + k]!;
        n += len;
        i++;
      }
    }
    this.pos = i;
    return n;
  }

  /** The escape of src[pos] and of the same bytes after it (runs of NUL are common), copied from a precomputed run. */
  private escapeRun(src: Buffer, out: Buffer, n: number): number {
    const i = this.pos;
    const b = src[i]!;
    const len = ESCAPE_LEN[b]!;
    const max = Math.min(src.length, i + RUN_BLOCK, i + Math.floor((out.length - n) / len));
    let k = i + 1;
    while (k < max && src[k] === b) k++;
    out.set(escapeRunBlock(b).subarray(0, (k - i) * len), n);
    this.pos = k;
    return n + (k - i) * len;
  }

  /** One multi-byte sequence, or an invalid byte, at src[pos] in text not known to be valid. */
  private sequence(src: Buffer, out: Buffer, n: number): number {
    const i = this.pos;
    const b = src[i]!;
    let need: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 3;
      if (b === 0xe0) lower = 0xa0;
      else if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 4;
      if (b === 0xf0) lower = 0x90;
      else if (b === 0xf4) upper = 0x8f;
    } else {
      this.pos = i + 1;
      return replacement(out, n);
    }
    let k = 1;
    for (; k < need && i + k < src.length; k++) {
      const c = src[i + k]!;
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xbf;
    }
    this.pos = i + k;
    if (k === need) {
      for (let m = 0; m < need; m++) out[n + m] = src[i + m]!;
      return n + need;
    }
    if (i + k === src.length) {
      // The chunk ends inside the sequence: the next chunk completes or breaks it.
      for (let m = 0; m < k; m++) this.part[m] = src[i + m]!;
      this.seen = k;
      this.need = need;
      this.lower = lower;
      this.upper = upper;
      return n;
    }
    // A maximal invalid subpart: one U+FFFD; the byte that broke it starts afresh.
    return replacement(out, n);
  }

  /** Continues a sequence begun in an earlier chunk, from this.pos. */
  private resume(src: Buffer, out: Buffer, n: number): number {
    let i = this.pos;
    while (i < src.length) {
      const c = src[i]!;
      if (c < this.lower || c > this.upper) {
        n = replacement(out, n);
        this.need = 0;
        break;
      }
      this.part[this.seen++] = c;
      i++;
      this.lower = 0x80;
      this.upper = 0xbf;
      if (this.seen === this.need) {
        for (let m = 0; m < this.need; m++) out[n++] = this.part[m]!;
        this.need = 0;
        break;
      }
    }
    this.pos = i;
    return n;
  }
}

/** The default slice: what one socket write carries before the transport checks for 'drain'. */
export const SLICE_BYTES = 64 * 1024;

/** Bytes of text validated by one isUtf8 call; invalid bytes slow down only their own window. */
const CHECK_WINDOW = 64 * 1024;

/** A run at least this long is handed out as a subarray of the input instead of copied. */
const ZERO_COPY_MIN = 4096;

const NO_WORDS: Words = { words: new Int32Array(0), at: 0 };

const QUOTE = Buffer.from('"');

/** `Buffer.from(JSON.stringify(Buffer.concat(chunks).toString('utf8')))`, quotes included, without the string. */
export function jsonStringBytes(input: Buffer | readonly Buffer[]): Buffer {
  const enc = new JsonStringEncoder();
  for (const chunk of Buffer.isBuffer(input) ? [input] : input) enc.push(chunk);
  enc.end();
  return Buffer.concat([QUOTE, ...enc.drain(), QUOTE]);
}

function replacement(out: Buffer, n: number): number {
  out[n] = REPLACEMENT[0];
  out[n + 1] = REPLACEMENT[1];
  out[n + 2] = REPLACEMENT[2];
  return n + 3;
}
