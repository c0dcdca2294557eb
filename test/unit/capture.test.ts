import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputCapture, utf8SafeEnd } from '../../src/exec/capture';

const b = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

test('utf8SafeEnd keeps complete text whole', () => {
  for (const s of ['', 'abc', 'a€', 'é', '日本語', 'x😀', '😀']) {
    const buf = Buffer.from(s);
    assert.equal(utf8SafeEnd(buf), buf.length, JSON.stringify(s));
  }
});

test('utf8SafeEnd cuts before a multi-byte character missing its continuation bytes', () => {
  const euro = Buffer.from('€'); // e2 82 ac
  const smile = Buffer.from('😀'); // f0 9f 98 80
  const e = Buffer.from('é'); // c3 a9
  assert.equal(utf8SafeEnd(b('ab', [e[0]!])), 2);
  assert.equal(utf8SafeEnd(b('ab', [euro[0]!])), 2);
  assert.equal(utf8SafeEnd(b('ab', [euro[0]!, euro[1]!])), 2);
  assert.equal(utf8SafeEnd(b('ab', [smile[0]!])), 2);
  assert.equal(utf8SafeEnd(b('ab', [smile[0]!, smile[1]!])), 2);
  assert.equal(utf8SafeEnd(b('ab', [smile[0]!, smile[1]!, smile[2]!])), 2);
  assert.equal(utf8SafeEnd(b([euro[0]!, euro[1]!])), 0, 'nothing but a partial character');
});

test('utf8SafeEnd leaves invalid bytes for the decoder instead of eating text', () => {
  assert.equal(utf8SafeEnd(b('ab', [0xff])), 3);
  assert.equal(utf8SafeEnd(b('ab', [0x80, 0x80])), 4, 'stray continuation bytes after ASCII');
  assert.equal(utf8SafeEnd(b([0x80, 0x80, 0x80, 0x80, 0x80])), 5, 'only continuation bytes');
  assert.equal(utf8SafeEnd(b('ab', [0xc0])), 3, 'overlong lead byte is invalid, not partial');
});

test('OutputCapture under the cap keeps everything and is not truncated', () => {
  const c = new OutputCapture(1024);
  c.push(Buffer.from('hello '));
  c.push(Buffer.from('world'));
  assert.deepEqual(c.finish(), { text: 'hello world', truncated: false, bytes: 11 });
});

test('OutputCapture with nothing pushed', () => {
  assert.deepEqual(new OutputCapture(10).finish(), { text: '', truncated: false, bytes: 0 });
});

test('OutputCapture exactly at the cap is not truncated', () => {
  const c = new OutputCapture(8);
  c.push(Buffer.from('1234'));
  c.push(Buffer.from('5678'));
  assert.deepEqual(c.finish(), { text: '12345678', truncated: false, bytes: 8 });
});

test('OutputCapture ending exactly at the cap with a multi-byte character keeps it whole', () => {
  const c = new OutputCapture(5);
  c.push(Buffer.from('ab€'));
  assert.deepEqual(c.finish(), { text: 'ab€', truncated: false, bytes: 5 });
});

test('OutputCapture cut never splits a character straddling the cap; bytes counts everything', () => {
  for (const ch of ['é', '€', '😀']) {
    const size = Buffer.byteLength(ch);
    for (let before = 1; before < size; before++) {
      // the cap falls `before` bytes into the character
      const cap = 10 + before;
      const c = new OutputCapture(cap);
      c.push(Buffer.from('a'.repeat(10)));
      c.push(Buffer.from(ch + 'tail'));
      const r = c.finish();
      assert.equal(r.text, 'a'.repeat(10), `${ch} cut ${before} bytes in`);
      assert.equal(r.truncated, true);
      assert.equal(r.bytes, 10 + size + 4);
      assert.ok(!r.text.includes('\ufffd'));
    }
  }
});

test('OutputCapture truncated at a character boundary keeps the whole character', () => {
  const c = new OutputCapture(6);
  c.push(Buffer.from('abc€z'));
  assert.deepEqual(c.finish(), { text: 'abc€', truncated: true, bytes: 7 });
});

test('OutputCapture decodes a character split across chunks', () => {
  const all = Buffer.from('x€y😀z');
  const c = new OutputCapture(1024);
  for (let i = 0; i < all.length; i++) c.push(all.subarray(i, i + 1));
  assert.deepEqual(c.finish(), { text: 'x€y😀z', truncated: false, bytes: all.length });
});

test('OutputCapture keeps at most the cap however much is pushed', () => {
  const c = new OutputCapture(4096);
  const chunk = Buffer.alloc(65536, 'q');
  for (let i = 0; i < 200; i++) c.push(chunk);
  assert.equal(c.totalBytes, 200 * 65536);
  const r = c.finish();
  assert.equal(r.text.length, 4096);
  assert.equal(r.truncated, true);
  assert.equal(r.bytes, 200 * 65536);
});

test('OutputCapture turns invalid UTF-8 into replacement characters without throwing', () => {
  const c = new OutputCapture(1024);
  c.push(b([0xff, 0xfe], 'ok', [0xc0]));
  const r = c.finish();
  assert.ok(r.text.includes('ok'));
  assert.ok(r.text.includes('\ufffd'));
  assert.equal(r.bytes, 5);
  assert.equal(r.truncated, false);
});
