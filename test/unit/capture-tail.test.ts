import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utf8SafeStart } from '../../src/exec/capture';
import { HeadTailCapture, TailCapture, captureFor } from '../../src/exec/capture-tail';

const b = (...parts: (string | number[] | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

/** Pushes `data` in pieces of `step` bytes (1 = every byte its own read). */
function feed(c: { push(chunk: Buffer): void }, data: Buffer, step: number): void {
  for (let i = 0; i < data.length; i += step) c.push(data.subarray(i, i + step));
}

test('utf8SafeStart skips the continuation bytes of a character whose lead was cut off', () => {
  const smile = Buffer.from('😀'); // f0 9f 98 80
  assert.equal(utf8SafeStart(b('abc')), 0);
  assert.equal(utf8SafeStart(b('€x')), 0);
  assert.equal(utf8SafeStart(b(smile.subarray(1), 'x')), 3);
  assert.equal(utf8SafeStart(b(smile.subarray(3), 'x')), 1);
  assert.equal(utf8SafeStart(b(Buffer.from('€').subarray(2), 'x')), 1);
  assert.equal(utf8SafeStart(b([0x80, 0x80, 0x80, 0x80, 0x41])), 0, 'four continuation bytes are not a cut character: left to the decoder');
  assert.equal(utf8SafeStart(b([0x80, 0x80])), 2, 'only continuation bytes: nothing whole is left');
});

test('TailCapture under the cap keeps everything; over it, the last cap bytes', () => {
  const small = new TailCapture(100);
  feed(small, Buffer.from('hello world'), 3);
  assert.deepEqual(small.finish(), { text: 'hello world', truncated: false, bytes: 11, omitted: 0 });

  const c = new TailCapture(10);
  feed(c, Buffer.from('0123456789abcdefghij-end'), 4);
  assert.deepEqual(c.finish(), { text: 'efghij-end', truncated: true, bytes: 24, omitted: 14 });
});

test('TailCapture never starts inside a character and counts the skipped bytes as omitted', () => {
  for (const ch of ['é', '€', '😀']) {
    const size = Buffer.byteLength(ch);
    for (let into = 1; into < size; into++) {
      // the tail's first byte is `into` bytes into the character
      const data = Buffer.from('x'.repeat(20) + ch + 'tail');
      const cap = size - into + 4;
      for (const step of [1, 3, 64]) {
        const c = new TailCapture(cap);
        feed(c, data, step);
        const r = c.finish();
        assert.equal(r.text, 'tail', `${ch} cut ${into} bytes in, reads of ${step}`);
        assert.equal(r.bytes, data.length);
        assert.equal(r.omitted, data.length - 4);
      }
    }
  }
});

test('TailCapture holds at most the cap plus one read during a flood', () => {
  const c = new TailCapture(4096);
  const chunk = Buffer.alloc(65536, 'q');
  for (let i = 0; i < 500; i++) c.push(chunk);
  c.push(Buffer.from('THE END'));
  const r = c.finish();
  assert.equal(Buffer.byteLength(r.text), 4096);
  assert.ok(r.text.endsWith('THE END'));
  assert.equal(r.bytes, 500 * 65536 + 7);
  assert.equal(r.omitted, r.bytes - 4096);
});

test('TailCapture copies a read bigger than the cap instead of holding it', () => {
  const c = new TailCapture(8);
  const big = Buffer.alloc(1 << 20, 'z');
  big.write('ABCDEFGH', big.length - 8);
  c.push(big);
  assert.deepEqual(c.finish(), { text: 'ABCDEFGH', truncated: true, bytes: 1 << 20, omitted: (1 << 20) - 8 });
});

test('HeadTailCapture at or under the cap returns one whole text, even across the half', () => {
  for (const step of [1, 2, 5, 100]) {
    const c = new HeadTailCapture(10);
    feed(c, Buffer.from('abcd€efg'), step); // 10 bytes, € straddles the half
    assert.deepEqual(c.finish(), { text: 'abcd€efg', truncated: false, bytes: 10, tail: '', omitted: 0 });
  }
});

test('HeadTailCapture over the cap: first half, last half, and exactly what lies between', () => {
  const data = Buffer.from('HEAD-' + 'm'.repeat(1000) + '-TAIL');
  for (const step of [1, 7, 4096]) {
    const c = new HeadTailCapture(10);
    feed(c, data, step);
    const r = c.finish();
    assert.equal(r.text, 'HEAD-');
    assert.equal(r.tail, '-TAIL');
    assert.equal(r.truncated, true);
    assert.equal(r.bytes, data.length);
    assert.equal(r.omitted, 1000);
  }
});

test('HeadTailCapture cuts both halves on character boundaries; omitted covers the cut bytes', () => {
  // cap 8: the head's 4 bytes end 2 bytes into "€" → "ab"; the tail's 4 bytes are "😀" exactly
  const data = Buffer.from('ab€' + 'x'.repeat(50) + 'y😀');
  const c = new HeadTailCapture(8);
  feed(c, data, 1);
  const r = c.finish();
  assert.equal(r.text, 'ab');
  assert.equal(r.tail, '😀');
  assert.equal(r.omitted, data.length - 2 - 4);

  const d = Buffer.from('abc' + 'x'.repeat(50) + '€zz'); // the tail's 4 bytes start 1 byte into "€"
  const c2 = new HeadTailCapture(8);
  feed(c2, d, 3);
  const r2 = c2.finish();
  assert.equal(r2.text, 'abcx');
  assert.equal(r2.tail, 'zz');
  assert.equal(r2.omitted, d.length - 4 - 2);
  assert.ok(!r2.tail!.includes('\ufffd') && !r2.text.includes('\ufffd'));
});

test('HeadTailCapture with invalid bytes: replaced, never thrown, and the count stays exact', () => {
  const data = b([0xff, 0xfe], 'ok', 'x'.repeat(100), [0xc3], 'end', [0xff]);
  const c = new HeadTailCapture(10);
  feed(c, data, 2);
  const r = c.finish();
  assert.ok(r.text.startsWith('\ufffd\ufffdok'));
  assert.ok(r.tail!.endsWith('end\ufffd'));
  // head 5 raw bytes kept whole (ff fe o k x), tail 5 raw bytes (c3 e n d ff)
  assert.equal(r.omitted, data.length - 5 - 5);
});

test('HeadTailCapture in a flood keeps only its two halves', () => {
  const c = new HeadTailCapture(4096);
  c.push(Buffer.from('FIRST LINE\n'));
  const chunk = Buffer.alloc(65536, '.');
  for (let i = 0; i < 500; i++) c.push(chunk);
  c.push(Buffer.from('error: the last line\n'));
  const r = c.finish();
  assert.ok(r.text.startsWith('FIRST LINE\n'));
  assert.equal(Buffer.byteLength(r.text), 2048);
  assert.ok(r.tail!.endsWith('error: the last line\n'));
  assert.equal(Buffer.byteLength(r.tail!), 2048);
  assert.equal(r.omitted, r.bytes - 4096);
});

test('captureFor head keeps v1 behaviour (no tail, no omitted field)', () => {
  const c = captureFor('head', 4);
  c.push(Buffer.from('abcdef'));
  assert.deepEqual(c.finish(), { text: 'abcd', truncated: true, bytes: 6 });
});

test('TailCapture keeps exactly the last cap bytes whatever the reads (its ring grows, wraps and is read in order)', () => {
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 300; round++) {
    const cap = 1 + Math.floor(next() * 5000);
    const c = new TailCapture(cap);
    const all: Buffer[] = [];
    const reads = Math.floor(next() * 40);
    for (let i = 0; i < reads; i++) {
      const chunk = Buffer.alloc(Math.floor(next() * (next() < 0.1 ? 3 * cap : cap / 3 + 1)));
      for (let k = 0; k < chunk.length; k++) chunk[k] = 0x41 + Math.floor(next() * 26);
      all.push(chunk);
      c.push(chunk);
    }
    const whole = Buffer.concat(all);
    assert.equal(c.totalBytes, whole.length);
    assert.ok(c.bytesKept().equals(whole.subarray(Math.max(0, whole.length - cap))), `round ${round}: cap ${cap}, ${reads} reads, ${whole.length} bytes`);
  }
});
