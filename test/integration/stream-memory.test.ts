import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, sleep, waitFor, withDaemonAndClient } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { TrlClient } from '../../src/client/client';

/**
 * A reader that never reads while the command writes 1 GiB: the daemon's
 * memory stays bounded by its windows and socket buffers, the command is not
 * held back and finishes, and when the reader finally reads it is told
 * exactly how much it missed.
 */

const GiB = 1024 * 1024 * 1024;
let daemon: TestDaemon;
let client: TrlClient;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '600' } }, (d, c) => {
  daemon = d;
  client = c;
});

test('a reader that never reads while the command writes 1 GiB: daemon RSS stays bounded, the command finishes, the reader learns what it missed', { timeout: 300_000 }, async (t) => {
  const sid = (await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
  const rss = async () => (await client.request<{ memory_rss_bytes: number }>('system.stats')).memory_rss_bytes;
  const baseline = await rss();

  // A raw connection that sends exec.stream and then stops reading altogether.
  const sock = await RawWire.open(daemon.socketPath, { paused: true });
  sock.send({ id: 'flood', method: 'exec.stream', params: { session_id: sid, command: 'head -c 1G /dev/zero; echo done >&2' } });

  let peak = baseline;
  let execId: string | undefined;
  let finished = false;
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    peak = Math.max(peak, await rss());
    const execs = await client.execs(sid);
    execId = execs[0]?.exec_id;
    if (execs[0]?.state === 'exited') {
      finished = true;
      assert.equal(execs[0].exit_code, 0);
      assert.equal(execs[0].stdout_bytes, GiB, 'every byte was read from the command');
      break;
    }
    await sleep(100);
  }
  peak = Math.max(peak, await rss());
  assert.ok(finished, 'the command finished although its reader never read (exec.list shows it exited)');
  const growth = peak - baseline;
  t.diagnostic(`daemon RSS: baseline ${Math.round(baseline / 1048576)} MiB, peak ${Math.round(peak / 1048576)} MiB while 1 GiB went by`);
  // Bounded: one window per stream (1 MiB) and the socket's high-water mark, plus allocator slack — not the gigabyte.
  assert.ok(growth < 200 * 1024 * 1024, `daemon RSS grew by ${Math.round(growth / 1048576)} MiB (baseline ${Math.round(baseline / 1048576)} MiB)`);

  // Now read everything that is queued for us: the response, then output, gaps, and the exit.
  sock.resume();
  const exited = await waitFor(() => sock.messages.some((m) => m.event === 'exit'), 60_000, 50);
  sock.close();
  assert.ok(exited, 'no exit event within 60 s');
  const msgs = sock.messages;
  assert.equal(msgs[0].id, 'flood');
  assert.equal(msgs[0].ok, true);
  assert.equal(msgs[0].data.exec_id, execId);
  let received = 0;
  let missed = 0;
  let next = 0;
  for (const m of msgs.slice(1)) {
    if (m.stream !== 'stdout') continue;
    if (m.event === 'output') {
      assert.equal(m.offset, next, 'contiguous apart from gaps');
      const n = Buffer.byteLength(m.data, m.encoding === 'base64' ? 'base64' : 'utf8');
      received += n;
      next += n;
    } else if (m.event === 'gap') {
      assert.equal(m.from, next);
      assert.equal(m.missed_bytes, m.to - m.from);
      missed += m.missed_bytes;
      next = m.to;
    }
  }
  assert.ok(missed > 0, 'a gap was reported');
  assert.equal(received + missed, GiB, 'received + missed = what the command wrote');
  const exit = msgs.at(-1);
  assert.equal(exit.event, 'exit');
  assert.equal(exit.exit_code, 0);
  assert.equal(exit.stdout_bytes, GiB);
  assert.equal(exit.stdout_truncated, true);
});

test('after a flood of exec.run results the daemon gives the memory back within seconds, not at its next collection: RSS falls to near where it started', { timeout: 120_000 }, async (t) => {
  const own = await TestDaemon.start();
  t.after(() => own.dispose());
  const c = await TrlClient.connect(own.socketPath);
  const MiB = 1024 * 1024;
  const stats = () => c.request<{ memory_rss_bytes: number; memory_external_bytes: number }>('system.stats');
  const before = await stats();
  // 4 sessions × 3 commands × 32 MiB: every read is a buffer; each result keeps 4 MiB until it is written.
  await Promise.all(
    [1, 2, 3, 4].map(async () => {
      const sid = (await c.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
      for (let i = 0; i < 3; i++) await c.run({ session_id: sid, command: "head -c 32M /dev/zero | tr '\\0' x" });
    }),
  );
  const end = await stats();
  // Quiet now: nothing allocates, so no collection comes by itself. The daemon's own (system/memory-trim.ts) comes
  // about two seconds after the output stopped.
  await sleep(4000);
  const after = await stats();
  t.diagnostic(
    `RSS ${Math.round(before.memory_rss_bytes / MiB)} → ${Math.round(end.memory_rss_bytes / MiB)} MiB at the end → ${Math.round(after.memory_rss_bytes / MiB)} MiB 4 s later; ` +
      `external memory ${Math.round(before.memory_external_bytes / MiB)} → ${Math.round(end.memory_external_bytes / MiB)} → ${Math.round(after.memory_external_bytes / MiB)} MiB`,
  );
  // What may stay: TRL_MAX_RETAINED_BYTES (8 MiB) of finished windows, and slack for the allocator and V8.
  assert.ok(after.memory_external_bytes <= before.memory_external_bytes + 12 * MiB, `${Math.round(after.memory_external_bytes / MiB)} MiB of output buffers still held 4 s after the flood`);
  assert.ok(after.memory_rss_bytes <= before.memory_rss_bytes + 40 * MiB, `RSS still ${Math.round(after.memory_rss_bytes / MiB)} MiB 4 s after the flood (started at ${Math.round(before.memory_rss_bytes / MiB)} MiB)`);
  c.close();
});

test('after a stream of commands stops, the daemon gives back what V8 grew for it: RSS falls to near where it started within 10 s', { timeout: 120_000 }, async (t) => {
  const own = await TestDaemon.start();
  t.after(() => own.dispose());
  const c = await TrlClient.connect(own.socketPath);
  const MiB = 1024 * 1024;
  const rss = async () => (await c.request<{ memory_rss_bytes: number }>('system.stats')).memory_rss_bytes;
  const sessions = await Promise.all(Array.from({ length: 8 }, async () => (await c.request<{ session_id: string }>('session.create', {})).session_id));
  const before = await rss();
  // 4 000 commands, 8 at a time: each finished one stays for exec.attach, so V8's young generation grows to its 32 MB.
  await Promise.all(
    sessions.map(async (sid) => {
      for (let i = 0; i < 500; i++) await c.request('exec.run', { session_id: sid, command: 'true' });
    }),
  );
  const end = await rss();
  await sleep(10_000);
  const after = await rss();
  t.diagnostic(`RSS ${Math.round(before / MiB)} → ${Math.round(end / MiB)} MiB after 4 000 commands → ${Math.round(after / MiB)} MiB 10 s later`);
  assert.ok(after <= before + 20 * MiB, `RSS still ${Math.round(after / MiB)} MiB 10 s after the commands stopped (started at ${Math.round(before / MiB)} MiB)`);
  c.close();
});
