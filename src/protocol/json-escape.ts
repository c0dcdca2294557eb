/**
 * The escaping half of the JSON string encoder (json-bytes.ts): which bytes a
 * JSON string cannot carry as they are, what V8's JSON.stringify writes for
 * them (so that the encoder produces its exact bytes), and how far a run of
 * bytes that need nothing goes.
 */

/** Escapes are at most 6 bytes (`\u001f`); a slice keeps this much room for one step. */
export const MAX_STEP = 6;

/** Length of byte b's escape (2 or 6); 0 when b is copied as it is. */
export const ESCAPE_LEN = new Uint8Array(256);

/** Byte b's escape at ESCAPE[b * 6 ...], as JSON.stringify writes it (short forms, else `\u00xx` in lowercase hex). */
const ESCAPE = new Uint8Array(256 * MAX_STEP);

/** 1 for a byte that ends a run in text already known to be valid UTF-8: an escaped byte. */
const STOP_VALID = new Uint8Array(256);

/** 1 for a byte that ends a run in text not yet validated: an escaped byte, or any byte of a multi-byte sequence. */
const STOP_ANY = new Uint8Array(256);

const SHORT: Record<number, string> = { 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0c: 'f', 0x0d: 'r', 0x22: '"', 0x5c: '\\' };

for (let b = 0; b < 256; b++) {
  const text = SHORT[b] !== undefined ? '\\' + SHORT[b] : b < 0x20 ? '\\u' + b.toString(16).padStart(4, '0') : '';
  ESCAPE_LEN[b] = text.length;
  for (let k = 0; k < text.length; k++) ESCAPE[b * MAX_STEP + k] = text.charCodeAt(k);
  STOP_VALID[b] = text.length > 0 ? 1 : 0;
  STOP_ANY[b] = text.length > 0 || b >= 0x80 ? 1 : 0;
}

/**
 * Writes the escape of src[i] (a byte with ESCAPE_LEN > 0) and of the same
 * bytes after it, as many as fit in out from n; returns how many bytes of src
 * it escaped. A run (NUL-heavy output is runs of `\u0000`) is one copy from a
 * precomputed block.
 */
export function escape(src: Uint8Array, i: number, out: Uint8Array, n: number): number {
  const b = src[i]!;
  const len = ESCAPE_LEN[b]!;
  const max = Math.min(src.length, i + RUN_BLOCK, i + Math.floor((out.length - n) / len));
  let k = i + 1;
  while (k < max && src[k] === b) k++;
  if (k - i >= 4) out.set(runBlock(b).subarray(0, (k - i) * len), n);
  else for (let r = i, at = b * MAX_STEP; r < k; r++) for (let m = 0; m < len; m++) out[n++] = ESCAPE[at + m]!;
  return k - i;
}

/** Repetitions in one precomputed run of the same escape. */
const RUN_BLOCK = 1024;
const runBlocks: Array<Buffer | undefined> = [];

/** Byte b's escape repeated RUN_BLOCK times, built on first use. */
function runBlock(b: number): Buffer {
  let block = runBlocks[b];
  if (block === undefined) {
    const len = ESCAPE_LEN[b]!;
    block = Buffer.allocUnsafeSlow(len * RUN_BLOCK);
    for (let r = 0; r < RUN_BLOCK; r++) block.set(ESCAPE.subarray(b * MAX_STEP, b * MAX_STEP + len), r * len);
    runBlocks[b] = block;
  }
  return block;
}

/** The 4-byte-aligned words of `src`, for scanning runs four bytes at a time, and the index in src of the first. */
export interface Words {
  words: Int32Array;
  at: number;
}

export function wordsOf(src: Buffer): Words {
  const first = (src.byteOffset + 3) & ~3;
  const count = (src.byteOffset + src.length - first) >> 2;
  if (count <= 0) return { words: new Int32Array(0), at: src.length };
  return { words: new Int32Array(src.buffer, first, count), at: first - src.byteOffset };
}

/** The same scan in C (native/json_scan.c), when the addon is there: `setNativeRunEnd`. */
type NativeRunEnd = (src: Buffer, from: number, to: number, valid: boolean) => number;
let nativeRunEnd: NativeRunEnd | null = null;
/** Bytes left in a run past which the C scan is worth its call. */
const NATIVE_FROM = 256;

/** Long runs are scanned by the addon (the daemon sets it at start; protocol/ imports nothing above it). */
export function setNativeRunEnd(scan: NativeRunEnd | null): void {
  nativeRunEnd = scan;
}

/**
 * Where the run from i ends: at the first byte before `end` that stops it (an
 * escaped byte; in text not known to be valid, also any byte ≥ 0x80). Aligned
 * words are tested four bytes at once: a byte < 0x20, equal to '"' or '\\', or
 * (when `high`) with its top bit set, makes the word stop the fast loop. A
 * long run goes to the C scan when there is one.
 */
export function runEnd(src: Buffer, w: Words, i: number, end: number, valid: boolean): number {
  const table = valid ? STOP_VALID : STOP_ANY;
  let j = i;
  // Most runs in binary output are short: the first bytes are tested one by one.
  for (const first = Math.min(end, i + 8); j < first; j++) if (table[src[j]!] !== 0) return j;
  if (nativeRunEnd !== null && end - j >= NATIVE_FROM) return nativeRunEnd(src, j, end, valid);
  while (j < end && (j < w.at || ((j - w.at) & 3) !== 0)) {
    if (table[src[j]!] !== 0) return j;
    j++;
  }
  const words = w.words;
  const high = valid ? 0 : 0x80808080 | 0;
  for (let k = (j - w.at) >> 2; j + 4 <= end; k++, j += 4) {
    const x = words[k]!;
    const q = x ^ 0x22222222;
    const s = x ^ 0x5c5c5c5c;
    if (((((x - 0x20202020) | 0) & ~x) | (((q - 0x01010101) | 0) & ~q) | (((s - 0x01010101) | 0) & ~s) | (x & high)) & 0x80808080) break;
  }
  while (j < end && table[src[j]!] === 0) j++;
  return j;
}
