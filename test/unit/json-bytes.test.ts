import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonStringEncoder, SLICE_BYTES, jsonStringBytes } from '../../src/protocol/json-bytes';

/**
 * The byte-level JSON string encoder against the path it replaces: decode the
 * captured bytes (Node's UTF-8 decoder, U+FFFD for invalid input), then
 * JSON.stringify, then encode. Every case compares whole outputs byte for byte.
 */

const reference = (chunks: Buffer[]) => Buffer.from(JSON.stringify(Buffer.concat(chunks).toString('utf8')));

/** Pushes the chunks (pulling in between when `interleave`), checks every slice against the bound, returns the quoted result. */
function encode(chunks: Buffer[], sliceBytes = SLICE_BYTES, interleave = false): Buffer {
  const enc = new JsonStringEncoder(sliceBytes);
  const slices: Buffer[] = [];
  const take = () => {
    for (const s of enc.drain()) {
      assert.ok(s.length > 0 && s.length <= sliceBytes, `slice of ${s.length} bytes, bound ${sliceBytes}`);
      slices.push(s); // kept as it is: a transport holds a slice until it is flushed, so later pulls must not overwrite it
    }
  };
  for (const c of chunks) {
    enc.push(c);
    if (interleave) take();
  }
  enc.end();
  take();
  assert.equal(enc.pull(), null, 'nothing after the end');
  return Buffer.concat([Buffer.from('"'), ...slices, Buffer.from('"')]);
}

function same(chunks: Buffer[], label: string, sliceBytes?: number, interleave = false): void {
  const want = reference(chunks);
  const got = encode(chunks, sliceBytes, interleave);
  if (!got.equals(want)) {
    assert.fail(`${label}: input ${Buffer.concat(chunks).toString('hex')} in chunks of ${chunks.map((c) => c.length)}\n` +
      `  got  ${got.toString('hex')}\n  want ${want.toString('hex')}`);
  }
  assert.ok(jsonStringBytes(chunks).equals(want), `${label}: one-shot`);
}

/** Every way to cut `buf` into two and into three chunks. */
function everySplit(buf: Buffer, label: string): void {
  for (let a = 0; a <= buf.length; a++) {
    same([buf.subarray(0, a), buf.subarray(a)], `${label} split at ${a}`);
    for (let b = a; b <= buf.length; b++) same([buf.subarray(0, a), buf.subarray(a, b), buf.subarray(b)], `${label} split at ${a},${b}`);
  }
}

/** Seeded PRNG (mulberry32): a failing case is reproduced from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes biased toward what a JSON string encoder can get wrong: controls, '"', '\\', continuation and lead bytes. */
function hostileBytes(rnd: () => number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    const r = rnd();
    const pick = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    buf[i] = r < 0.2 ? pick(0x00, 0x20) : r < 0.27 ? 0x22 : r < 0.34 ? 0x5c : r < 0.6 ? pick(0x80, 0xbf) : r < 0.8 ? pick(0xc0, 0xf7) : pick(0, 255);
  }
  return buf;
}

function randomChunks(rnd: () => number, buf: Buffer, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let p = 0; p < buf.length; ) {
    const q = Math.min(buf.length, p + Math.floor(rnd() * (maxChunk + 1)));
    chunks.push(buf.subarray(p, q)); // empty chunks included
    p = q;
  }
  return chunks;
}

test('the escapes are exactly JSON.stringify\'s: short forms, \\u00xx in lowercase, DEL and U+2028/U+2029 as they are', () => {
  const bytes = (s: string) => jsonStringBytes(Buffer.from(s, 'latin1')).toString('latin1');
  assert.equal(bytes('\b\f\n\r\t"\\'), '"\\b\\f\\n\\r\\t\\"\\\\"');
  assert.equal(bytes('\x00\x01\x1b\x1f'), '"\\u0000\\u0001\\u001b\\u001f"');
  assert.equal(bytes('/\x7f'), '"/\x7f"');
  assert.equal(jsonStringBytes(Buffer.from('\u2028\u2029')).toString(), '"\u2028\u2029"');
  same([Buffer.from('plain text, \u00e9\u4e2d\u{1F600} "quoted" \\ tab\there\n')], 'text');
});

