import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { livePidsWithEnv } from '../helpers/proc';
import { expectError } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

/**
 * What a client holds is tied to it: a temporary session dies with the
 * connection that created it, and a connection that never sends a request
 * is closed so that silent connections cannot fill TRL_MAX_CONNECTIONS.
 */

const TRL = resolve(__dirname, '../../../bin/trl');
let daemon: TestDaemon;
let client: TrlClient;
test.before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_MAX_CONNECTIONS: '6', TRL_FIRST_REQUEST_TIMEOUT_S: '1', TRL_DEFAULT_TIMEOUT_S: '60' } });
  client = await daemon.connect();
});
test.after(async () => {
  client.close();
  await daemon.dispose();
});

const sessionIds = async () => (await client.request<{ sessions: { session_id: string }[] }>('session.list')).sessions.map((s) => s.session_id);

test('a temporary session is destroyed, command and all, when its connection closes', async () => {
  const other = await daemon.connect();
  const marker = `TIE_${randomUUID().replace(/-/g, '')}`;
  const s = await other.createSession({ temporary: true });
  await other.stream({ session_id: s.session_id, command: 'sleep 300', env: { [marker]: '1' } });
  assert.ok(await waitFor(() => livePidsWithEnv(marker).length > 0));
  const kept = await client.createSession({});
  other.destroy(); // as if the process were SIGKILLed: no session.destroy is sent
  assert.ok(await waitFor(async () => !(await sessionIds()).includes(s.session_id), 10_000), 'the temporary session outlived its connection');
  assert.ok(await waitFor(() => livePidsWithEnv(marker).length === 0, 10_000), 'its command outlived it');
  assert.ok((await sessionIds()).includes(kept.session_id), 'an ordinary session is left alone');
});

test('trl exec killed with SIGKILL leaves no session behind', async () => {
  const marker = `CLI_${randomUUID().replace(/-/g, '')}`;
  const before = await sessionIds();
  const cli = spawn(process.execPath, [TRL, 'exec', '--env', `${marker}=1`, '--', 'sleep 300'], {
    cwd: '/tmp',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TRL_SOCKET_PATH: daemon.socketPath },
    stdio: 'ignore',
  });
  assert.ok(await waitFor(() => livePidsWithEnv(marker).length > 0, 10_000), 'the command never started');
  cli.kill('SIGKILL');
  assert.ok(await waitFor(async () => (await sessionIds()).length === before.length, 10_000), 'the CLI\'s session is still there');
  assert.ok(await waitFor(() => livePidsWithEnv(marker).length === 0, 10_000));
});

test('params.temporary must be a boolean', async () => {
  await expectError(client.request('session.create', { temporary: 'yes' }), 'INVALID_PARAMS', /temporary/);
});

test('at the connection limit, connections that never sent a request give way to a new client', async () => {
  // client holds one slot; fill the other five, and one more that the limit refuses.
  const silent = await Promise.all(Array.from({ length: 6 }, () => RawWire.open(daemon.socketPath).catch(() => null)));
  let got: unknown = null;
  const ok = await waitFor(async () => {
    const fresh = await daemon.connect().catch(() => null);
    if (!fresh) return false;
    try {
      got = await fresh.request('system.ping');
      return true;
    } catch {
      return false;
    } finally {
      fresh.destroy();
    }
  }, 10_000, 200);
  assert.ok(ok, 'silent connections kept every other client out');
  assert.ok(got !== null);
  assert.ok(silent.some((s) => s === null || s.ended), 'no silent connection was closed');
  for (const s of silent) s?.close();
  // The long-lived client that did send requests is untouched.
  await client.request('system.ping');
});

test('below the limit, a connection that waits before its first request is kept', async () => {
  const s = await RawWire.open(daemon.socketPath);
  await new Promise((r) => setTimeout(r, 2500)); // over TRL_FIRST_REQUEST_TIMEOUT_S
  s.send({ id: 'late', method: 'system.ping' });
  assert.ok(await waitFor(() => s.lines.join('\n').includes('"late"'), 5000), 'the late first request was not answered');
  assert.match(s.lines.join('\n'), /"ok":true/);
  s.close();
});
