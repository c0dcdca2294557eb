import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { livePidsWithEnv } from '../helpers/proc';
import { expectError, killMarked, newSession, run, uniqueMarker } from '../helpers/requests';

let maxed: TestDaemon;

let idle: TestDaemon;
let ttl: TestDaemon;
let quick: TestDaemon;
before(async () => {
  [quick, maxed, idle, ttl] = await Promise.all([
    TestDaemon.start({ env: { TRL_DEFAULT_TIMEOUT_S: '0.5' } }),
    TestDaemon.start({ env: { TRL_MAX_SESSIONS: '2' } }),
    TestDaemon.start({ env: { TRL_MAX_IDLE_SEC: '1' } }),
    TestDaemon.start({ env: { TRL_SESSION_TTL_SEC: '1', TRL_MAX_IDLE_SEC: '0' } }),
  ]);
});
after(() => {
  killMarked();
  return Promise.all([maxed.dispose(), idle.dispose(), ttl.dispose(), quick.dispose()]);
});

const marker = () => `${uniqueMarker()}=1`;

test('MAX_SESSIONS_REACHED at TRL_MAX_SESSIONS=2; a slot frees when a session is destroyed', async () => {
  const c = await maxed.connect();
  const a = await newSession(c);
  await newSession(c);
  const err = await expectError(c.request('session.create', {}), 'MAX_SESSIONS_REACHED');
  assert.ok(err.message.length > 0);
  // concurrent creates at the limit do not overshoot it
  await c.request('session.destroy', { session_id: a });
  const results = await Promise.allSettled([c.request('session.create', {}), c.request('session.create', {}), c.request('session.create', {})]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal((await c.request<any>('session.list')).sessions.length, 2);
  assert.equal((await c.request<any>('system.stats')).active_sessions, 2);
  c.close();
});

test('an idle session expires (TRL_MAX_IDLE_SEC=1) and its background processes are killed', async () => {
  const c = await idle.connect();
  const mark = marker();
  const sid = await newSession(c, { env: { [mark.split('=')[0]!]: '1' } });
  await run(c, sid, 'sleep 300 > /dev/null 2>&1 &');
  assert.equal(livePidsWithEnv(mark).length, 1, 'background job running');
  assert.ok(
    await waitFor(async () => !(await c.request<any>('session.list')).sessions.some((s: any) => s.session_id === sid), 8000, 100),
    'the idle session was destroyed',
  );
  await expectError(c.request('session.info', { session_id: sid }), 'SESSION_NOT_FOUND');
  assert.ok(await waitFor(() => livePidsWithEnv(mark).length === 0, 5000), 'its processes are gone');
  c.close();
});

test('a session running a command longer than the idle limit is not expired', async () => {
  const c = await idle.connect();
  const sid = await newSession(c);
  const r = await run(c, sid, 'sleep 2; echo done');
  assert.equal(r.stdout, 'done\n');
  assert.equal(r.exit_code, 0);
  assert.equal((await c.request<any>('session.info', { session_id: sid })).state, 'idle');
  await c.request('session.destroy', { session_id: sid });
  c.close();
});

test('a session past its TTL (TRL_SESSION_TTL_SEC=1) is destroyed, running command and its tree included', async () => {
  const c = await ttl.connect();
  const mark = marker();
  const sid = await newSession(c, { env: { [mark.split('=')[0]!]: '1' } });
  const pending = run(c, sid, `setsid sh -c 'sleep 300' & sleep 300`, { timeout_s: 0 }).then(
    (r) => r,
    (e: Error) => e,
  );
  assert.ok(await waitFor(() => livePidsWithEnv(mark).length >= 3, 5000));
  assert.ok(
    await waitFor(async () => !(await c.request<any>('session.list')).sessions.some((s: any) => s.session_id === sid), 8000, 100),
    'the session was destroyed at its TTL',
  );
  await pending;
  assert.ok(await waitFor(() => livePidsWithEnv(mark).length === 0, 5000), `left alive: ${livePidsWithEnv(mark)}`);
  await expectError(run(c, sid, 'true'), 'SESSION_NOT_FOUND');
  c.close();
});

test('the runtime default timeout (TRL_DEFAULT_TIMEOUT_S) applies when neither command nor session sets one', async () => {
  const c = await quick.connect();
  const sid = await newSession(c);
  assert.equal((await c.request<any>('session.info', { session_id: sid })).timeout_s, 0.5);
  const r = await run(c, sid, 'echo begun; sleep 30');
  assert.equal(r.timed_out, true);
  assert.equal(r.stdout, 'begun\n');
  const longer = await newSession(c, { timeout_s: 30 });
  assert.equal((await run(c, longer, 'sleep 1; echo ok')).timed_out, false, 'the session timeout overrides the default');
  c.close();
});
