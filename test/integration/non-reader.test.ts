import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, sleep } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { readMemory } from '../../src/system/proc';
import { newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

/**
 * A client that stops reading costs the daemon a fixed amount, whatever it
 * asks for: answers and events wait for the socket to drain, and requests
 * stop being read. When it reads again, every answer arrives whole.
 */

let daemon: TestDaemon;
let client: TrlClient;
test.before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_DEFAULT_TIMEOUT_S: '60', TRL_MAX_OUTPUT_BYTES: String(4 * 1024 * 1024) } });
  client = await daemon.connect();
});
test.after(async () => {
  client.close();
  await daemon.dispose();
});

const MiB = 1024 * 1024;
const rssOf = (pid: number) => readMemory(pid)!.rss;

/** The daemon's RSS over `ms`, its highest value. */
async function peakRss(ms: number): Promise<number> {
  let peak = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    peak = Math.max(peak, rssOf(daemon.pid));
    await sleep(100);
  }
  return peak;
}

test('exec.run answers of 4 MiB of control bytes per stream are not queued whole for a client that does not read', async (t) => {
  const sessions = await Promise.all(Array.from({ length: 6 }, () => newSession(client)));
  const base = rssOf(daemon.pid);
  const conn = await RawWire.open(daemon.socketPath, { paused: true }); // reads nothing
  const command = "head -c 4194304 /dev/zero | tr '\\0' '\\1'; head -c 4194304 /dev/zero | tr '\\0' '\\2' >&2";
  for (const [i, sid] of sessions.entries()) conn.send({ id: `r${i}`, method: 'exec.run', params: { session_id: sid, command } });
  const peak = await peakRss(4000);
  const growth = peak - base;
  t.diagnostic(`6 × exec.run of 2 × 4 MiB control bytes (a 48 MiB line each once escaped) to a non-reader: RSS ${Math.round(base / MiB)} → peak ${Math.round(peak / MiB)} MiB (+${Math.round(growth / MiB)} MiB)`);
  // Whole lines would be 6 × 48 MiB; what may stay is the raw results (6 × 8 MiB) and one socket buffer.
  assert.ok(growth < 160 * MiB, `the daemon grew by ${Math.round(growth / MiB)} MiB`);
  conn.resume();
  const answers = await conn.needLines(6, 60_000);
  conn.close();
  for (const a of answers) {
    assert.equal(a.ok, true, JSON.stringify(a).slice(0, 300));
    assert.equal(a.data.stdout.length, 4 * MiB);
    assert.equal(a.data.stderr.length, 4 * MiB);
    assert.ok(/^\u0001+$/.test(a.data.stdout) && /^\u0002+$/.test(a.data.stderr));
  }
});

test('exec.attach requests from a client that does not read do not each queue an event', async (t) => {
  const sid = await newSession(client);
  // 256 KiB retained per stream, all control bytes (×6 once escaped).
  await run(client, sid, "head -c 262144 /dev/zero | tr '\\0' '\\1'; head -c 262144 /dev/zero | tr '\\0' '\\1' >&2");
  const [exec] = (await client.execs(sid)).slice(-1);
  const base = rssOf(daemon.pid);
  const conn = await RawWire.open(daemon.socketPath, { paused: true });
  const n = 500;
  conn.write(Array.from({ length: n }, (_, i) => JSON.stringify({ id: `a${i}`, method: 'exec.attach', params: { exec_id: exec!.exec_id } }) + '\n').join(''));
  const peak = await peakRss(4000);
  const growth = peak - base;
  t.diagnostic(`${n} pipelined exec.attach of an exec with 2 × 256 KiB control bytes retained, client not reading: RSS +${Math.round(growth / MiB)} MiB`);
  assert.ok(growth < 64 * MiB, `the daemon grew by ${Math.round(growth / MiB)} MiB`);
  // Reading again: the attaches are answered in turn, each followed by its events and exit.
  conn.resume();
  const first = (await conn.needLines(1, 30_000))[0];
  assert.equal(first.id, 'a0');
  assert.equal(first.ok, true);
  conn.close();
  await client.request('system.ping');
});

test('exec.list is answered whatever the retained command texts add up to, and they count toward TRL_MAX_RETAINED_BYTES', async (t) => {
  const other = await TestDaemon.start({ env: { TRL_MAX_RETAINED_BYTES: String(1 * MiB) } });
  try {
    const c = await other.connect();
    const sid = await newSession(c);
    // 100 KiB command texts (one argv string holds at most 128 KiB): counted, only about 1 MiB of them stay listed.
    const text = ': ' + 'x'.repeat(100 * 1024);
    for (let i = 0; i < 30; i++) await run(c, sid, text);
    const execs = await c.execs();
    t.diagnostic(`30 commands of 100 KiB each, TRL_MAX_RETAINED_BYTES 1 MiB: ${execs.length} listed`);
    assert.ok(execs.length >= 1 && execs.length <= 10, `${execs.length} execs listed`);
    assert.equal(execs.at(-1)!.command, text);
    c.close();
  } finally {
    await other.dispose();
  }
});

test('exec.list beyond the longest string V8 can make is still answered (streamed)', async (t) => {
  // 760 commands of 125 000 control bytes (near the 128 KiB a single argv string may hold): 570 million
  // characters of JSON, over V8's longest string (2^29 - 24).
  const other = await TestDaemon.start({ env: { TRL_MAX_RETAINED_BYTES: String(1024 * MiB), TRL_MAX_RSS_BYTES: '0', TRL_MAX_RUNNING_COMMANDS: '64' } });
  try {
    const c = await other.connect();
    const text = ': ' + '\u0001'.repeat(125_000);
    const n = 760;
    const sessions = await Promise.all(Array.from({ length: 8 }, () => newSession(c)));
    await Promise.all(sessions.map(async (sid) => {
      for (let i = 0; i < n / sessions.length; i++) await run(c, sid, text);
    }));
    // This client cuts no lines: it scans the bytes itself.
    const conn = await RawWire.open(other.socketPath, { paused: true });
    conn.send({ id: 'list', method: 'exec.list', params: {} });
    let bytes = 0;
    let count = 0;
    let head = '';
    let tail = '';
    // Count the answer's execs as it streams, without keeping it: it is bigger than any one string.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no complete answer within 120 s (${bytes} bytes)`)), 120_000);
      conn.socket.removeAllListeners('data');
      conn.socket.on('data', (chunk: Buffer) => {
        if (head.length < 40) head += chunk.subarray(0, 40).toString();
        bytes += chunk.length;
        const text = tail + chunk.toString('latin1');
        count += text.split('"exec_id":').length - 1;
        tail = text.slice(-10);
        if (tail.includes('"exec_id":')) count--; // counted again with the next chunk
        if (chunk.at(-1) === 10) {
          clearTimeout(timer);
          resolve();
        }
      });
      conn.resume();
    });
    conn.close();
    t.diagnostic(`exec.list of ${n} × 125 000 control-byte commands: ${Math.round(bytes / MiB)} MiB answer, ${count} execs`);
    assert.match(head, /"ok":true/);
    assert.equal(count, n);
    await c.request('system.ping');
    c.close();
  } finally {
    await other.dispose();
  }
});
