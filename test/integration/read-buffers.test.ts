import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDaemonAndClient, waitFor, type TestDaemon } from '../helpers/daemon';
import { outputBytes, type StreamEvent, type TrlClient } from '../../src/client/client';
import { RawWire } from '../helpers/raw-wire';

/*
 * A flooding command's output is read into buffers that are read into again
 * once the output window drops their chunk (src/exec/read-buffers.ts). Every
 * byte anyone is given must still be the command's: the result's start, a
 * slow follower's events (with gaps where it fell behind), and what a late
 * attacher finds in the window after the command ended.
 */

const WINDOW = 256 * 1024;
const KEEP = 1024 * 1024;
const LINES = 2_000_000;
let daemon: TestDaemon;
let client: TrlClient;
withDaemonAndClient({ env: { TRL_STREAM_WINDOW_BYTES: String(WINDOW), TRL_MAX_OUTPUT_BYTES: String(KEEP), TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

/** What `seq 1 n | tr '\n' ' '` prints: one line, so that events are written from the read chunks themselves (no escapes to copy them). */
function seqBytes(n: number): Buffer {
  const parts: string[] = [];
  for (let i = 1; i <= n; i++) parts.push(`${i} `);
  return Buffer.from(parts.join(''));
}

function assertSlice(got: Buffer, want: Buffer, offset: number, what: string): void {
  const expected = want.subarray(offset, offset + got.length);
  if (got.equals(expected)) return;
  let i = 0;
  while (i < got.length && got[i] === expected[i]) i++;
  assert.fail(`${what}: ${got.length} bytes at offset ${offset} differ from the command's at byte ${offset + i}`);
}

test('a flood read into reused buffers: the result, a slow follower and a late attacher get exactly the bytes the command wrote', { timeout: 120_000 }, async () => {
  const want = seqBytes(LINES);
  const { session_id } = await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' });
  // Slowed a little so that the follower attaches while it runs; ~14 MB in all.
  const running = client.request<{ exec_id: string; stdout: string; stdout_truncated: boolean; stdout_bytes: number }>('exec.run', {
    session_id,
    command: `{ seq 1 ${LINES / 2}; sleep 0.3; seq ${LINES / 2 + 1} ${LINES}; } | tr '\\n' ' '`,
  });

  let execId = '';
  assert.ok(
    await waitFor(async () => {
      const e = (await client.execs(session_id)).find((x) => x.stdout_bytes > 0);
      if (e) execId = e.exec_id;
      return e !== undefined;
    }),
    'the flood is listed while it runs',
  );
  const follower = await daemon.connect();
  const attached = await follower.attach(execId);
  let events = 0;
  let bytes = 0;
  let gaps = 0;
  for await (const ev of attached.events as AsyncIterable<StreamEvent>) {
    if (ev.event === 'gap') gaps++;
    if (ev.event !== 'output') continue;
    const data = outputBytes(ev as Parameters<typeof outputBytes>[0]);
    assertSlice(data, want, (ev as { offset: number }).offset, `output event ${events}`);
    events++;
    bytes += data.length;
    // A slow reader: the daemon's sink fills, the follower falls behind the window and is given gaps.
    if (events % 8 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  follower.close();

  const result = await running;
  assert.equal(result.stdout_bytes, want.length);
  assert.equal(result.stdout_truncated, true);
  assert.equal(result.stdout, want.subarray(0, KEEP).toString(), 'the result keeps the start, byte for byte');
  assert.ok(events > 0 && bytes > 0, `the follower was given output (${events} events, ${bytes} bytes, ${gaps} gaps)`);

  // Another flood takes the read buffers the first one gave back.
  const other = await client.request<{ stdout_bytes: number }>('exec.run', { session_id, command: 'head -c 8000000 /dev/zero | tr "\\0" "#"' });
  assert.equal(other.stdout_bytes, 8_000_000);

  const late = await daemon.connect();
  const again = await late.attach(execId);
  let retained = Buffer.alloc(0);
  let from = -1;
  for await (const ev of again.events as AsyncIterable<StreamEvent>) {
    if (ev.event !== 'output') continue;
    const data = outputBytes(ev as Parameters<typeof outputBytes>[0]);
    if (from < 0) from = (ev as { offset: number }).offset;
    retained = Buffer.concat([retained, data]);
  }
  late.close();
  assert.ok(retained.length >= WINDOW / 2, `the window is retained after the end (${retained.length} bytes)`);
  assert.equal(from + retained.length, want.length, 'it ends where the command ended');
  assertSlice(retained, want, from, 'the retained window');
});

test('what the window keeps of a flood nobody followed stays right after another flood reuses the read buffers', { timeout: 120_000 }, async () => {
  const want = seqBytes(LINES / 2);
  const { session_id } = await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' });
  const first = await client.request<{ stdout_bytes: number }>('exec.run', { session_id, command: `seq 1 ${LINES / 2} | tr '\\n' ' '` });
  assert.equal(first.stdout_bytes, want.length);
  const [listed] = await client.execs(session_id);
  assert.ok(listed, 'the finished flood is kept for late readers');
  await client.request('exec.run', { session_id, command: 'head -c 8000000 /dev/zero | tr "\\0" "#"' });

  const late = await daemon.connect();
  const again = await late.attach(listed.exec_id);
  const parts: Buffer[] = [];
  let from = -1;
  for await (const ev of again.events as AsyncIterable<StreamEvent>) {
    if (ev.event !== 'output') continue;
    if (from < 0) from = (ev as { offset: number }).offset;
    parts.push(outputBytes(ev as Parameters<typeof outputBytes>[0]));
  }
  late.close();
  const retained = Buffer.concat(parts);
  assert.ok(retained.length >= WINDOW / 2, `the window is retained after the end (${retained.length} bytes)`);
  assert.equal(from + retained.length, want.length);
  assertSlice(retained, want, from, 'the retained window');
});

test('a flood\'s result waiting in the socket of a client that does not read stays right while other floods reuse the read buffers', { timeout: 120_000 }, async () => {
  const want = seqBytes(LINES / 2);
  const { session_id } = await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' });
  // The result's head (KEEP bytes) waits in the daemon's socket: this client does not read yet.
  const slow = await RawWire.open(daemon.socketPath, { paused: true });
  try {
    slow.send({ id: 'slow', method: 'exec.run', params: { session_id, command: `seq 1 ${LINES / 2} | tr '\\n' ' '` } });
    const others = await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' });
    assert.ok(await waitFor(async () => (await client.execs(session_id)).some((e) => e.state !== 'running')), 'the first flood ended');
    // Other floods take every read buffer that is free; each byte of theirs is '#'.
    for (let i = 0; i < 4; i++) {
      const r = await client.request<{ stdout_bytes: number }>('exec.run', { session_id: others.session_id, command: 'head -c 8000000 /dev/zero | tr "\\0" "#"' });
      assert.equal(r.stdout_bytes, 8_000_000);
    }
    slow.resume();
    const answer = await slow.waitId('slow', 60_000);
    assert.equal(answer.ok, true, JSON.stringify(answer).slice(0, 300));
    assert.equal(answer.data.stdout_bytes, want.length);
    const got = Buffer.from(answer.data.stdout as string);
    assert.equal(got.length, KEEP);
    assertSlice(got, want, 0, 'the result read late');
  } finally {
    slow.close();
  }
});
