import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEvent } from '../../src/protocol/encode';
import { outputBytes, outputDataLength, type OutputEvent } from '../../src/protocol/events';
import { JsonBytes } from '../../src/protocol/json-text';
import { readOutputLine } from '../../src/protocol/output-line';

/*
 * An output event read from its bytes (the client's streaming path) is what
 * JSON.parse of the same line gives — members, order, values, and the bytes
 * outputBytes returns — for the lines the daemon writes from any output;
 * any other shape is left to JSON.parse.
 */

/** The daemon's wire line for `bytes` as an output event (as the watcher builds it). */
function daemonLine(bytes: Buffer, extra: Record<string, unknown> = {}): Buffer {
  const line = encodeEvent({ event: 'output', exec_id: 'e61d6117-2f60-43e4-90bf-e9cc2f964843', stream: 'stdout', offset: 4096, data: new JsonBytes([bytes]), ...extra });
  return Buffer.concat(typeof line === 'string' ? [Buffer.from(line)] : line).subarray(0, -1);
}

function same(line: Buffer): OutputEvent {
  const expected = JSON.parse(line.toString('utf8')) as OutputEvent;
  const ev = readOutputLine(Buffer.from(line));
  assert.ok(ev, `read from its bytes: ${line.subarray(0, 80).toString()}`);
  assert.deepEqual(Object.keys(ev), Object.keys(expected), 'the same members, in the same order');
  assert.deepEqual({ ...ev }, expected);
  assert.deepEqual(outputBytes(ev), outputBytes(expected));
  assert.equal(outputDataLength(ev), Buffer.byteLength(expected.data, expected.encoding === 'base64' ? 'latin1' : 'utf8'));
  return ev;
}

/** Bytes of every kind a command writes: text, lines, quotes and backslashes, control bytes, NULs, 2-4 byte characters, invalid UTF-8. */
function hostile(seed: number, length: number): Buffer {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
  const pieces = ['plain text ', '\n', '"quoted"', '\\', '\\"', '\\\\n', '\t\r\b\f', '\0', '\x1b[31m', 'é', '✓', '😀', '\u2028', '/', '\x7f'];
  const parts: Buffer[] = [];
  let n = 0;
  while (n < length) {
    const r = rnd();
    const p = r < 0.08 ? Buffer.from([0x80 + Math.floor(rnd() * 0x80)]) : r < 0.1 ? Buffer.from([0xed, 0xa0, 0x80]) : Buffer.from(pieces[Math.floor(rnd() * pieces.length)]!);
    parts.push(p);
    n += p.length;
  }
  return Buffer.concat(parts);
}

test('a text flood is read as a subarray of its line, equal to JSON.parse', () => {
  const ev = same(daemonLine(Buffer.alloc(131072, 'x')));
  assert.equal(outputBytes(ev).length, 131072);
  assert.equal(outputBytes(ev), outputBytes(ev), 'the same bytes at each call, not a copy');
});

test('output with every kind of byte, as the daemon escapes it, reads as JSON.parse reads it', () => {
  for (let seed = 1; seed <= 300; seed++) same(daemonLine(hostile(seed, 1024 + (seed % 7) * 3000)));
});

test('escapes the daemon does not write but JSON allows: \\/, \\u of every width, upper-case hex, surrogate pairs', () => {
  const data = 'a\\/b\\u0041\\u00e9\\u00E9\\u2713\\ud83d\\ude00\\uD83D\\uDE00 end'.repeat(80);
  same(Buffer.from(`{"event":"output","exec_id":"e","stream":"stderr","offset":0,"data":"${data}"}`));
});

test('base64 events: data stays the text sent, outputBytes its decoding', () => {
  const raw = Buffer.alloc(4000, 0xff);
  const line = Buffer.from(JSON.stringify({ event: 'output', exec_id: 'e', stream: 'stdout', offset: 0, data: raw.toString('base64'), encoding: 'base64' }));
  assert.deepEqual(outputBytes(same(line)), raw);
});

