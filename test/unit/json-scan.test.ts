import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeAddon } from '../../src/native/addon';
import { runEnd, setNativeRunEnd, wordsOf } from '../../src/protocol/json-escape';
import { jsonStringBytes } from '../../src/protocol/json-bytes';

/*
 * The JSON string encoder's scan in C (native/json_scan.c) stops exactly
 * where the JavaScript one does, and the encoder's bytes with it are
 * JSON.stringify's.
 */

const { addon, error } = nativeAddon();
const skip = addon ? false : `no addon: ${error}`;

/** A deterministic generator (xorshift32), so a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Mostly bytes that need nothing, with stops (controls, quotes, backslashes, high bytes) one in `every`. */
function sample(next: () => number, length: number, every: number): Buffer {
  const stops = [0x00, 0x0a, 0x1f, 0x22, 0x5c, 0x80, 0xc3, 0xff, 0x7f, 0x20, 0x21, 0x5b, 0x5d];
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = next() * every < 1 ? stops[Math.floor(next() * stops.length)]! : 0x20 + Math.floor(next() * 0x5f);
  return b;
}

test('the C scan ends every run where the JavaScript scan does', { skip }, () => {
  const next = random(20261203);
  for (let round = 0; round < 3000; round++) {
    const every = [2, 16, 300, 5000, 1e9][round % 5]!;
    const buf = sample(next, 1 + Math.floor(next() * 3000), every);
    // Unaligned starts: a subarray of a larger buffer.
    const pad = Math.floor(next() * 8);
    const src = Buffer.concat([Buffer.alloc(pad), buf]).subarray(pad);
    const from = Math.floor(next() * src.length);
    const to = from + Math.floor(next() * (src.length - from + 1));
    for (const valid of [true, false]) {
      const js = runEnd(src, wordsOf(src), from, to, valid);
      assert.equal(addon!.jsonRunEnd(src, from, to, valid), js, `round ${round}, [${from}, ${to}) valid ${valid}: ${src.subarray(from, to).toString('hex')}`);
    }
  }
});

test('a bad call is a TypeError, not a read past the buffer', { skip }, () => {
  const b = Buffer.from('abc');
  assert.throws(() => addon!.jsonRunEnd(b, 0, 4, true), TypeError);
  assert.throws(() => addon!.jsonRunEnd(b, 2, 1, true), TypeError);
  assert.throws(() => (addon!.jsonRunEnd as (...a: unknown[]) => number)('abc', 0, 1, true), TypeError);
});

test('with the C scan, the encoder still writes what JSON.stringify writes', { skip }, () => {
  setNativeRunEnd(addon!.jsonRunEnd);
  try {
    const next = random(7);
    const texts = [
      'x'.repeat(200_000),
      `${'a'.repeat(5000)}"${'b'.repeat(5000)}\\${'c'.repeat(300)}\n`,
      `${'é'.repeat(3000)}${'€'.repeat(2000)}${'😀'.repeat(1000)}\u0000${'z'.repeat(1000)}`,
    ];
    for (const t of texts) assert.ok(jsonStringBytes(Buffer.from(t)).equals(Buffer.from(JSON.stringify(t))), t.slice(0, 40));
    for (let round = 0; round < 200; round++) {
      const bytes = sample(next, 1 + Math.floor(next() * 20_000), [3, 50, 2000, 1e9][round % 4]!);
      const want = Buffer.from(JSON.stringify(bytes.toString('utf8')));
      assert.ok(jsonStringBytes(bytes).equals(want), `round ${round}`);
    }
  } finally {
    setNativeRunEnd(null);
  }
});
