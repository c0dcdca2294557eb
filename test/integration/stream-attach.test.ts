import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, waitFor, withDaemonAndClient } from '../helpers/daemon';
import { collectStream, outputBytes, type StreamEvent, type TrlClient } from '../../src/client/client';

/**
 * exec.attach: resuming after a disconnect without losing a byte inside the
 * retention window, an explicit gap beyond it, late attach after exit,
 * several readers at once.
 */

const WINDOW = 64 * 1024;
let daemon: TestDaemon;
let client: TrlClient;
// A default timeout well below the tests' own, so that a test that waits in vain fails instead of hanging.
withDaemonAndClient({ env: { TRL_STREAM_WINDOW_BYTES: String(WINDOW), TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

async function session(c: TrlClient = client): Promise<string> {
  return (await c.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
}

/** What `seq A B` prints. */
const seq = (a: number, b: number): string => {
  let s = '';
  for (let i = a; i <= b; i++) s += `${i}\n`;
  return s;
};

async function execInfo(execId: string) {
  const e = (await client.execs()).find((x) => x.exec_id === execId);
  assert.ok(e, `exec ${execId} is listed`);
  return e;
}

function assertSameBytes(got: Buffer, want: Buffer, what: string): void {
  if (got.equals(want)) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  assert.fail(`${what}: ${got.length} bytes, expected ${want.length}; first difference at byte ${i}`);
}

test('attach after a disconnect mid-stream resumes at the offset consumed: no byte lost or repeated inside the retention window', async () => {
  const part1 = seq(1, 5000);
  const part2 = seq(5001, 10000);
  const part3 = seq(10001, 12000);
  const full = Buffer.from(part1 + part2 + part3);
  assert.ok(full.length < WINDOW, 'the test output fits the window');

  const c1 = await daemon.connect();
  const s = await c1.stream({ session_id: await session(c1), command: 'seq 1 5000; read x; seq 5001 10000; read y; seq 10001 12000', stdin_open: true });
  // The first reader takes one event, then vanishes.
  const it = s.events[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  const ev = first.value as StreamEvent;
  assert.equal(ev.event, 'output');
  const consumed = outputBytes(ev as Parameters<typeof outputBytes>[0]);
  assert.equal((ev as { offset: number }).offset, 0);
  c1.destroy();

  // More output while nobody is attached.
  await client.input(s.execId, 'go\n');
  assert.ok(await waitFor(async () => (await execInfo(s.execId)).stdout_bytes === Buffer.byteLength(part1 + part2)), 'part 2 written');

  const c2 = await daemon.connect();
  const a = await c2.attach(s.execId, { stdout: consumed.length, stderr: 0 });
  assert.equal(a.response.state, 'running');
  assert.deepEqual(a.response.retained.stdout, { from: 0, to: Buffer.byteLength(part1 + part2) });
  const collecting = collectStream(a.events, { from: { stdout: consumed.length } });
  await client.input(s.execId, 'go\n', true);
  const got = await collecting;
  assert.deepEqual(got.gaps, [], 'nothing missing inside the window');
  assert.equal(got.exit?.exit_code, 0);
  assertSameBytes(Buffer.concat([consumed, got.stdout]), full, 'first reader + second reader');
  assert.equal(got.exit?.stdout_bytes, full.length);
  c2.close();
});

test('attach from an offset older than the window: an explicit gap for exactly the bytes no longer retained, then the rest', async () => {
  const big = seq(1, 60000); // ~340 KB, well beyond the 64 KiB window
  const s = await client.stream({ session_id: await session(), command: 'seq 1 60000; read x; echo end', stdin_open: true });
  // This reader reads nothing; another connection follows from the start.
  assert.ok(await waitFor(async () => (await execInfo(s.execId)).stdout_bytes === Buffer.byteLength(big)), 'all written');
  const c2 = await daemon.connect();
  const a = await c2.attach(s.execId);
  const retained = a.response.retained.stdout;
  assert.equal(retained.to, Buffer.byteLength(big));
  assert.ok(retained.from > 0, 'the start has left the window');
  assert.ok(retained.to - retained.from <= WINDOW + 65536, `retained ${retained.to - retained.from} bytes: about one window`);
  const it = a.events[Symbol.asyncIterator]();
  const firstEv = (await it.next()).value as StreamEvent;
  assert.deepEqual(firstEv, { event: 'gap', exec_id: s.execId, stream: 'stdout', from: 0, to: retained.from, missed_bytes: retained.from });
  const collecting = collectStream({ [Symbol.asyncIterator]: () => it }, { from: { stdout: retained.from } });
  await client.input(s.execId, '\n', true);
  const got = await collecting;
  assert.deepEqual(got.gaps, [], 'one gap only');
  assertSameBytes(got.stdout, Buffer.from(big + 'end\n').subarray(retained.from), 'the retained part and what followed');
  c2.close();
  // The first reader (this connection, never consumed) gets everything it can plus one gap, and the exit.
  const own = await collectStream(s.events);
  assert.equal(own.exit?.exit_code, 0);
  const missed = own.gaps.reduce((n, g) => n + g.missed_bytes, 0);
  assert.equal(own.stdout.length + missed, Buffer.byteLength(big + 'end\n'), 'received + missed = written');
});

test('attach from an offset inside the window replays from exactly there', async () => {
  const text = seq(1, 3000);
  const s = await client.stream({ session_id: await session(), command: 'seq 1 3000' });
  await collectStream(s.events);
  const from = 1234;
  const a = await client.attach(s.execId, { stdout: from });
  const got = await collectStream(a.events, { from: { stdout: from } });
  assert.equal(got.stdout.toString(), text.slice(from));
  assert.deepEqual(got.gaps, []);
});

test('late attach after exit returns the real exit status, the retained output, and the exit as the last event', async () => {
  const cases = [
    { command: 'echo hi; echo oops >&2; exit 7', exit_code: 7, signal: null, timed_out: false, out: 'hi\n', err: 'oops\n' },
    { command: 'echo bye; kill -TERM $$', exit_code: 143, signal: 'SIGTERM', timed_out: false, out: 'bye\n', err: '' },
    { command: 'echo slow; sleep 30', timeout_s: 0.3, exit_code: 143, signal: 'SIGTERM', timed_out: true, out: 'slow\n', err: '' },
  ];
  for (const c of cases) {
    const c1 = await daemon.connect();
    const s = await c1.stream({ session_id: await session(c1), command: c.command, ...(c.timeout_s ? { timeout_s: c.timeout_s } : {}) });
    c1.destroy(); // gone before reading anything
    assert.ok(await waitFor(async () => (await execInfo(s.execId)).state === 'exited', 10_000), `${c.command} ended`);
    const a = await client.attach(s.execId);
    assert.equal(a.response.state, 'exited');
    assert.equal(a.response.exit_code, c.exit_code);
    const got = await collectStream(a.events);
    assert.equal(got.stdout.toString(), c.out, c.command);
    assert.equal(got.stderr.toString(), c.err, c.command);
    assert.equal(got.events.at(-1)?.event, 'exit');
    assert.equal(got.exit?.exit_code, c.exit_code, c.command);
    assert.equal(got.exit?.signal, c.signal, c.command);
    assert.equal(got.exit?.timed_out, c.timed_out, c.command);
    // A second late attach gets the same again.
    const again = await collectStream((await client.attach(s.execId)).events);
    assert.equal(again.exit?.exit_code, c.exit_code);
    assert.equal(again.stdout.toString(), c.out);
  }
});

test('several attachers at once each get the whole output and the exit', async () => {
  const s = await client.stream({ session_id: await session(), command: 'for i in $(seq 1 40); do echo "line $i"; echo "err $i" >&2; sleep 0.02; done; exit 3' });
  const readers = await Promise.all([daemon.connect(), daemon.connect(), daemon.connect()]);
  const attached = await Promise.all(readers.map((r) => r.attach(s.execId)));
  const results = await Promise.all([collectStream(s.events), ...attached.map((a) => collectStream(a.events))]);
  const wantOut = Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`).join('');
  const wantErr = Array.from({ length: 40 }, (_, i) => `err ${i + 1}\n`).join('');
  for (const r of results) {
    assert.equal(r.stdout.toString(), wantOut);
    assert.equal(r.stderr.toString(), wantErr);
    assert.equal(r.exit?.exit_code, 3);
    assert.deepEqual(r.gaps, []);
  }
  for (const r of readers) r.close();
});

test('the client refuses a second reader of the same exec on one connection; a second connection is the way', async () => {
  const s = await client.stream({ session_id: await session(), command: 'sleep 0.3; echo x' });
  await assert.rejects(client.attach(s.execId), /already followed on this connection/);
  const got = await collectStream(s.events);
  assert.equal(got.stdout.toString(), 'x\n');
  // Once its exit came, the same connection may attach again.
  const again = await collectStream((await client.attach(s.execId)).events);
  assert.equal(again.stdout.toString(), 'x\n');
});
