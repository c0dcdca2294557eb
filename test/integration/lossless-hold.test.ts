import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { expectError, newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

/**
 * A lossless reader that stops reading may hold a command's output, never
 * its end: the wall timeout, exec.cancel, session.destroy and SIGTERM all
 * still end the exec and free the session.
 */

const TRL = resolve(__dirname, '../../../bin/trl');
const FLOOD = "yes 'a line long enough to fill the pipe and the socket quickly, over and over again'";
let daemon: TestDaemon;
let client: TrlClient;
test.before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } });
  client = await daemon.connect();
});
test.after(async () => {
  client.close();
  await daemon.dispose();
});

/** A connection that starts a lossless exec.stream and then never reads a byte. */
async function stalledReader(d: TestDaemon, params: object): Promise<RawWire> {
  const w = await RawWire.open(d.socketPath, { paused: true });
  w.send({ id: 'st', method: 'exec.stream', params: { lossless: true, ...params } });
  return w;
}

async function runningExec(c: TrlClient, sid: string): Promise<string> {
  let id = '';
  assert.ok(await waitFor(async () => {
    const e = (await c.execs(sid)).find((x) => x.state === 'running');
    if (e) id = e.exec_id;
    return e !== undefined;
  }));
  return id;
}

const stateOf = async (c: TrlClient, sid: string, execId: string) => (await c.execs(sid)).find((e) => e.exec_id === execId)?.state;

test('the wall timeout ends the exec of a lossless reader that stopped reading; the session is usable again', async (t) => {
  const sid = await newSession(client);
  const reader = await stalledReader(daemon, { session_id: sid, command: FLOOD, timeout_s: 1.5 });
  const execId = await runningExec(client, sid);
  assert.ok(await waitFor(async () => (await stateOf(client, sid, execId)) === 'exited', 15_000), 'the exec is still running after its timeout');
  const [e] = (await client.execs(sid)).filter((x) => x.exec_id === execId);
  t.diagnostic(`timed_out: ${e!.timed_out}, stdout produced while held: ${e!.stdout_bytes} bytes`);
  assert.equal(e!.timed_out, true);
  assert.equal((await run(client, sid, 'echo free')).stdout, 'free\n');
  reader.close();
});

test('exec.cancel and session.destroy end it too', async () => {
  const sid = await newSession(client);
  const reader = await stalledReader(daemon, { session_id: sid, command: FLOOD, timeout_s: 0 });
  const execId = await runningExec(client, sid);
  await new Promise((r) => setTimeout(r, 500)); // the socket fills
  await client.cancel(execId);
  assert.ok(await waitFor(async () => (await stateOf(client, sid, execId)) === 'exited', 15_000), 'exec.cancel changed nothing');
  await expectError(client.cancel(execId), 'EXEC_NOT_RUNNING');

  const reader2 = await stalledReader(daemon, { session_id: sid, command: FLOOD, timeout_s: 0 });
  await runningExec(client, sid);
  await new Promise((r) => setTimeout(r, 500));
  const destroyed = await client.request<{ state: string }>('session.destroy', { session_id: sid });
  assert.equal(destroyed.state, 'terminated');
  reader.close();
  reader2.close();
});

test('a suspended trl exec does not outlive its timeout', async () => {
  const before = (await client.execs()).map((e) => e.exec_id);
  const cli = spawn(process.execPath, [TRL, 'exec', '--timeout', '2', '--', FLOOD], {
    cwd: '/tmp',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TRL_SOCKET_PATH: daemon.socketPath },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let execId = '';
  assert.ok(await waitFor(async () => {
    const e = (await client.execs()).find((x) => !before.includes(x.exec_id));
    if (e) execId = e.exec_id;
    return e !== undefined;
  }, 10_000));
  cli.kill('SIGSTOP'); // Ctrl-Z
  const ended = await waitFor(async () => (await client.execs()).find((e) => e.exec_id === execId)?.state === 'exited', 15_000);
  cli.kill('SIGCONT');
  cli.stdout!.resume();
  const code = await new Promise((r) => cli.on('close', r));
  assert.ok(ended, 'the exec of a stopped trl exec kept running past its timeout');
  assert.notEqual(code, 0);
});

test('SIGTERM completes while a lossless reader holds an exec', async () => {
  const d = await TestDaemon.start();
  try {
    const c = await d.connect();
    const sid = await newSession(c);
    const reader = await stalledReader(d, { session_id: sid, command: FLOOD, timeout_s: 0 });
    await runningExec(c, sid);
    await new Promise((r) => setTimeout(r, 500));
    const exit = await d.stop('SIGTERM', 20_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    reader.close();
    c.destroy();
  } finally {
    await d.dispose();
  }
});
