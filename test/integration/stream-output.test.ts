import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, withDaemonAndClient } from '../helpers/daemon';
import { collectStream, type TrlClient } from '../../src/client/client';

/**
 * exec.stream's output: offsets, order and completeness across both streams,
 * UTF-8 boundaries, bytes that are not UTF-8; and exec.run beside it.
 */

let daemon: TestDaemon;
let client: TrlClient;
// A default timeout well below the tests' own, so that a test that waits in vain fails instead of hanging.
withDaemonAndClient({ env: { TRL_STREAM_WINDOW_BYTES: String(64 * 1024 * 1024), TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

async function session(): Promise<string> {
  const s = await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' });
  return s.session_id;
}

/** Byte equality that reports where two buffers first differ instead of printing them. */
function assertSameBytes(got: Buffer, want: Buffer, what: string): void {
  if (got.equals(want)) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  assert.fail(
    `${what}: ${got.length} bytes, expected ${want.length}; first difference at byte ${i}: got ${got.subarray(i, i + 16).toString('hex')}, expected ${want.subarray(i, i + 16).toString('hex')}`,
  );
}

const py = (script: string) => `python3 -c '${script.replace(/'/g, `'\\''`)}'`;

test('a large mixed stdout/stderr output arrives whole: each stream reassembled from its offsets equals what the command wrote, byte for byte', async () => {
  const N = 200_000;
  // Lines go to stdout (i % 3 != 0) or stderr, in writes of a varying number of lines, so chunk boundaries fall everywhere.
  const script = `
import os
N = ${N}
bufs = {1: [], 2: []}
seed = 12345
for i in range(N):
    fd = 2 if i % 3 == 0 else 1
    bufs[fd].append(("%s %07d %s\\n" % ("err" if fd == 2 else "out", i, "x" * (i % 101))).encode())
    seed = (seed * 1103515245 + 12345) % 2147483648
    if seed % 37 == 0 or len(bufs[fd]) > 3000:
        os.write(fd, b"".join(bufs[fd]))
        bufs[fd] = []
for fd in (1, 2):
    os.write(fd, b"".join(bufs[fd]))
`;
  const expected = { stdout: [] as string[], stderr: [] as string[] };
  for (let i = 0; i < N; i++) {
    const err = i % 3 === 0;
    (err ? expected.stderr : expected.stdout).push(`${err ? 'err' : 'out'} ${String(i).padStart(7, '0')} ${'x'.repeat(i % 101)}\n`);
  }
  const wantOut = Buffer.from(expected.stdout.join(''));
  const wantErr = Buffer.from(expected.stderr.join(''));

  const s = await client.stream({ session_id: await session(), command: py(script) });
  assert.equal(typeof s.execId, 'string');
  const got = await collectStream(s.events); // throws on any output or gap at an unexpected offset
  assert.ok(got.exit, 'an exit event ends the stream');
  assert.equal(got.events.at(-1)?.event, 'exit', 'exit is the last event');
  assert.equal(got.events.filter((e) => e.event === 'exit').length, 1);
  assert.deepEqual(got.gaps, [], 'no gap inside the retention window');
  for (const e of got.events) assert.equal(e.exec_id, s.execId);
  assert.equal(got.exit.exit_code, 0, got.stderr.subarray(-500).toString());
  assert.equal(got.stdout.length, wantOut.length);
  assert.equal(got.stderr.length, wantErr.length);
  assertSameBytes(got.stdout, wantOut, 'stdout');
  assertSameBytes(got.stderr, wantErr, 'stderr');
  assert.equal(got.exit.stdout_bytes, wantOut.length);
  assert.equal(got.exit.stderr_bytes, wantErr.length);
  assert.equal(got.exit.stdout_truncated, false);
  assert.equal(got.exit.stderr_truncated, false);
  assert.equal(got.exit.timed_out, false);
  assert.equal(got.exit.cancelled, false);
  // Both streams really were interleaved on the wire, not sent one after the other.
  const kinds = got.events.filter((e) => e.event === 'output').map((e) => (e as { stream: string }).stream);
  const switches = kinds.filter((k, i) => i > 0 && k !== kinds[i - 1]).length;
  assert.ok(switches > 2, `stdout and stderr events interleave (${switches} switches)`);
});

test('multi-byte UTF-8 characters straddling pipe reads are never split: every chunk is text, and the text is exact', async () => {
  // One big write (pipe reads of 64 KiB cut it at arbitrary byte positions), then characters dribbled one byte per write.
  const script = `
import os, time
os.write(1, ("a\\u00e9\\u20ac\\U0001F600" * 100000).encode())
for ch in ["\\u00e9", "\\u20ac", "\\U0001F600"] * 8:
    b = ch.encode()
    for k in range(len(b)):
        os.write(1, b[k:k+1]); os.write(2, b[k:k+1])
        time.sleep(0.004)
`;
  const big = 'aé€😀'.repeat(100000);
  const dribble = 'é€😀'.repeat(8);
  const s = await client.stream({ session_id: await session(), command: py(script) });
  const got = await collectStream(s.events);
  assert.equal(got.exit?.exit_code, 0, got.stderr.toString());
  const outputs = got.events.filter((e) => e.event === 'output') as { encoding?: string; data: string; stream: string }[];
  assert.deepEqual(
    outputs.filter((e) => e.encoding === 'base64').map((e) => Buffer.from(e.data, 'base64').toString('hex')),
    [],
    'no chunk of valid UTF-8 output comes as base64 (a split character would)',
  );
  for (const e of outputs) assert.ok(!e.data.includes('\uFFFD'), 'no replacement character in any chunk');
  assertSameBytes(got.stdout, Buffer.from(big + dribble), 'stdout');
  assertSameBytes(got.stderr, Buffer.from(dribble), 'stderr');
  // The dribbled bytes arrived in many reads, yet each character came in one event.
  assert.ok(outputs.filter((e) => e.stream === 'stderr').length >= 2, 'stderr came in several chunks');
  for (const e of outputs.filter((o) => o.stream === 'stderr')) {
    assert.match(e.data, /^(é|€|😀)+$/u, `chunk ${JSON.stringify(e.data)} holds whole characters`);
  }
});

test('bytes that are not UTF-8 arrive as base64 and decode to exactly what the command wrote, text around them stays text', async () => {
  const cmd = `printf 'ok\\377\\376mid\\200'; sleep 0.2; printf 'text\\342\\202\\254 '; sleep 0.2; printf '\\300\\257' >&2; sleep 0.2; printf '\\342\\202'`;
  const wantOut = Buffer.concat([
    Buffer.from('ok'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('mid'),
    Buffer.from([0x80]),
    Buffer.from('text€ '),
    Buffer.from([0xe2, 0x82]), // an unfinished character at the very end
  ]);
  const wantErr = Buffer.from([0xc0, 0xaf]); // an overlong encoding: invalid
  const s = await client.stream({ session_id: await session(), command: cmd });
  const got = await collectStream(s.events);
  assert.equal(got.exit?.exit_code, 0);
  assert.equal(got.stdout.toString('hex'), wantOut.toString('hex'));
  assert.equal(got.stderr.toString('hex'), wantErr.toString('hex'));
  const outputs = got.events.filter((e) => e.event === 'output') as { encoding?: string; data: string; stream: string }[];
  assert.ok(outputs.some((e) => e.encoding === 'base64'), 'invalid bytes came as base64');
  assert.ok(outputs.some((e) => e.encoding === undefined && e.data.includes('text€')), 'the valid chunk in the middle came as text');
  for (const e of outputs) if (e.encoding !== undefined) assert.equal(e.encoding, 'base64');
});

test('output_encoding "base64": every output event is base64 (text, NULs, invalid bytes, a large output) and decodes to exactly what the command wrote; exec.attach asks the same way', async () => {
  // Text, a NUL run, invalid UTF-8, stderr, then 2 MiB of random bytes: small and large events alike.
  const cmd = `printf 'text\\342\\202\\254 '; head -c 5000 /dev/zero; printf '\\377' >&2; head -c 2097152 /dev/urandom > rand.bin; cat rand.bin`;
  const sid = await session();
  await client.request('exec.run', { session_id: sid, command: 'cd "$(mktemp -d)"' });
  const s = await client.stream({ session_id: sid, command: cmd, lossless: true, output_encoding: 'base64' });
  const got = await collectStream(s.events);
  assert.equal(got.exit?.exit_code, 0);
  const outputs = got.events.filter((e) => e.event === 'output') as { encoding?: string; data: string }[];
  assert.ok(outputs.length > 10, `${outputs.length} output events`);
  for (const e of outputs) assert.equal(e.encoding, 'base64', 'every output event is base64');
  const rand = (await client.run({ session_id: sid, command: 'base64 -w0 rand.bin; d=$PWD; cd /tmp; rm -rf "$d"' })).stdout as string;
  assertSameBytes(got.stdout, Buffer.concat([Buffer.from('text€ '), Buffer.alloc(5000), Buffer.from(rand, 'base64')]), 'stdout');
  assertSameBytes(got.stderr, Buffer.from([0xff]), 'stderr');
  // A late reader of the same exec asks for base64 too; a reader that does not gets text where it can.
  const attached = await client.attach(s.execId, undefined, { output_encoding: 'base64' });
  const replay = await collectStream(attached.events);
  for (const e of replay.events) if (e.event === 'output') assert.equal(e.encoding, 'base64');
  const plain = await collectStream((await client.attach(s.execId)).events);
  assert.ok(plain.events.some((e) => e.event === 'output' && e.encoding === undefined), 'text without the option');
  assertSameBytes(replay.stdout.subarray(replay.stdout.length - 1024), got.stdout.subarray(got.stdout.length - 1024), 'replayed end');
  await assert.rejects(client.request('exec.stream', { session_id: sid, command: 'true', output_encoding: 'hex' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'INVALID_PARAMS');
    assert.match(err.message, /output_encoding/);
    return true;
  });
});

test('events follow their response and carry the exec id; exec.list knows the exec while it runs and after', async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'echo one; sleep 0.3; echo two >&2; exit 5' });
  assert.equal(s.response.session_id, sid);
  assert.ok(Number.isInteger(s.response.pid) && s.response.pid! > 0);
  const listed = (await (await daemon.connect()).execs(sid)).find((e) => e.exec_id === s.execId);
  assert.equal(listed?.state, 'running');
  const got = await collectStream(s.events);
  assert.equal(got.stdout.toString(), 'one\n');
  assert.equal(got.stderr.toString(), 'two\n');
  assert.equal(got.exit?.exit_code, 5);
  assert.equal(got.exit?.signal, null);
  assert.ok((got.exit?.duration_ms ?? 0) >= 0);
  const after = (await client.execs()).find((e) => e.exec_id === s.execId);
  assert.equal(after?.state, 'exited');
  assert.equal(after?.exit_code, 5);
});

test('exec.run still works the same, and shell state carries over between exec.stream and exec.run', async () => {
  const sid = await session();
  const r = await client.request<Record<string, unknown>>('exec.run', { session_id: sid, command: 'echo out; echo err >&2; exit 3' });
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.exit_code, 3);
  assert.equal(r.timed_out, false);
  assert.equal(typeof r.duration_ms, 'number');
  const t = await client.request<Record<string, unknown>>('exec.run', { session_id: sid, command: 'sleep 5', timeout_s: 0.3 });
  assert.equal(t.timed_out, true);

  const s = await client.stream({ session_id: sid, command: 'cd /usr && export STREAM_VAR=kept' });
  assert.equal((await collectStream(s.events)).exit?.exit_code, 0);
  const r2 = await client.request<{ stdout: string }>('exec.run', { session_id: sid, command: 'pwd; echo "$STREAM_VAR"' });
  assert.equal(r2.stdout, '/usr\nkept\n');
  const r3 = await client.request<{ stdout: string; stdin?: string }>('exec.run', { session_id: sid, command: 'cat', stdin: 'given\n' });
  assert.equal(r3.stdout, 'given\n');
});

test('a second exec.stream in a busy session is refused with SESSION_BUSY; unknown execs give EXEC_NOT_FOUND', async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'sleep 0.5' });
  await assert.rejects(client.stream({ session_id: sid, command: 'true' }), { code: 'SESSION_BUSY' });
  await assert.rejects(client.attach('no-such-exec'), { code: 'EXEC_NOT_FOUND' });
  await assert.rejects(client.cancel('no-such-exec'), { code: 'EXEC_NOT_FOUND' });
  await assert.rejects(client.input('no-such-exec', 'x'), { code: 'EXEC_NOT_FOUND' });
  assert.equal((await collectStream(s.events)).exit?.exit_code, 0);
});
