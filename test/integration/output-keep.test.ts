import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, withDaemonAndClient } from '../helpers/daemon';
import { collectStream, type ExecResult, type TrlClient } from '../../src/client/client';
import { expectError, newSession } from '../helpers/requests';

/** exec.run and exec.stream with output_keep, over the real socket, with a 4 KiB cap so floods are cheap. */

const CAP = 4096;
let daemon: TestDaemon;
let client: TrlClient;
withDaemonAndClient({ env: { TRL_MAX_OUTPUT_BYTES: String(CAP), TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

const py = (script: string) => `python3 -c '${script.replace(/'/g, `'\\''`)}'`;
/** Writes FIRST, n bytes of filler made of `unit`, then LAST, on fd 1 (and "e" * n on fd 2). */
const flood = (n: number, unit: string) =>
  py(`import os,sys
os.write(1, b"FIRST\\n")
u = "${unit}".encode()
os.write(1, (u * (${n} // len(u) + 1))[:${n}])
os.write(1, b"\\nLAST error: it broke here\\n")
os.write(2, b"e" * ${n})`);

test('output_keep "tail": the last TRL_MAX_OUTPUT_BYTES of each stream, every byte counted', async () => {
  const sid = await newSession(client);
  const n = 1_000_000;
  const r = await client.run({ session_id: sid, command: flood(n, 'x'), output_keep: 'tail' });
  const total = 6 + n + 27;
  assert.equal(r.stdout_bytes, total);
  assert.equal(r.stdout_truncated, true);
  assert.equal(Buffer.byteLength(r.stdout), CAP);
  assert.ok(r.stdout.endsWith('\nLAST error: it broke here\n'), r.stdout.slice(-60));
  assert.ok(!r.stdout.includes('FIRST'));
  assert.equal(r.stdout_omitted_bytes, total - CAP);
  assert.equal(r.stderr, 'e'.repeat(CAP));
  assert.equal(r.stderr_bytes, n);
  assert.equal(r.stdout_tail, undefined, 'tail mode has no separate tail field');
});

test('output_keep "head_tail": first half in stdout, last half in stdout_tail, the omitted span exact, cuts on character boundaries', async () => {
  const sid = await newSession(client);
  const n = 300_006; // whole characters (9 bytes a unit); both cuts fall inside one
  const r = await client.run({ session_id: sid, command: flood(n, '€😀é'), output_keep: 'head_tail' });
  assert.ok(r.stdout.startsWith('FIRST\n'));
  assert.ok(r.stdout_tail!.endsWith('LAST error: it broke here\n'));
  for (const text of [r.stdout, r.stdout_tail!]) assert.ok(!text.includes('\ufffd'), 'no character split at a cut');
  const head = Buffer.byteLength(r.stdout);
  const tail = Buffer.byteLength(r.stdout_tail!);
  assert.ok(head <= CAP / 2 && head > CAP / 2 - 4, `head ${head} bytes`);
  assert.ok(tail <= CAP / 2 && tail > CAP / 2 - 4, `tail ${tail} bytes`);
  assert.equal(r.stdout_bytes, 6 + n + 27);
  assert.equal(r.stdout_omitted_bytes, r.stdout_bytes - head - tail);
  assert.equal(r.stderr + r.stderr_tail!, 'e'.repeat(CAP));
  assert.equal(r.stderr_omitted_bytes, n - CAP);
});

test('output_keep "head_tail" under the cap: the whole output in stdout, the tail empty, nothing omitted', async () => {
  const sid = await newSession(client);
  const r = await client.run({ session_id: sid, command: 'printf "héllo\\n"', output_keep: 'head_tail' });
  assert.equal(r.stdout, 'héllo\n');
  assert.equal(r.stdout_tail, '');
  assert.equal(r.stdout_omitted_bytes, 0);
  assert.equal(r.stdout_truncated, false);
});

test('invalid bytes at the cut are replaced, the count stays exact', async () => {
  const sid = await newSession(client);
  const r = await client.run({ session_id: sid, command: py('import os\nos.write(1, b"\\xff\\xfe" * 10000 + b"end\\xc3")'), output_keep: 'head_tail' });
  assert.ok(r.stdout.startsWith('\ufffd'));
  assert.ok(r.stdout_tail!.endsWith('end\ufffd'));
  assert.equal(r.stdout_bytes, 20004);
  assert.equal(r.stdout_omitted_bytes, 20004 - CAP);
});

test('output_keep "head" and no output_keep: v1 results, without the new fields', async () => {
  const sid = await newSession(client);
  for (const keep of ['head', undefined] as const) {
    const r: ExecResult = await client.run({ session_id: sid, command: flood(100_000, 'x'), ...(keep ? { output_keep: keep } : {}) });
    assert.ok(r.stdout.startsWith('FIRST\n'));
    assert.equal(Buffer.byteLength(r.stdout), CAP);
    assert.equal(r.stdout_truncated, true);
    assert.equal(r.stdout_bytes, 100_033);
    for (const f of ['stdout_tail', 'stderr_tail', 'stdout_omitted_bytes', 'stderr_omitted_bytes']) assert.ok(!(f in r), `${f} absent`);
  }
});

test('an unknown output_keep is INVALID_PARAMS naming the field', async () => {
  const sid = await newSession(client);
  await expectError(client.run({ session_id: sid, command: 'true', output_keep: 'middle' as never }), 'INVALID_PARAMS', /params\.output_keep/);
  await expectError(client.request('exec.stream', { session_id: sid, command: 'true', output_keep: 1 }), 'INVALID_PARAMS', /params\.output_keep/);
});

test('exec.stream with output_keep: the caller\'s exit event carries the kept text; another reader\'s does not', async () => {
  const sid = await newSession(client);
  const s = await client.stream({ session_id: sid, command: flood(200_000, 'y') + '; exit 3', output_keep: 'head_tail' });
  const got = await collectStream(s.events);
  const exit = got.exit!;
  assert.equal(exit.exit_code, 3);
  assert.ok(exit.stdout!.startsWith('FIRST\n'));
  assert.ok(exit.stdout_tail!.endsWith('LAST error: it broke here\n'));
  assert.equal(exit.stdout_omitted_bytes, 200_033 - CAP);
  assert.equal(got.stdout.length, 200_033, 'the events still carry every byte');

  const other = await daemon.connect();
  try {
    const late = await collectStream((await other.attach(s.execId)).events);
    assert.equal(late.exit!.exit_code, 3);
    for (const f of ['stdout', 'stdout_tail', 'stdout_omitted_bytes']) assert.ok(!(f in late.exit!), `${f} absent for a later reader`);
  } finally {
    other.close();
  }
});
