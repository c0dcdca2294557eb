import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { TestDaemon, waitFor, withDaemonAndClient } from '../helpers/daemon';
import { livePidsWithEnv } from '../helpers/proc';
import { readUntil } from '../helpers/terminal';
import { collectStream, type TrlClient } from '../../src/client/client';

/**
 * What a pipe command has, a terminal command has too: attach by offset,
 * kill_on_disconnect, cancel, the idle timeout, rlimits, the restart sweep.
 */

const skip = process.env.TRL_SPAWNER === 'child_process' ? 'TRL_SPAWNER=child_process: a controlling terminal needs the native process layer' : false;

let daemon: TestDaemon;
let client: TrlClient;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } }, (d, c) => {
  daemon = d;
  client = c;
});

const session = async (c: TrlClient, extra: object = {}): Promise<string> => (await c.createSession({ working_dir: '/tmp', ...extra })).session_id;

function marker(): { env: Record<string, string>; needle: string } {
  const name = `TRL_TEST_PTY_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  return { env: { [name]: '1' }, needle: `${name}=1` };
}

test('a second client attaches to a terminal command by offset and gets the rest, without gaps', { skip }, async () => {
  const c1 = await daemon.connect();
  const s = await c1.stream({ session_id: await session(c1), command: `printf 'one\\n'; read x; printf 'two\\n'`, pty: true });
  const seen = await readUntil(s.events[Symbol.asyncIterator](), (out) => out.includes('one'));
  c1.destroy();
  const c2 = await daemon.connect();
  const offset = Buffer.byteLength(seen);
  const a = await c2.attach(s.execId, { stdout: offset });
  const collecting = collectStream(a.events, { from: { stdout: offset } });
  await client.input(s.execId, '\r');
  const got = await collecting;
  c2.close();
  assert.deepEqual(got.gaps, []);
  assert.equal(got.exit?.exit_code, 0);
  assert.match(seen + got.stdout.toString(), /^one\r\n[\s\S]*two\r\n$/);
  assert.equal(got.exit?.stdout_bytes, Buffer.byteLength(seen) + got.stdout.length);
});

test('kill_on_disconnect: a terminal command ends with the connection that started it', { skip }, async () => {
  const m = marker();
  const c1 = await daemon.connect();
  const s = await c1.stream({ session_id: await session(c1), command: 'while :; do echo tick; sleep 0.05; done', env: m.env, pty: true, kill_on_disconnect: true });
  await readUntil(s.events[Symbol.asyncIterator](), (out) => out.includes('tick'));
  c1.destroy();
  assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0), 'its processes are gone');
  assert.ok(await waitFor(async () => (await client.execs()).find((e) => e.exec_id === s.execId)?.cancelled === true), 'exec.list shows it cancelled');
});

test('exec.cancel and the idle timeout stop a terminal command and say so', { skip }, async () => {
  const sid = await session(client);
  const s = await client.stream({ session_id: sid, command: 'echo started; sleep 100', pty: true });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (out) => out.includes('started'));
  await client.cancel(s.execId);
  const rest = await collectStream({ [Symbol.asyncIterator]: () => it });
  assert.equal(rest.exit?.cancelled, true);
  const idle = await client.run({ session_id: sid, command: 'sleep 100', pty: true, idle_timeout_s: 0.5 });
  assert.equal(idle.timed_out, true);
  assert.equal(idle.timeout, 'idle');
});

test('a terminal command gets the session rlimits', { skip }, async () => {
  const sid = await session(client, { limits: { nofile: 77 } });
  const r = await client.run({ session_id: sid, command: 'ulimit -n', pty: true });
  assert.equal(r.stdout, '77\r\n');
});

test('after trld is SIGKILLed, the restart sweep kills a terminal command it left running', { skip }, async () => {
  const m = marker();
  const first = await TestDaemon.start();
  let second: TestDaemon | null = null;
  try {
    const c = await first.connect();
    const s = await c.stream({ session_id: await session(c), command: 'echo started; sleep 600', env: m.env, pty: true });
    await readUntil(s.events[Symbol.asyncIterator](), (out) => out.includes('started'));
    assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length >= 2), 'the shell and sleep run');
    await first.stop('SIGKILL');
    second = await TestDaemon.start({ env: { TRL_RUNTIME_DIR: join(first.dir, 'run') } });
    assert.ok(await waitFor(() => livePidsWithEnv(m.needle).length === 0, 5000), `survivors after the restart: ${livePidsWithEnv(m.needle)}`);
  } finally {
    for (const pid of livePidsWithEnv(m.needle)) process.kill(pid, 'SIGKILL');
    await second?.dispose();
    await first.dispose();
  }
});
