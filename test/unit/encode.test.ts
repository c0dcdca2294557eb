import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LazyList, PIECE_CHARS, encodeLinePieces } from '../../src/protocol/encode';
import { Outbox, SEND_HIGH_WATER, type OutboxTarget } from '../../src/server/outbox';

/** The piecewise encoder: the same JSON as JSON.stringify, never one piece much larger than PIECE_CHARS. */

const pieces = (m: unknown) => [...encodeLinePieces(m)];

test('a small message is one piece, byte for byte JSON.stringify plus a newline', () => {
  const m = { id: 'a', ok: true, data: { uptime_s: 3, list: [1, 'x', null, { y: true }] } };
  assert.deepEqual(pieces(m), [JSON.stringify(m) + '\n']);
});

test('a large message comes in bounded pieces that parse back to the same value', () => {
  const emoji = '\u{1F600}'.repeat(PIECE_CHARS); // surrogate pairs across every slice boundary
  const control = '\u0001'.repeat(3 * PIECE_CHARS + 7);
  const m = { id: 7, ok: true, data: { stdout: control, stderr: emoji, when: new Date(0), skip: undefined, n: [1, 2] } };
  const p = pieces(m);
  assert.ok(p.length > 4, `${p.length} pieces`);
  for (const piece of p) assert.ok(piece.length <= 7 * PIECE_CHARS, `piece of ${piece.length} chars`);
  const line = p.join('');
  assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
  assert.deepEqual(JSON.parse(line), JSON.parse(JSON.stringify(m)));
});

test('a LazyList is produced item by item, and JSON.stringify still sees an array', () => {
  let produced = 0;
  const list = new LazyList(function* () {
    for (let i = 0; i < 3; i++) {
      produced++;
      yield { i, text: 'x'.repeat(PIECE_CHARS) };
    }
  });
  const gen = encodeLinePieces({ id: 'l', ok: true, data: { execs: list } });
  const first = gen.next().value as string;
  assert.ok(produced < 3, `all ${produced} items produced before the first piece was taken`);
  const answer = JSON.parse(first + [...gen].join(''));
  assert.deepEqual(answer.data.execs.map((e: { i: number }) => e.i), [0, 1, 2]);
  assert.equal(JSON.parse(JSON.stringify({ execs: list })).execs.length, 3);
});

/** A transport stand-in that records what was written and can be made to "drain". */
class Target implements OutboxTarget {
  written: string[] = [];
  writableLength = 0;
  open = true;
  aborted = false;
  private waiters: (() => void)[] = [];
  write(data: string): boolean {
    this.written.push(data);
    this.writableLength += data.length;
    return this.writableLength < SEND_HIGH_WATER;
  }
  drained(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  drain(): void {
    this.writableLength = 0;
    for (const w of this.waiters.splice(0)) w();
  }
  abort(): void {
    this.aborted = true;
    this.open = false;
  }
}

test('the outbox writes nothing while the transport holds SEND_HIGH_WATER, and resumes on drain', async () => {
  const t = new Target();
  const errors: unknown[] = [];
  const box = new Outbox(t, (e) => errors.push(e), () => {});
  let after = 0;
  box.push({ id: 'big', ok: true, data: { stdout: '\u0001'.repeat(2 * SEND_HIGH_WATER) } }, () => after++);
  box.push({ id: 'small', ok: true, data: {} });
  // It lets the loop go round between slices of one answer: a few turns until the transport is full.
  for (let i = 0; i < 20 && !box.blocked; i++) await new Promise((r) => setImmediate(r));
  const heldBytes = t.writableLength;
  assert.ok(heldBytes < SEND_HIGH_WATER + 7 * PIECE_CHARS, `held ${heldBytes}`);
  assert.equal(after, 0);
  assert.ok(box.blocked);
  for (let i = 0; i < 100 && !box.idle; i++) {
    t.drain();
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(box.idle);
  assert.equal(after, 1);
  const lines = t.written.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id), ['big', 'small']);
  assert.equal(lines[0].data.stdout.length, 2 * SEND_HIGH_WATER);
  assert.deepEqual(errors, []);
});

test('a big answer to a client that reads as fast as it is written lets the event loop go round between its slices', async () => {
  const t = new Target();
  t.write = (data: string) => {
    t.written.push(data);
    return true; // the kernel took it all: never a reason to wait for 'drain'
  };
  const box = new Outbox(t, () => {}, () => {});
  let turns = 0;
  box.push({ id: 'big', ok: true, data: { stdout: 'x'.repeat(4 * 1024 * 1024) } });
  const counting = setInterval(() => turns++, 0);
  while (!box.idle) await new Promise((r) => setImmediate(r));
  clearInterval(counting);
  assert.equal(JSON.parse(t.written.join('')).data.stdout.length, 4 * 1024 * 1024);
  assert.ok(turns >= 4, `timers ran ${turns} times while 4 MiB were written (one turn per 256 KiB at most)`);
});

test('an answer that cannot be encoded is answered INTERNAL_ERROR, and the next answer still goes out', async () => {
  const t = new Target();
  const errors: unknown[] = [];
  const box = new Outbox(t, (e) => errors.push(e), () => {});
  box.push({ id: 'bad', ok: true, data: { n: 10n } });
  box.push({ id: 'next', ok: true, data: {} });
  await new Promise((r) => setImmediate(r));
  const lines = t.written.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(lines[0].id, 'bad');
  assert.equal(lines[0].ok, false);
  assert.equal(lines[0].error.code, 'INTERNAL_ERROR');
  assert.equal(lines[1].id, 'next');
  assert.equal(errors.length, 1);
  assert.equal(t.aborted, false);
});