test('base64 of any length decodes as the whole text does; text that is not only base64 characters too', () => {
  for (const n of [769, 770, 771, 73727, 73728, 73729, 131072, 300001]) {
    const raw = Buffer.alloc(n);
    for (let i = 0; i < n; i++) raw[i] = (i * 7919) & 0xff;
    const line = Buffer.from(JSON.stringify({ event: 'output', exec_id: 'e', stream: 'stdout', offset: 0, data: raw.toString('base64'), encoding: 'base64' }));
    assert.deepEqual(outputBytes(same(line)), raw, `${n} bytes`);
  }
  const b64 = Buffer.alloc(200000, 0xab).toString('base64');
  for (const odd of [`${b64.slice(0, 98300)} ${b64.slice(98300)}`, `${b64.slice(0, 98304)}==${b64.slice(98304)}`, `${b64}\\n`]) {
    same(Buffer.from(`{"event":"output","exec_id":"e","stream":"stdout","offset":0,"data":"${odd}","encoding":"base64"}`));
  }
});

test('data is made once asked for, can be set, and spreads and serialises as a plain member', () => {
  const line = daemonLine(Buffer.from('héllo\n'.repeat(400)));
  const ev = readOutputLine(Buffer.from(line))!;
  assert.equal(ev.data, 'héllo\n'.repeat(400));
  assert.equal(JSON.stringify(ev), JSON.stringify(JSON.parse(line.toString())));
  ev.data = 'changed';
  assert.equal(ev.data, 'changed');
  assert.deepEqual(outputBytes(ev), Buffer.from('changed'));
});

test('other shapes are left to JSON.parse, the line untouched; a bad escape in data is a SyntaxError, as JSON.parse gives', () => {
  const data = 'y'.repeat(2000);
  const left = [
    `{"event":"output", "exec_id":"e","data":"${data}"}`, // whitespace
    `{"event":"output","exec_id":"e","extra":{"a":1},"data":"${data}"}`, // nested
    `{"event":"output","exec_id":"e","data":"${data}","tail":[1]}`,
    `{"event":"output","exec_id":"e","d\\u0061ta":"${data}"}`, // an escaped key
    `{"event":"output","exec_id":"e","__proto__":"x","data":"${data}"}`,
    `{"event":"output","exec_id":7,"data":"${data}"}`, // no exec id string
    `{"event":"output","exec_id":"e","stream":"stdout"}`, // no data
    `{"event":"output","exec_id":"e","data":"${data}`, // unterminated
    `{"event":"output","exec_id":"e","data":"${data}"}x`,
    `{"event":"exit","exec_id":"e","data":"${data}"}`,
    `{"event":"output","exec_id":"e","n":01,"data":"${data}"}`,
    `{"event":"output","exec_id":"e","data":"short"}`, // below the size worth it
  ];
  for (const text of left) {
    const line = Buffer.from(text);
    assert.equal(readOutputLine(line), null, text.slice(0, 60));
    assert.equal(line.toString(), text, 'untouched');
  }
  // As the client reads a line: from its bytes, else as JSON; either way a bad escape is a SyntaxError.
  for (const bad of ['\\x', '\\u12', '\\u12G4', '\\']) {
    const text = `{"event":"output","exec_id":"e","data":"${data}${bad}"}`;
    assert.throws(() => JSON.parse(text), SyntaxError);
    assert.throws(() => {
      const line = Buffer.from(text);
      return readOutputLine(line) ?? JSON.parse(line.toString());
    }, SyntaxError, bad);
  }
});

test('invalid UTF-8 inside data (no daemon sends it) reads as U+FFFD, as JSON.parse of the line as text does', () => {
  same(Buffer.concat([Buffer.from(`{"event":"output","exec_id":"e","data":"${'z'.repeat(1500)}`), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('\\n tail"}')]));
});

test('a lone surrogate escaped in data reads as U+FFFD, as its bytes always did', () => {
  const line = Buffer.from(`{"event":"output","exec_id":"e","data":"${'w'.repeat(1500)}\\ud800 and \\udc00"}`);
  const ev = readOutputLine(Buffer.from(line))!;
  assert.deepEqual(outputBytes(ev), outputBytes(JSON.parse(line.toString())));
  assert.equal(ev.data, `${'w'.repeat(1500)}\ufffd and \ufffd`);
});

test('a small event inside a large read is copied out, so the read can go', () => {
  const line = daemonLine(Buffer.alloc(2000, 'q'));
  const read = Buffer.concat([Buffer.alloc(60000, '\n'), line]);
  const ev = readOutputLine(read.subarray(60000))!;
  assert.ok(outputBytes(ev).buffer.byteLength <= 8192, 'at most a slice of Buffer\'s 8 KiB pool');
});
