import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, encodeLine } from '../../src/protocol/ndjson';

function splitter(max = 1024) {
  const lines: string[] = [];
  let overflows = 0;
  const s = new LineSplitter(max, (l) => lines.push(l.toString('utf8')), () => overflows++);
  return { s, lines, overflows: () => overflows };
}

test('several lines in one chunk', () => {
  const { s, lines } = splitter();
  assert.equal(s.push(Buffer.from('{"a":1}\n{"b":2}\n')), true);
  assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
});

test('a line split over many chunks is delivered once, when complete', () => {
  const { s, lines } = splitter();
  s.push(Buffer.from('{"id":'));
  s.push(Buffer.from('"x","me'));
  assert.deepEqual(lines, []);
  s.push(Buffer.from('thod":"m"}\n{"second'));
  assert.deepEqual(lines, ['{"id":"x","method":"m"}']);
  s.push(Buffer.from('":1}\n'));
  assert.deepEqual(lines, ['{"id":"x","method":"m"}', '{"second":1}']);
});

test('a multi-byte character split across chunks is decoded whole', () => {
  const { s, lines } = splitter();
  const data = Buffer.from('{"t":"€😀é"}\n');
  for (let i = 0; i < data.length; i++) s.push(data.subarray(i, i + 1));
  assert.deepEqual(lines, ['{"t":"€😀é"}']);
});

test('CRLF line endings are tolerated and blank lines ignored', () => {
  const { s, lines } = splitter();
  s.push(Buffer.from('one\r\n\n\r\ntwo\n'));
  assert.deepEqual(lines, ['one', 'two']);
});

test('a line of exactly the maximum is accepted', () => {
  const { s, lines, overflows } = splitter(10);
  assert.equal(s.push(Buffer.from('0123456789\n')), true);
  assert.deepEqual(lines, ['0123456789']);
  assert.equal(overflows(), 0);
});

test('a complete line one byte over the maximum overflows', () => {
  const { s, lines, overflows } = splitter(10);
  assert.equal(s.push(Buffer.from('ok\n01234567890\n')), false);
  assert.deepEqual(lines, ['ok']);
  assert.equal(overflows(), 1);
});

test('an unfinished line overflows as soon as it passes the maximum, before any newline', () => {
  const { s, overflows } = splitter(100);
  let result = true;
  let pushed = 0;
  while (result && pushed < 10_000) {
    result = s.push(Buffer.alloc(30, 'x'));
    pushed += 30;
  }
  assert.equal(result, false);
  assert.equal(overflows(), 1);
  assert.ok(pushed <= 130, `overflow noticed only after ${pushed} bytes`);
});

test('encodeLine writes one JSON line', () => {
  const line = encodeLine({ id: 'a', ok: true, data: { s: 'x\ny' } });
  assert.ok(line.endsWith('\n'));
  assert.equal(line.indexOf('\n'), line.length - 1, 'no raw newline inside');
  assert.deepEqual(JSON.parse(line), { id: 'a', ok: true, data: { s: 'x\ny' } });
});
