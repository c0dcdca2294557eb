import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { makePrivateDir } from '../helpers/launch';
import { httpRequest, httpUrlOf } from '../helpers/http';
import { AUTH_FAILURE_BURST } from '../../src/server/http/auth';

const TOKEN = randomBytes(24).toString('hex'); // 48 characters
let daemon: TestDaemon;
let url: string;
let scratch: string;

before(async () => {
  scratch = makePrivateDir('trl-http-auth-');
  daemon = await TestDaemon.start({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN } });
  url = httpUrlOf(daemon);
});
after(async () => {
  await daemon.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

const json = { 'Content-Type': 'application/json' };
const bearer = (t: string) => ({ ...json, Authorization: `Bearer ${t}` });
// Each test that fails authentication on purpose comes from its own loopback address, so the
// per-address rate limit of one test never spills into another.
async function call(token: string | null, body: object, localAddress = '127.0.0.1') {
  const r = await httpRequest(url, { headers: token === null ? json : bearer(token), body, localAddress });
  return { status: r.status, headers: r.headers, body: JSON.parse(r.text) };
}

test('the right token: the same envelope as the socket, id echoed', async () => {
  const r = await call(TOKEN, { id: 'ping-1', method: 'system.ping' });
  assert.equal(r.status, 200);
  assert.equal(r.body.id, 'ping-1');
  assert.equal(r.body.ok, true);
  assert.equal(typeof r.body.data.version, 'string');
  const bad = await call(TOKEN, { id: 'nope-1', method: 'no.such' });
  assert.equal(bad.status, 200, 'protocol errors are envelopes, not HTTP errors');
  assert.equal(bad.body.error.code, 'METHOD_NOT_FOUND');
});

test('no token: 401 AUTH_FAILED with the envelope', async () => {
  const r = await call(null, { id: 'x-1', method: 'system.ping' }, '127.0.0.2');
  assert.equal(r.status, 401);
  assert.deepEqual(Object.keys(r.body).sort(), ['error', 'id', 'ok']);
  assert.equal(r.body.id, 'x-1');
  assert.equal(r.body.ok, false);
  assert.equal(r.body.error.code, 'AUTH_FAILED');
  assert.match(String(r.headers['www-authenticate']), /^Bearer/);
});

test('a wrong token of the right length: 401', async () => {
  const wrong = TOKEN.slice(0, -1) + (TOKEN.endsWith('0') ? '1' : '0');
  assert.equal(wrong.length, TOKEN.length);
  const r = await call(wrong, { id: 'x-2', method: 'system.ping' }, '127.0.0.3');
  assert.equal(r.status, 401);
  assert.equal(r.body.error.code, 'AUTH_FAILED');
});

test('tokens of other lengths (a prefix, longer, one character, empty) take the same path: 401, never a 500', async () => {
  for (const t of [TOKEN.slice(0, 10), TOKEN + 'x', 'a', TOKEN.repeat(40), '']) {
    const r = await call(t, { id: 'x-3', method: 'system.ping' }, '127.0.0.4');
    assert.equal(r.status, 401, `token of length ${t.length}`);
    assert.equal(r.body.error.code, 'AUTH_FAILED');
  }
  const malformed = await httpRequest(url, { headers: { ...json, Authorization: `Basic ${TOKEN}` }, body: { id: 'x-4', method: 'system.ping' }, localAddress: '127.0.0.4' });
  assert.equal(malformed.status, 401);
  assert.equal(JSON.parse(malformed.text).error.code, 'AUTH_FAILED');
});

test('a 401 executes nothing: no session created, no command run', async () => {
  const ok = await call(TOKEN, { id: 's', method: 'session.create', params: { working_dir: scratch } });
  const sid = ok.body.data.session_id as string;
  const marker = join(scratch, 'should-not-exist');
  const denied = await call('wrong-token-' + 'z'.repeat(40), { id: 'e', method: 'exec.run', params: { session_id: sid, command: `touch ${marker}` } }, '127.0.0.5');
  assert.equal(denied.status, 401);
  const deniedCreate = await call(null, { id: 'c', method: 'session.create', params: { name: 'intruder' } }, '127.0.0.5');
  assert.equal(deniedCreate.status, 401);
  const info = await call(TOKEN, { id: 'i', method: 'session.info', params: { session_id: sid } });
  assert.equal(info.body.data.command_count, 0);
  const list = await call(TOKEN, { id: 'l', method: 'session.list' });
  assert.deepEqual(
    list.body.data.sessions.map((s: { name: string | null }) => s.name),
    [null],
  );
  assert.equal(existsSync(marker), false);
  // the same command with the right token does run (so the check above can fail)
  const run = await call(TOKEN, { id: 'r', method: 'exec.run', params: { session_id: sid, command: `touch ${marker}` } });
  assert.equal(run.body.data.exit_code, 0);
  assert.equal(existsSync(marker), true);
});

test('failed attempts are logged with the address, without the presented token', async () => {
  const presented = 'presented-secret-' + randomBytes(16).toString('hex');
  await call(presented, { id: 'log-1', method: 'system.ping' }, '127.0.0.6');
  // The answer can outrun the daemon's log pipe to this process.
  await waitFor(() => daemon.logRecords().some((r) => r.msg === 'HTTP authentication failed' && r.remote === '127.0.0.6'));
  const failures = daemon.logRecords().filter((r) => r.msg === 'HTTP authentication failed');
  assert.ok(failures.some((r) => r.remote === '127.0.0.6'), 'the failure is logged with the client address');
  assert.ok(!daemon.logs.includes(presented), 'the presented token is not logged');
  assert.ok(!daemon.logs.includes(TOKEN), 'the real token is not logged');
});

test('repeated failures from one address: 429 for further failures, never for the right token', async () => {
  const d = await TestDaemon.start({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN } });
  try {
    const u = httpUrlOf(d);
    const post = async (t: string, localAddress = '127.0.0.7') => {
      const r = await httpRequest(u, { headers: bearer(t), body: { id: 'rl', method: 'system.ping' }, localAddress });
      return { status: r.status, body: JSON.parse(r.text) };
    };
    assert.equal((await post(TOKEN)).status, 200, 'the right token works before the failures');
    for (let i = 0; i < AUTH_FAILURE_BURST; i++) assert.equal((await post('w'.repeat(40))).status, 401, `failure ${i + 1}`);
    const limited = await post('w'.repeat(40));
    assert.equal(limited.status, 429);
    assert.equal(limited.body.ok, false);
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    // the legitimate client on the same (loopback) address is never limited
    for (let i = 0; i < 3; i++) assert.equal((await post(TOKEN)).status, 200, `the right token after the failures, ${i + 1}`);
    assert.equal((await post('w'.repeat(40))).status, 429);
    await waitFor(() => d.logRecords().some((r) => r.msg === 'HTTP address rate-limited after repeated authentication failures'));
    assert.ok(d.logRecords().some((r) => r.msg === 'HTTP address rate-limited after repeated authentication failures' && r.remote === '127.0.0.7'));
    // per address: another client is not affected
    assert.equal((await post(TOKEN, '127.0.0.8')).status, 200);
    // the socket is not affected
    assert.equal((await d.oneShot({ id: 'sock', method: 'system.ping' })).ok, true);
  } finally {
    await d.dispose();
  }
});
