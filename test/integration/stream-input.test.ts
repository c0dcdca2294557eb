import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDaemonAndClient } from '../helpers/daemon';
import { collectStream, type StreamEvent, type TrlClient } from '../../src/client/client';

/** exec.input to commands started with stdin_open, and the waiting_input event. */

let client: TrlClient;
// A default timeout well below the tests' own, so that a test that waits in vain fails instead of hanging.
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } }, (_d, c) => {
  client = c;
});

async function session(): Promise<string> {
  return (await client.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
}

/** Reads events until `until` holds; returns them and the stdout text so far. */
async function readUntil(it: AsyncIterator<StreamEvent>, until: (ev: StreamEvent, stdout: string) => boolean): Promise<{ events: StreamEvent[]; stdout: string }> {
  const events: StreamEvent[] = [];
  let stdout = '';
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error(`stream ended early; got ${JSON.stringify(events)}`);
    events.push(r.value);
    if (r.value.event === 'output' && r.value.stream === 'stdout') stdout += r.value.data;
    if (until(r.value, stdout)) return { events, stdout };
  }
}

test('input to cat: each piece comes back as it is written, eof ends it', async () => {
  const s = await client.stream({ session_id: await session(), command: 'cat', stdin_open: true });
  const it = s.events[Symbol.asyncIterator]();
  const r1 = await client.input(s.execId, 'hello\n');
  assert.equal(r1.bytes, 6);
  await readUntil(it, (_e, out) => out === 'hello\n');
  await client.input(s.execId, 'wörld 😀\n');
  await readUntil(it, (_e, out) => out === 'wörld 😀\n');
  await client.input(s.execId, 'last', true);
  const events: StreamEvent[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    events.push(r.value);
  }
  const out = events.filter((e) => e.event === 'output').map((e) => (e as { data: string }).data).join('');
  assert.equal(out, 'last');
  const exit = events.at(-1);
  assert.equal(exit?.event, 'exit');
  assert.equal((exit as { exit_code: number }).exit_code, 0);
  assert.equal((exit as { stdout_bytes: number }).stdout_bytes, Buffer.byteLength('hello\nwörld 😀\nlast'));
  await assert.rejects(client.input(s.execId, 'more'), { code: 'EXEC_NOT_RUNNING' });
});

test('input to `read x`: the shell reads one line and goes on', async () => {
  const s = await client.stream({ session_id: await session(), command: 'read x; echo "got:$x"; read y; echo "then:$y"', stdin_open: true });
  await client.input(s.execId, 'first line\nsecond');
  await client.input(s.execId, '\n', true);
  const got = await collectStream(s.events);
  assert.equal(got.stdout.toString(), 'got:first line\nthen:second\n');
  assert.equal(got.exit?.exit_code, 0);
});

test('input to a Python prompt: the prompt arrives first, the answer after it', async () => {
  const s = await client.stream({ session_id: await session(), command: `python3 -c 'print("hi " + input("name? "))'`, stdin_open: true });
  const it = s.events[Symbol.asyncIterator]();
  const before = await readUntil(it, (_e, out) => out.includes('name? '));
  assert.equal(before.stdout, 'name? ');
  await client.input(s.execId, 'Ada\n');
  const after = await readUntil(it, (e) => e.event === 'exit');
  const text = after.stdout;
  assert.equal(text, 'hi Ada\n');
  assert.equal((after.events.at(-1) as { exit_code: number }).exit_code, 0);
});

test('stdin given up front and stdin_open: the given text comes first, exec.input after it', async () => {
  const s = await client.stream({ session_id: await session(), command: 'cat', stdin: 'one\n', stdin_open: true });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (_e, out) => out === 'one\n');
  await client.input(s.execId, 'two\n', true);
  const after = await readUntil(it, (e) => e.event === 'exit');
  assert.equal(after.stdout, 'two\n');
});

test('without stdin_open, stdin is at end-of-file at once and exec.input is refused', async () => {
  const s = await client.stream({ session_id: await session(), command: 'cat; echo "cat saw eof"; sleep 0.3' });
  await assert.rejects(client.input(s.execId, 'x'), { code: 'INVALID_PARAMS' });
  const got = await collectStream(s.events);
  assert.equal(got.stdout.toString(), 'cat saw eof\n');
  assert.deepEqual(got.waits, []);
});

test('waiting_input: `read x` with nothing to read is reported with the reading pid, once, and the command goes on after input', async () => {
  const s = await client.stream({ session_id: await session(), command: 'echo ready; read x; echo "x=$x"', stdin_open: true });
  const it = s.events[Symbol.asyncIterator]();
  const seen = await readUntil(it, (e) => e.event === 'waiting_input');
  const wait = seen.events.at(-1) as { pid: number; silent_ms: number; exec_id: string };
  assert.equal(wait.exec_id, s.execId);
  assert.equal(seen.stdout, 'ready\n', 'the prompt came before the event');
  assert.ok(Number.isInteger(wait.pid) && wait.pid > 0);
  assert.ok(wait.silent_ms >= 0);
  const listed = (await client.execs()).find((e) => e.exec_id === s.execId);
  // The shell itself runs `read`: the pid reported is the command's shell.
  assert.equal(wait.pid, listed?.pid);
  await client.input(s.execId, 'abc\n');
  const after = await readUntil(it, (e) => e.event === 'exit');
  assert.equal(after.stdout, 'x=abc\n');
  assert.equal(after.events.filter((e) => e.event === 'waiting_input').length, 0, 'reported once');
});

test('no waiting_input for a command that is silent but not reading its stdin', async () => {
  const s = await client.stream({ session_id: await session(), command: 'sleep 1.5; echo done', stdin_open: true });
  const got = await collectStream(s.events);
  assert.equal(got.stdout.toString(), 'done\n');
  assert.deepEqual(got.waits, [], 'sleep does not read stdin');
});

test('waiting_input for a grandchild reading the stdin it inherited (python behind a shell), after its prompt', async () => {
  const s = await client.stream({
    session_id: await session(),
    command: `echo start; python3 -c 'import sys; sys.stdout.write("> "); sys.stdout.flush(); print(sys.stdin.readline().upper())'`,
    stdin_open: true,
  });
  const it = s.events[Symbol.asyncIterator]();
  const seen = await readUntil(it, (e) => e.event === 'waiting_input');
  assert.equal(seen.stdout, 'start\n> ');
  const wait = seen.events.at(-1) as { pid: number };
  const listed = (await client.execs()).find((e) => e.exec_id === s.execId);
  assert.notEqual(wait.pid, listed?.pid, 'the reader is python, not the shell');
  await client.input(s.execId, 'shout\n', true);
  const after = await readUntil(it, (e) => e.event === 'exit');
  assert.equal(after.stdout, 'SHOUT\n\n');
});
