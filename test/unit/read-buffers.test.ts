import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readBuffers } from '../../src/exec/read-buffers';
import { OutputBuffer } from '../../src/exec/output-buffer';
import { OutputCapture } from '../../src/exec/capture';
import { HeadTailCapture, TailCapture } from '../../src/exec/capture-tail';
import { Outbox } from '../../src/server/outbox';

/** A read into one of the shared buffers, as FdReader hands it over: `text` at its start. */
function readChunk(text: string): Buffer {
  const buffer = readBuffers.take();
  buffer.write(text);
  return readBuffers.handedOver(buffer, Buffer.byteLength(text));
}

/** Takes every free buffer, so the next take() is the one given back next (or a new one). */
function drainFree(): void {
  while (readBuffers.freeCount > 0) readBuffers.take();
}

test('a chunk the window drops goes back and is read into again; one a follower\'s write holds goes back once the write is done', () => {
  drainFree();
  const output = new OutputBuffer(8, () => {});
  const first = readChunk('aaaaaaaa');
  output.push('stdout', first);
  output.push('stdout', readChunk('bbbbbbbb')); // the window (8 bytes) drops the first
  assert.equal(readBuffers.freeCount, 1);
  assert.equal(readBuffers.take().buffer, first.buffer, 'the dropped chunk’s buffer is the next one read into');

  const second = [...output.since(0)][0]!.data;
  const written = readBuffers.hold(second.subarray(2)); // a follower's event line refers to its bytes
  output.push('stdout', readChunk('cccccccc'));
  assert.equal(readBuffers.freeCount, 0, 'dropped by the window, still held by the write');
  written();
  assert.equal(readBuffers.freeCount, 1, 'given back once the write is done');
  written();
  assert.equal(readBuffers.freeCount, 1, 'a write is done once');
  assert.equal(readBuffers.take().buffer, second.buffer);
});

test('a chunk goes back only when the window and every write that holds it are done with it, in any order', () => {
  for (const windowFirst of [true, false]) {
    drainFree();
    const output = new OutputBuffer(8, () => {});
    const chunk = readChunk('dddddddd');
    output.push('stdout', chunk);
    const a = readBuffers.hold(chunk);
    const b = readBuffers.hold(chunk);
    if (windowFirst) output.push('stdout', readChunk('eeeeeeee'));
    a();
    assert.equal(readBuffers.freeCount, 0);
    b();
    assert.equal(readBuffers.freeCount, windowFirst ? 1 : 0, 'the window still holds it');
    if (!windowFirst) output.push('stdout', readChunk('eeeeeeee'));
    assert.equal(readBuffers.freeCount, 1);
    output.flush(); // copies the remaining chunk out: its buffer goes back too
    drainFree();
  }
});

test('a hold on a chunk that is not one of ours (a copy, a carried character) changes nothing', () => {
  drainFree();
  const done = readBuffers.hold(Buffer.from('not pooled'));
  done();
  assert.equal(readBuffers.freeCount, 0);
});

test('tail captures keep copies, so a buffer read into again changes nothing they hold', () => {
  drainFree();
  for (const capture of [new TailCapture(64), new HeadTailCapture(64)]) {
    const chunk = readChunk('kept bytes');
    capture.push(chunk);
    const output = new OutputBuffer(1, () => {});
    output.push('stdout', chunk);
    output.push('stdout', readChunk('x')); // drops the chunk: its buffer goes back
    readBuffers.take().fill(0x21); // and is read into again
    assert.equal(capture.finish().text, 'kept bytes', capture.constructor.name);
  }
});