test('every single byte 0x00-0xFF, alone, between letters, and repeated', () => {
  for (let b = 0; b < 256; b++) {
    same([Buffer.from([b])], `byte ${b.toString(16)}`);
    same([Buffer.from([0x61, b, 0x62])], `a ${b.toString(16)} b`);
    same([Buffer.alloc(37, b)], `37 x ${b.toString(16)}`, 64);
  }
});

test('a byte needing attention is found at every position and alignment of a long run', () => {
  const room = Buffer.alloc(80);
  for (let b = 0; b < 256; b++) {
    for (let at = 0; at < 20; at++) {
      for (let shift = 0; shift < 4; shift++) {
        room.fill('x');
        room[shift + at] = b;
        same([room.subarray(shift, shift + 60)], `byte ${b.toString(16)} at ${at}, shifted ${shift}`);
        room[shift + 40] = 0xff; // the same, in text found invalid
        same([room.subarray(shift, shift + 60)], `byte ${b.toString(16)} at ${at}, shifted ${shift}, invalid text`);
      }
    }
  }
});

test('invalid UTF-8 becomes U+FFFD per maximal subpart, as Node decodes it', () => {
  const fffd = '\u{FFFD}';
  const decoded = (bytes: number[]) => JSON.parse(jsonStringBytes(Buffer.from(bytes)).toString()) as string;
  assert.equal(decoded([0xed, 0xa0, 0x80]), fffd.repeat(3), 'a surrogate encoding: every byte replaced');
  assert.equal(decoded([0xc0, 0x80]), fffd.repeat(2), 'an overlong NUL');
  assert.equal(decoded([0xf0, 0x9f, 0x98]), fffd, 'a truncated 4-byte character: one replacement');
  assert.equal(decoded([0xf0, 0x9f, 0x41]), fffd + 'A', 'a broken sequence: the breaking byte is kept');
  assert.equal(decoded([0xf4, 0x90, 0x80, 0x80]), fffd.repeat(4), 'beyond U+10FFFF');
  const hostile = [
    [0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0x9f, 0xbf], [0xe0, 0x80, 0x80], [0xe0, 0x9f, 0xbf],
    [0xe0, 0xa0, 0x80], [0xf0, 0x80, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf],
    [0xf5, 0x80, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe, 0xff], [0xc1, 0xbf], [0xc2], [0xe2, 0x82], [0x80, 0xbf, 0x80],
    [0xc2, 0xc2, 0xa9], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28], [0x00, 0xed, 0xa0, 0x22, 0x5c, 0x0a],
  ];
  for (const h of hostile) everySplit(Buffer.from(h), `hostile ${Buffer.from(h).toString('hex')}`);
});

test('a 4-byte character cut at every chunk edge, in text and next to escapes', () => {
  everySplit(Buffer.from('a\u{1F600}b\u{10FFFF}\n'), '4-byte');
  everySplit(Buffer.from('\u{1F600}\u{1F600}\0\u00e9'), '4-byte pair');
  const emoji = Buffer.from('\u{1F600}'.repeat(4000) + 'x');
  for (let size = 1; size <= 9; size++) {
    const chunks: Buffer[] = [];
    for (let p = 0; p < emoji.length; p += size) chunks.push(emoji.subarray(p, p + size));
    same(chunks, `emoji in chunks of ${size}`, 100, true);
  }
});

test('every lead byte with boundary continuation bytes, cut at every edge', () => {
  const edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
  for (let lead = 0xc0; lead <= 0xff; lead++) {
    for (const b of edges) for (const c of edges) for (const d of edges) {
      const buf = Buffer.from([lead, b, c, d]);
      for (let cut = 0; cut <= 4; cut++) same([buf.subarray(0, cut), buf.subarray(cut)], `lead ${lead.toString(16)}`);
      same([...buf].map((x) => Buffer.from([x])), `lead ${lead.toString(16)} byte by byte`);
    }
  }
});

