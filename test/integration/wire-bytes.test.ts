import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { hostile, hostileCommand } from '../helpers/hostile-bytes';
import { RawWire } from '../helpers/raw-wire';
import { utf8SafeEnd, utf8SafeStart } from '../../src/exec/capture';

/**
 * The daemon writes results and output events from the captured bytes; the
 * lines a client reads must be the ones JSON.stringify of the decoded text
 * gave: each line equals JSON.stringify of its own parse (nothing a
 * JSON.stringify would write differently), and the text is the decoding of
 * the bytes the command wrote, cut where the capture cuts.
 */

const CAP = 262_147;
let daemon: TestDaemon;
let wire: RawWire;
let sid: string;
before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_MAX_OUTPUT_BYTES: String(CAP), TRL_DEFAULT_TIMEOUT_S: '60' } });
  wire = await RawWire.open(daemon.socketPath);
  sid = (await wire.request('s', 'session.create', {})).data.session_id;
});
after(async () => {
  wire?.close();
  await daemon?.dispose();
});

/** The raw line of the answer with this id. */
function lineOf(id: string): string {
  const line = wire.lines.find((l) => l.startsWith(`{"id":${JSON.stringify(id)},`));
  assert.ok(line, `no line for ${id}`);
  return line;
}

const SIZE = 600_001;

test('exec.run results (head, tail, head_tail; over and under the cap) are the lines JSON.stringify wrote', async () => {
  const data = hostile(SIZE, 11);
  const err = hostile(5000, 12);
  const cmd = `${hostileCommand(SIZE, 11)}; ${hostileCommand(5000, 12, 2, 999)}`;
  for (const keep of ['head', 'tail', 'head_tail'] as const) {
    const id = `run-${keep}`;
    const r = await wire.request(id, 'exec.run', { session_id: sid, command: cmd, output_keep: keep }, 60_000);
    assert.equal(r.ok, true, JSON.stringify(r).slice(0, 500));
    const line = lineOf(id);
    assert.equal(line, JSON.stringify(JSON.parse(line)), `${keep}: the line is not what JSON.stringify writes`);
    const d = r.data;
    assert.equal(d.stdout_bytes, SIZE);
    assert.equal(d.stderr, err.toString('utf8'), `${keep}: stderr under the cap is the whole decoded stream`);
    if (keep === 'head') {
      const head = data.subarray(0, CAP);
      assert.equal(d.stdout, head.subarray(0, utf8SafeEnd(head)).toString('utf8'));
    } else if (keep === 'tail') {
      const tail = data.subarray(SIZE - CAP);
      assert.equal(d.stdout, tail.subarray(utf8SafeStart(tail)).toString('utf8'));
    } else {
      const half = Math.floor(CAP / 2);
      const head = data.subarray(0, half);
      const tail = data.subarray(SIZE - (CAP - half));
      assert.equal(d.stdout, head.subarray(0, utf8SafeEnd(head)).toString('utf8'));
      assert.equal(d.stdout_tail, tail.subarray(utf8SafeStart(tail)).toString('utf8'));
      assert.equal(d.stderr_tail, '');
    }
  }
});

test('exec.stream output events: text events are the lines JSON.stringify wrote, and all events give back every byte', async () => {
  // Invalid bytes first (base64 events), then valid text with NULs and 4-byte characters across write edges.
  const data = Buffer.concat([hostile(SIZE, 21), hostile(SIZE, 22, true)]);
  const id = 'stream-1';
  const from = wire.lines.length;
  const command = `${hostileCommand(SIZE, 21, 1, 65_536)}; ${hostileCommand(SIZE, 22, 1, 30_011, true)}`;
  const r = await wire.request(id, 'exec.stream', { session_id: sid, command, lossless: true }, 60_000);
  assert.equal(r.ok, true);
  const execId = r.data.exec_id;
  assert.ok(await waitFor(() => wire.messages.some((m) => m.event === 'exit' && m.exec_id === execId), 60_000), 'no exit event');
  const parts: Buffer[] = [];
  let text = 0;
  for (const line of wire.lines.slice(from)) {
    const m = JSON.parse(line);
    if (m.exec_id !== execId || m.event !== 'output' || m.stream !== 'stdout') continue;
    assert.equal(line, JSON.stringify(m), 'an event line is not what JSON.stringify writes');
    if (m.encoding === 'base64') parts.push(Buffer.from(m.data, 'base64'));
    else {
      text++;
      parts.push(Buffer.from(m.data, 'utf8'));
    }
  }
  assert.ok(Buffer.concat(parts).equals(data), 'the events do not give back the bytes written');
  assert.ok(text > 0, 'no event was text');
});

test('a clean text event and a NUL-only result: exact lines', async () => {
  const r = await wire.request('nul', 'exec.run', { session_id: sid, command: 'head -c 200000 /dev/zero; printf "héllo 😀 \\"q\\" \\\\ end"' }, 60_000);
  const line = lineOf('nul');
  assert.equal(line, JSON.stringify(JSON.parse(line)));
  assert.equal(r.data.stdout, '\0'.repeat(200_000) + 'héllo 😀 "q" \\ end');
});

test('a finished exec lets go of its run (and so of its result text) yet exec.list still shows its pid and start', async () => {
  const r = await wire.request('fin', 'exec.run', { session_id: sid, command: 'echo done' });
  assert.equal(r.data.exit_code, 0);
  const list = await wire.request('list', 'exec.list', { session_id: sid });
  assert.ok(list.data.execs.length > 0);
  for (const e of list.data.execs) {
    assert.equal(e.state, 'exited');
    assert.ok(Number.isInteger(e.pid) && e.pid > 0, `pid ${e.pid}`);
    assert.ok(typeof e.started_at === 'string' && !Number.isNaN(Date.parse(e.started_at)), `started_at ${e.started_at}`);
  }
});