test('a head capture keeps its chunks in their read buffers: the buffer goes back once the result is released and no write holds it', () => {
  drainFree();
  const capture = new OutputCapture(64);
  const chunk = readChunk('kept bytes');
  capture.push(chunk);
  const output = new OutputBuffer(1, () => {});
  output.push('stdout', chunk);
  output.push('stdout', readChunk('x')); // the window drops the chunk
  assert.equal(readBuffers.freeCount, 0, 'the capture still holds it');
  const { text } = capture.finishBytes();
  assert.equal(text.chunks[0]!.buffer, chunk.buffer, 'not copied');
  const written = readBuffers.hold(text.chunks[0]!); // the answer's piece, not yet handed to the kernel
  text.release!();
  assert.equal(readBuffers.freeCount, 0, 'the write still holds it');
  written();
  assert.equal(readBuffers.freeCount, 1);
  text.release!(); // more calls change nothing
  assert.equal(readBuffers.freeCount, 1);
  drainFree();

  const viaString = new OutputCapture(64);
  const other = readChunk('as a string');
  viaString.push(other);
  readBuffers.release(other);
  assert.equal(viaString.finish().text, 'as a string');
  assert.equal(readBuffers.freeCount, 1, 'finish() copies the text out and lets the buffer go');
  drainFree();

  const small = new OutputCapture(64);
  small.push(Buffer.from('not one of ours'));
  assert.equal(small.finishBytes().text.release, undefined, 'nothing to give back');
});

test('an answer written from a result\'s read buffers: each piece is held until its write is done, the result released once the line is out', async () => {
  drainFree();
  const text = 'y'.repeat(100_000); // over the size an answer is encoded whole at
  const capture = new OutputCapture(1 << 20);
  const chunk = readChunk(text);
  capture.push(chunk);
  readBuffers.release(chunk); // the window let go
  const stdout = capture.finishBytes().text;
  const writes: { data: string | Buffer; done?: () => void }[] = [];
  const box = new Outbox(
    {
      write: (data, done) => (writes.push({ data, done }), true),
      writableLength: 0,
      open: true,
      drained: () => Promise.resolve(),
      abort: () => {},
    },
    (err) => assert.fail(String(err)),
    () => {},
  );
  box.push({ id: 1, ok: true, data: { stdout } });
  while (!box.idle) await new Promise((r) => setImmediate(r));
  const line = Buffer.concat(writes.map((w) => (typeof w.data === 'string' ? Buffer.from(w.data) : w.data))).toString();
  assert.equal(JSON.parse(line).data.stdout, text);
  const held = writes.filter((w) => typeof w.data !== 'string' && w.data.buffer === chunk.buffer);
  assert.ok(held.length > 0, 'the output went out as the read buffer\'s bytes');
  assert.equal(readBuffers.freeCount, 0, 'released, but the transport still has the pieces');
  for (const w of held) w.done!();
  assert.equal(readBuffers.freeCount, 1, 'given back once the transport is done with every piece');
  drainFree();
});

test('the end of output copies what the window keeps out of the read buffers and gives them back; a given-back buffer goes back once', () => {
  drainFree();
  const output = new OutputBuffer(64, () => {});
  const chunk = readChunk('the last output');
  output.push('stdout', chunk);
  output.flush();
  assert.equal(readBuffers.freeCount, 1, 'given back');
  const kept = [...output.since(0)][0]!.data;
  assert.notEqual(kept.buffer, chunk.buffer);
  readBuffers.take().fill(0x21);
  assert.equal(kept.toString(), 'the last output');

  readBuffers.release(chunk); // already given back: nothing happens
  assert.equal(readBuffers.freeCount, 0, 'never twice in the free list (two readers would share it)');
});

test('a chunk cut by a character edge: the concatenation is a copy and the read buffer goes back at once', () => {
  drainFree();
  const output = new OutputBuffer(64, () => {});
  const euro = Buffer.from('€');
  const a = readBuffers.take();
  euro.copy(a, 0, 0, 1);
  output.push('stdout', readBuffers.handedOver(a, 1)); // one byte of three: carried
  const b = readBuffers.take();
  euro.copy(b, 0, 1);
  const second = readBuffers.handedOver(b, 2);
  output.push('stdout', second);
  assert.equal([...output.since(0)].map((c) => c.data.toString()).join(''), '€');
  assert.ok(readBuffers.freeCount >= 1, 'the second read’s buffer is free again');
});
