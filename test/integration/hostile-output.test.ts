import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { outputBytes, type TrlClient } from '../../src/client/client';
import { readMemory } from '../../src/system/proc';
import { TestDaemon, withDaemonAndClient } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';

/**
 * Issue 11's bad input, each through exec.stream to a lossless reader and
 * through exec.run: output that is only invalid UTF-8, only NULs, one 100 MB
 * line without a newline, stdout and stderr interleaved byte by byte. Every
 * byte comes back as the command wrote it, the daemon's memory stays bounded
 * (it never holds the output whole), and a ping on another connection is
 * answered all the while.
 */

let daemon: TestDaemon;
let client: TrlClient;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '120' } }, (d, c) => {
  daemon = d;
  client = c;
});

const MiB = 1024 * 1024;
const py = (script: string) => `python3 -c '${script.replace(/'/g, `'\\''`)}'`;

interface Case {
  name: string;
  command: string;
  /** exec.run's result is text: bytes that are not UTF-8 arrive there as U+FFFD. */
  utf8: boolean;
  /** What the command writes, per stream, as a generator of chunks (hashed, never held whole). */
  stdout: () => Iterable<Buffer>;
  stderr: () => Iterable<Buffer>;
}

function* repeat(chunk: Buffer, total: number): Iterable<Buffer> {
  for (let left = total; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}
const none = function* (): Iterable<Buffer> {};
const highBytes = Buffer.from(Array.from({ length: 128 * 1024 }, (_, i) => 0x80 + (i % 0x80)));
/** The first `n` bytes of a generated stream. */
function prefix(chunks: Iterable<Buffer>, n: number): Buffer {
  const parts: Buffer[] = [];
  let have = 0;
  for (const c of chunks) {
    if (have >= n) break;
    parts.push(c);
    have += c.length;
  }
  return Buffer.concat(parts).subarray(0, n);
}
const digest = (chunks: Iterable<Buffer>) => {
  const h = createHash('sha256');
  let n = 0;
  for (const c of chunks) {
    h.update(c);
    n += c.length;
  }
  return { bytes: n, sha256: h.digest('hex') };
};

const CASES: Case[] = [
  {
    name: 'only invalid UTF-8 (16 MiB of bytes 0x80-0xff)',
    command: py(`import sys\nb = bytes(0x80 + i % 0x80 for i in range(128 * 1024))\nfor _ in range(128): sys.stdout.buffer.write(b)`),
    utf8: false,
    stdout: () => repeat(highBytes, 16 * MiB),
    stderr: none,
  },
  { name: 'only NULs (16 MiB)', command: `head -c ${16 * MiB} /dev/zero`, utf8: true, stdout: () => repeat(Buffer.alloc(MiB), 16 * MiB), stderr: none },
  {
    name: 'one 100 MB line without a newline',
    command: `head -c 100000000 /dev/zero | tr '\\0' a`,
    utf8: true,
    stdout: () => repeat(Buffer.alloc(MiB, 'a'), 100_000_000),
    stderr: none,
  },
  {
    name: 'stdout and stderr interleaved byte by byte (100 000 one-byte writes each)',
    command: py(`import os\nfor i in range(100000):\n  os.write(1, b"o")\n  os.write(2, b"e")`),
    utf8: true,
    stdout: () => repeat(Buffer.alloc(100_000, 'o'), 100_000),
    stderr: () => repeat(Buffer.alloc(100_000, 'e'), 100_000),
  },
];

/** Pings on a connection of its own every 20 ms until stopped; how many were sent and answered, and the slowest. */
async function pinger(socketPath: string): Promise<{ stop(): Promise<{ sent: number; answered: number; maxMs: number }> }> {
  const wire = await RawWire.open(socketPath);
  let sent = 0;
  let answered = 0;
  let maxMs = 0;
  const sentAt = new Map<number, number>();
  wire.onMessage((m: { id: number; ok: boolean }) => {
    if (!m.ok) return;
    answered++;
    maxMs = Math.max(maxMs, performance.now() - sentAt.get(m.id)!);
  });
  let running = true;
  const loop = (async () => {
    while (running) {
      const id = ++sent;
      sentAt.set(id, performance.now());
      wire.send({ id, method: 'system.ping' });
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const deadline = Date.now() + 10_000;
      while (answered < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      wire.close();
      return { sent, answered, maxMs };
    },
  };
}

/** Samples the daemon's RSS every 25 ms; the highest seen above where it started. */
function rssWatch(pid: number): { stop(): number } {
  const start = readMemory(pid)!.rss;
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, readMemory(pid)?.rss ?? 0)), 25);
  return {
    stop() {
      clearInterval(timer);
      return peak - start;
    },
  };
}

for (const c of CASES) {
  test(`${c.name}: streamed and run, every byte back, bounded memory, pings answered`, { timeout: 180_000 }, async (t) => {
    const want = { stdout: digest(c.stdout()), stderr: digest(c.stderr()) };
    const { session_id } = await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' });
    const pings = await pinger(daemon.socketPath);
    const rss = rssWatch(daemon.pid);

    const s = await client.stream({ session_id, command: c.command, lossless: true });
    const got = { stdout: createHash('sha256'), stderr: createHash('sha256') };
    const count = { stdout: 0, stderr: 0 };
    let exit: { exit_code: number; stdout_bytes: number; stderr_bytes: number } | null = null;
    for await (const ev of s.events) {
      if (ev.event === 'output') {
        assert.equal(ev.offset, count[ev.stream], `${ev.stream} continues where it left off`);
        const bytes = outputBytes(ev);
        got[ev.stream].update(bytes);
        count[ev.stream] += bytes.length;
      } else if (ev.event === 'gap') assert.fail(`a lossless reader got a gap: ${JSON.stringify(ev)}`);
      else if (ev.event === 'exit') exit = ev;
    }
    assert.equal(exit?.exit_code, 0);
    for (const stream of ['stdout', 'stderr'] as const) {
      assert.equal(count[stream], want[stream].bytes, `${stream}: every byte`);
      assert.equal(got[stream].digest('hex'), want[stream].sha256, `${stream}: the very bytes`);
      assert.equal(exit![`${stream}_bytes`], want[stream].bytes);
    }

    // exec.run keeps at most TRL_MAX_OUTPUT_BYTES (4 MiB) per stream, counts the rest, and keeps the start by default.
    const run = await client.request<{ exit_code: number; stdout_bytes: number; stdout_truncated: boolean; stdout: string }>('exec.run', { session_id, command: c.command });
    assert.equal(run.exit_code, 0);
    assert.equal(run.stdout_bytes, want.stdout.bytes);
    assert.equal(run.stdout_truncated, want.stdout.bytes > 4 * MiB);
    assert.ok(run.stdout.length > 0);
    if (c.utf8) assert.ok(Buffer.from(run.stdout).equals(prefix(c.stdout(), Buffer.byteLength(run.stdout))), 'the kept output is the start of what the command wrote');
    else assert.match(run.stdout, /^\uFFFD+$/, 'bytes that are not UTF-8 are U+FFFD in the text');

    const grew = rss.stop();
    const p = await pings.stop();
    t.diagnostic(`daemon RSS peak +${(grew / MiB).toFixed(1)} MiB; pings ${p.answered}/${p.sent} answered, slowest ${p.maxMs.toFixed(1)} ms`);
    assert.equal(p.answered, p.sent, 'every ping answered while it ran');
    assert.ok(grew < 96 * MiB, `the daemon never holds the output whole: RSS grew ${(grew / MiB).toFixed(1)} MiB`);
    await client.request('session.destroy', { session_id });
  });
}
