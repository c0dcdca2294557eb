import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utf8SafeEnd, utf8SafeStart, type CapturedText } from '../../src/exec/capture';
import { captureFor } from '../../src/exec/capture-tail';
import { buildOutcome, type RunFacts } from '../../src/exec/outcome';
import { encodeEvent, encodeLinePieces, writeLine } from '../../src/protocol/encode';
import { JsonBytes } from '../../src/protocol/json-text';
import type { OutputKeep } from '../../src/protocol/messages';
import { execResult } from '../../src/server/to-wire';
import { hostile } from '../helpers/hostile-bytes';

/**
 * The answer written from the captured bytes is, byte for byte, the line the
 * daemon wrote when it decoded them first: JSON.stringify of the object with
 * the decoded text. Hostile bytes, every chunking, every keep policy, caps
 * that cut inside characters, answers small (one piece) and large (sliced).
 */

/** Cuts `buf` into chunks of pseudo-random sizes from 1 to `max` bytes (so every edge falls somewhere). */
function chunked(buf: Buffer, max: number, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let x = seed;
  for (let i = 0; i < buf.length; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const n = 1 + ((x >>> 8) % max);
    chunks.push(buf.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

function facts(stdout: RunFacts['stdout'], stderr: RunFacts['stderr']): RunFacts {
  return {
    exit: { code: 0, signal: null },
    reportedCode: 3,
    durationMs: 12,
    timeout: null,
    cancelSignal: null,
    cpuLimited: false,
    usage: null,
    stdout,
    stderr,
  };
}

/** What a capture gave before it kept chunks: the whole stream concatenated, cut, then decoded (the former code, restated). */
function decodedBefore(keep: OutputKeep, cap: number, chunks: Buffer[]): CapturedText<string> {
  const all = Buffer.concat(chunks);
  const total = all.length;
  if (keep === 'head') {
    let kept = all.subarray(0, cap);
    if (total > cap) kept = kept.subarray(0, utf8SafeEnd(kept));
    return { text: kept.toString('utf8'), truncated: total > cap, bytes: total };
  }
  if (keep === 'tail') {
    let kept = cap <= 0 ? all.subarray(total) : all.subarray(Math.max(0, total - cap));
    if (total > cap) kept = kept.subarray(utf8SafeStart(kept));
    return { text: kept.toString('utf8'), truncated: total > cap, bytes: total, omitted: total - kept.length };
  }
  const headCap = Math.floor(cap / 2);
  const head = all.subarray(0, Math.min(headCap, total));
  const rest = all.subarray(head.length);
  const tail = cap - headCap <= 0 ? rest.subarray(rest.length) : rest.subarray(Math.max(0, rest.length - (cap - headCap)));
  if (total <= cap) return { text: all.toString('utf8'), truncated: false, bytes: total, tail: '', omitted: 0 };
  const headEnd = utf8SafeEnd(head);
  const tailStart = utf8SafeStart(tail);
  const text = head.subarray(0, headEnd).toString('utf8');
  return { text, truncated: true, bytes: total, tail: tail.subarray(tailStart).toString('utf8'), omitted: total - headEnd - (tail.length - tailStart) };
}

/** The answer line both ways: written from the bytes (new) and JSON.stringify of the decoded object (as before). */
function bothWays(keep: OutputKeep, cap: number, out: Buffer[], err: Buffer[]): { bytes: Buffer; old: string; pieces: number } {
  const capture = { out: captureFor(keep, cap), err: captureFor(keep, cap) };
  for (const chunk of out) capture.out.push(chunk);
  for (const chunk of err) capture.err.push(chunk);
  const fromBytes = execResult(buildOutcome(facts(capture.out.finishBytes(), capture.err.finishBytes())));
  const decoded = execResult(buildOutcome(facts(decodedBefore(keep, cap, out), decodedBefore(keep, cap, err))));
  assert.ok(fromBytes.stdout instanceof JsonBytes, 'the result carries the captured bytes');
  const parts = [...encodeLinePieces({ id: 'r-1', ok: true, data: fromBytes })];
  const bytes = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
  return { bytes, old: JSON.stringify({ id: 'r-1', ok: true, data: decoded }) + '\n', pieces: parts.length };
}

const KEEPS: OutputKeep[] = ['head', 'tail', 'head_tail'];

test('small answers: the same bytes as JSON.stringify of the decoded text, every policy, cuts inside characters', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const data = hostile(40 + seed * 7, seed);
    for (const keep of KEEPS) {
      for (const cap of [0, 1, 2, 3, 5, 17, 64, 1000]) {
        for (const max of [1, 3, 9, 4096]) {
          const { bytes, old } = bothWays(keep, cap, chunked(data, max, seed), chunked(hostile(30, seed + 99), max, seed + 1));
          assert.equal(bytes.toString('latin1'), Buffer.from(old).toString('latin1'), `seed ${seed} ${keep} cap ${cap} chunks ≤ ${max}`);
        }
      }
    }
  }
});

test('large answers (written in slices): the same bytes, and no piece larger than a slice', () => {
  for (const keep of KEEPS) {
    for (const [size, cap] of [
      [300_000, 1 << 20], // whole
      [600_000, 262_147], // truncated, cut inside characters
    ] as const) {
      const data = hostile(size, size + cap);
      const { bytes, old, pieces } = bothWays(keep, cap, chunked(data, 65_536, 7), chunked(Buffer.alloc(size / 3), 65_536, 8));
      assert.ok(pieces > 8, `${keep}: ${pieces} pieces`);
      assert.ok(bytes.equals(Buffer.from(old)), `${keep} ${size} cap ${cap}: the line differs`);
    }
  }
  const nul = Buffer.alloc(1 << 20);
  const parts = [...encodeLinePieces({ id: 'n', ok: true, data: { stdout: new JsonBytes([nul]) } })];
  for (const p of parts) assert.ok(Buffer.byteLength(p) <= 64 * 1024, `a piece of ${Buffer.byteLength(p)} bytes`);
  assert.ok(Buffer.concat(parts.map((p) => Buffer.from(p))).equals(Buffer.from(JSON.stringify({ id: 'n', ok: true, data: { stdout: nul.toString() } }) + '\n')));
});

test('output events written from the bytes are the lines JSON.stringify wrote, small and large', () => {
  for (let seed = 1; seed <= 40; seed++) {
    for (const size of [1, 100, 1023, 1024, 5000, 65_536]) {
      const chunk = hostile(size, seed);
      const event = { event: 'output', exec_id: 'e-1', stream: 'stdout', offset: seed * 1000, data: new JsonBytes([chunk]) };
      const line = encodeEvent(event);
      const old = JSON.stringify({ ...event, data: chunk.toString('utf8') }) + '\n';
      const bytes = typeof line === 'string' ? Buffer.from(line) : Buffer.concat(line);
      assert.ok(bytes.equals(Buffer.from(old)), `seed ${seed} size ${size}`);
    }
  }
});

test('a base64 output event written from the bytes of its text is the line JSON.stringify wrote, and writeLine hands its pieces over in order', () => {
  for (const size of [1, 700, 1023, 1024, 5000, 65_536, 200_000]) {
    const b64 = hostile(size, size).toString('base64');
    const event = { event: 'output', exec_id: 'e-1', stream: 'stdout', offset: 7, data: new JsonBytes([Buffer.from(b64, 'latin1')], true), encoding: 'base64' };
    const want = Buffer.from(JSON.stringify({ ...event, data: b64 }) + '\n');
    const written: Buffer[] = [];
    let corked = 0;
    writeLine({ write: (d) => (written.push(Buffer.from(d)), true), cork: () => corked++, uncork: () => corked-- }, encodeEvent(event));
    assert.equal(corked, 0);
    assert.ok(Buffer.concat(written).equals(want), `size ${size}`);
  }
});