test('empty input, empty chunks, and push after end', () => {
  const enc = new JsonStringEncoder();
  assert.equal(enc.pull(), null);
  enc.push(Buffer.alloc(0));
  enc.end();
  assert.equal(enc.pull(), null);
  assert.equal(jsonStringBytes(Buffer.alloc(0)).toString(), '""');
  assert.equal(jsonStringBytes([]).toString(), '""');
  same([Buffer.alloc(0), Buffer.from([0xe2]), Buffer.alloc(0), Buffer.from([0x82]), Buffer.alloc(0)], 'empty chunks inside a character');
  assert.throws(() => enc.push(Buffer.from('x')), /after end/);
  assert.throws(() => new JsonStringEncoder(8), RangeError);
});

test('all NULs, in one chunk and in odd chunks, each slice within its bound', () => {
  const nuls = Buffer.alloc(1 << 20);
  same([nuls], 'NUL MiB');
  same(randomChunks(prng(7), nuls, 70_000), 'NUL MiB in chunks', 50_000, true);
  same([nuls.subarray(0, 4097)], 'NULs, small slices', 61);
});

test('5000 random hostile buffers in random chunks and slice sizes (seeded)', () => {
  const seed = Number(process.env.JSON_BYTES_SEED ?? 20261202);
  const rnd = prng(seed);
  for (let t = 0; t < 5000; t++) {
    const buf = hostileBytes(rnd, Math.floor(rnd() * (t % 10 === 0 ? 3000 : 200)));
    const sliceBytes = 48 + Math.floor(rnd() * 300);
    same(randomChunks(rnd, buf, 1 + Math.floor(rnd() * 40)), `seed ${seed} case ${t}`, sliceBytes, rnd() < 0.5);
  }
});

test('valid text with a few invalid bytes at random places, across the validation windows', () => {
  const rnd = prng(11);
  const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => ['a', '\u00e9', '\u4e2d', '\u{1F600}', '\n', '"'][i % 6]).join(''));
  for (let t = 0; t < 20; t++) {
    const buf = Buffer.from(text);
    for (let k = 0; k < t % 4; k++) buf[Math.floor(rnd() * buf.length)] = 0x80 + Math.floor(rnd() * 0x80);
    same(randomChunks(rnd, buf, 200_000), `text ${t}`, SLICE_BYTES, t % 2 === 0);
  }
});

test('8 MiB of mixed output comes in slices of at most 64 KiB, equal to the string path', () => {
  const rnd = prng(3);
  const parts: Buffer[] = [];
  for (let size = 0; size < 8 << 20; ) {
    const r = rnd();
    const part = r < 0.3 ? Buffer.from('log line with "quotes", \\ and \u00e9\u{1F600}\n'.repeat(1 + Math.floor(rnd() * 2000)))
      : r < 0.5 ? Buffer.alloc(Math.floor(rnd() * 100_000))
      : r < 0.7 ? Buffer.alloc(Math.floor(rnd() * 200_000), 'x')
      : hostileBytes(rnd, Math.floor(rnd() * 50_000));
    parts.push(part);
    size += part.length;
  }
  const all = Buffer.concat(parts);
  same(randomChunks(rnd, all, 1 << 20), '8 MiB', SLICE_BYTES, true);
  same([all], '8 MiB in one chunk', SLICE_BYTES);
});

const exhaustive = process.env.JSON_BYTES_EXHAUSTIVE === '1';
test('every 3-byte input with a high first byte, whole and byte by byte (8 M cases)', { skip: !exhaustive && 'set JSON_BYTES_EXHAUSTIVE=1 to run (about 40 s)' }, () => {
  const buf = Buffer.alloc(3);
  for (let a = 0x80; a < 0x100; a++) for (let b = 0; b < 0x100; b++) for (let c = 0; c < 0x100; c++) {
    buf[0] = a;
    buf[1] = b;
    buf[2] = c;
    const want = reference([buf]);
    if (!jsonStringBytes(buf).equals(want) || !jsonStringBytes([buf.subarray(0, 1), buf.subarray(1, 2), buf.subarray(2)]).equals(want)) {
      assert.fail(`input ${buf.toString('hex')}: got ${jsonStringBytes(buf).toString('hex')}, want ${want.toString('hex')}`);
    }
  }
});
