import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDaemonAndClient } from '../helpers/daemon';
import { collectStream, type StreamEvent, type TrlClient } from '../../src/client/client';

/** TRL_MAX_PTYS, and what a terminal command shares with every other: waiting_input, session.destroy. */

const skip = process.env.TRL_SPAWNER === 'child_process' ? 'TRL_SPAWNER=child_process: a controlling terminal needs the native process layer' : false;

let client: TrlClient;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60', TRL_MAX_PTYS: '1' } }, (_d, c) => {
  client = c;
});

const session = async (): Promise<string> => (await client.createSession({ working_dir: '/tmp' })).session_id;

test('at TRL_MAX_PTYS a second terminal is refused with RESOURCE_PRESSURE; pipes still run; the slot comes back when the first ends', { skip }, async () => {
  const first = await client.stream({ session_id: await session(), command: 'read x', pty: true });
  await assert.rejects(client.run({ session_id: await session(), command: 'true', pty: true }), { code: 'RESOURCE_PRESSURE', message: /TRL_MAX_PTYS 1/ });
  const pipe = await client.run({ session_id: await session(), command: 'echo pipe' });
  assert.equal(pipe.stdout, 'pipe\n');
  await client.input(first.execId, '\r');
  await collectStream(first.events);
  const again = await client.run({ session_id: await session(), command: 'echo again', pty: true });
  assert.equal(again.stdout, 'again\r\n');
  // A start that fails gives its slot back too.
  await assert.rejects(client.run({ session_id: 'no-such-session', command: 'true', pty: true }), { code: 'SESSION_NOT_FOUND' });
  assert.equal((await client.run({ session_id: await session(), command: 'true', pty: true })).exit_code, 0);
});

test('a program blocked reading its terminal is reported as waiting_input', { skip }, async () => {
  const s = await client.stream({ session_id: await session(), command: `python3 -c 'input()'`, pty: true });
  const it = s.events[Symbol.asyncIterator]();
  let ev: StreamEvent | undefined;
  do ev = (await it.next()).value as StreamEvent | undefined;
  while (ev && ev.event !== 'waiting_input' && ev.event !== 'exit');
  assert.equal(ev?.event, 'waiting_input');
  await client.input(s.execId, '\r');
  do ev = (await it.next()).value as StreamEvent | undefined;
  while (ev && ev.event !== 'exit');
  assert.equal(ev?.event === 'exit' && ev.exit_code, 0);
});

test('session.destroy stops a terminal command and everything on it', { skip }, async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'sleep 300 & sleep 300; wait', pty: true });
  await client.request('session.destroy', { session_id: sid });
  const got = await collectStream(s.events);
  assert.equal(got.exit?.cancelled, true);
  // Dead ones may wait a moment to be reaped (zombies, state Z): none may be alive.
  const left = await client.run({ session_id: await session(), command: `ps -o stat= -s ${s.response.pid} | grep -vc '^Z' || true` });
  assert.equal(left.stdout, '0\n');
});
