import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { expectError, newSession, run } from '../helpers/requests';

/**
 * Out of file descriptors, trld refuses new work instead of dying: with
 * RLIMIT_NOFILE 128, 200 idle connections neither crash the pressure
 * sampler (process.memoryUsage reads /proc) nor the accept loop, and once
 * they go, work is accepted again.
 */

let daemon: TestDaemon;
test.before(async () => {
  daemon = await TestDaemon.start({ prefix: ['prlimit', '--nofile=128:128'], env: { TRL_FIRST_REQUEST_TIMEOUT_S: '0', TRL_MAX_CONNECTIONS: '1000' } });
});
test.after(() => daemon.dispose());

const connect = (path: string): Promise<RawWire | null> => RawWire.open(path).catch(() => null);

test('200 idle connections under RLIMIT_NOFILE 128: no crash, RESOURCE_PRESSURE, then recovery', async (t) => {
  const client = await daemon.connect();
  const sid = await newSession(client);
  const idle: RawWire[] = [];
  for (let i = 0; i < 200; i++) {
    const s = await connect(daemon.socketPath);
    if (s) idle.push(s);
  }
  await sleep(1500); // two samples of the pressure gauge, each of which used to throw EMFILE
  assert.equal(daemon.child.exitCode, null, `trld exited: ${daemon.stderr}`);
  const stats = await client.request<{ open_fds: number; resource_pressure: string | null }>('system.stats');
  t.diagnostic(`connections opened by the client: ${idle.length}; daemon open_fds ${stats.open_fds}; pressure: ${stats.resource_pressure}`);
  assert.ok(stats.resource_pressure, 'no resource pressure reported');
  await expectError(run(client, sid, 'echo hi'), 'RESOURCE_PRESSURE');
  for (const s of idle) s.close();
  assert.ok(await waitFor(async () => (await client.request<{ resource_pressure: string | null }>('system.stats')).resource_pressure === null, 10_000), 'pressure never passed');
  assert.equal((await run(client, sid, 'echo back')).stdout, 'back\n');
  // New connections are accepted again.
  const fresh = await daemon.connect();
  await fresh.request('system.ping');
  fresh.close();
  client.close();
  assert.equal(daemon.child.exitCode, null);
  assert.ok(!daemon.logs.includes('"level":60'), 'a fatal line was logged');
});
