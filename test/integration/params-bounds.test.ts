import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { TrlClient } from '../../src/client/client';
import { runDaemonToExit, TestDaemon } from '../helpers/daemon';
import { expectError, newSession, run } from '../helpers/requests';

let daemon: TestDaemon;
let c: TrlClient;
let session: string;
before(async () => {
  daemon = await TestDaemon.start();
  c = await daemon.connect();
  session = await newSession(c);
});
after(async () => {
  c.close();
  await daemon.dispose();
});

test('timeout_s below half a millisecond still times the command out (it is not "no timeout")', async () => {
  const r = await run(c, session, 'sleep 3; echo finished', { timeout_s: 0.0004 });
  assert.equal(r.timed_out, true);
  assert.equal(r.stdout, '');
});

test('idle_timeout_s below half a millisecond still stops a silent command', async () => {
  const r = await run(c, session, 'sleep 3; echo finished', { idle_timeout_s: 0.0004 });
  assert.equal(r.timed_out, true);
  assert.equal(r.stdout, '');
});

test('session.create refuses an env value exec(2) cannot pass, naming the variable; the session would be unusable', async () => {
  await expectError(c.request('session.create', { env: { HUGE: 'v'.repeat(130 * 1024) } }), 'INVALID_PARAMS', /env\.HUGE: .*E2BIG/);
  await expectError(run(c, session, 'true', { env: { HUGE: 'v'.repeat(130 * 1024) } }), 'INVALID_PARAMS', /env\.HUGE/);
  // A large value that fits is accepted and reaches the command.
  const s = await newSession(c, { env: { LARGE: 'v'.repeat(100 * 1024) } });
  assert.equal((await run(c, s, 'printf %s "$LARGE" | wc -c')).stdout.trim(), String(100 * 1024));
});

test('an env key written as NAME=VALUE is refused without the value in the message or the log', async () => {
  const err = await expectError(c.request('session.create', { env: { 'DB_PASSWORD=pa55-w0rd-q7': 'x' } }), 'INVALID_PARAMS', /DB_PASSWORD/);
  assert.doesNotMatch(err.message, /pa55-w0rd-q7/);
  assert.ok(!daemon.logs.includes('pa55-w0rd-q7'), 'the value is not logged');
});

test('TRL_IDLE_EXIT_S beyond what a timer can wait stops trld at start, naming the setting', async () => {
  const exit = await runDaemonToExit({ env: { TRL_IDLE_EXIT_S: String(25 * 24 * 3600) } });
  assert.equal(exit.code, 2);
  assert.match(exit.stderr, /TRL_IDLE_EXIT_S .*2\^31-1 ms/);
});
