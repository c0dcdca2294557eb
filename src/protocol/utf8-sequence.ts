/**
 * UTF-8 decoding of the bytes the JSON string encoder cannot prove valid in
 * bulk (json-bytes.ts), by the WHATWG rule Node's decoder follows: a valid
 * sequence is kept as it is, each maximal invalid subpart becomes one U+FFFD,
 * and the byte that broke a sequence is decoded afresh. A sequence may be cut
 * by the end of a chunk; its bytes wait here for the next chunk.
 */
export class Utf8Sequence {
  /** The index in src after the bytes the last call read. */
  at = 0;
  private readonly part = new Uint8Array(4);
  private seen = 0;
  private need = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** Whether a sequence begun in an earlier chunk waits for its next byte. */
  get pending(): boolean {
    return this.need > 0;
  }

  /** The sequence whose lead byte (≥ 0x80) is src[i], written to out at n (at most 4 bytes); returns the new n. */
  start(src: Uint8Array, i: number, out: Uint8Array, n: number): number {
    const b = src[i]!;
    const need = NEED[b]!;
    if (need === 0) {
      this.at = i + 1;
      return replacement(out, n);
    }
    // Tables, not branches: in binary output the lead bytes come in no predictable order.
    let lower = LOWER[b]!;
    let upper = UPPER[b]!;
    let k = 1;
    for (; k < need && i + k < src.length; k++) {
      const c = src[i + k]!;
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xbf;
    }
    this.at = i + k;
    if (k === need) {
      for (let m = 0; m < need; m++) out[n + m] = src[i + m]!;
      return n + need;
    }
    if (i + k < src.length) return replacement(out, n);
    for (let m = 0; m < k; m++) this.part[m] = src[i + m]!;
    this.seen = k;
    this.need = need;
    this.lower = lower;
    this.upper = upper;
    return n;
  }

  /** Continues the pending sequence with src from i (at most 4 bytes written); returns the new n. */
  resume(src: Uint8Array, i: number, out: Uint8Array, n: number): number {
    for (; i < src.length; ) {
      const c = src[i]!;
      if (c < this.lower || c > this.upper) {
        this.need = 0;
        n = replacement(out, n);
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
    this.at = i;
    return n;
  }

  /** The end of input: a pending sequence becomes one U+FFFD (3 bytes written); returns the new n. */
  finish(out: Uint8Array, n: number): number {
    if (this.need === 0) return n;
    this.need = 0;
    return replacement(out, n);
  }
}

/** By lead byte: the length of its sequence (0: a byte no valid sequence starts with), and the range of the byte after it. */
const NEED = new Uint8Array(256);
const LOWER = new Uint8Array(256).fill(0x80);
const UPPER = new Uint8Array(256).fill(0xbf);
NEED.fill(2, 0xc2, 0xe0);
NEED.fill(3, 0xe0, 0xf0);
NEED.fill(4, 0xf0, 0xf5);
LOWER[0xe0] = 0xa0; // shorter forms are overlong
UPPER[0xed] = 0x9f; // ED A0..BF encode surrogates
LOWER[0xf0] = 0x90; // overlong
UPPER[0xf4] = 0x8f; // beyond U+10FFFF

/** U+FFFD REPLACEMENT CHARACTER in UTF-8, written to out at n; returns the new n. */
function replacement(out: Uint8Array, n: number): number {
  out[n] = 0xef;
  out[n + 1] = 0xbf;
  out[n + 2] = 0xbd;
  return n + 3;
}

/**
 * Where the last whole character of src[from, to) ends: `to`, unless a
 * multi-byte sequence starting in the last three bytes would end beyond it.
 * Only lead bytes are read; whether the sequence is valid is isUtf8's concern.
 */
export function wholeEnd(src: Uint8Array, from: number, to: number): number {
  for (let k = 1; k <= 3 && to - k >= from; k++) {
    const b = src[to - k]!;
    if (b < 0x80) return to;
    if (b >= 0xc0) return (b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2) > k ? to - k : to;
  }
  return to;
}
