import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { RFC3339_UTC_RE, UUID_RE, expectError, newSession, run } from '../helpers/requests';
import { RawWire } from '../helpers/raw-wire';
import type { TrlClient } from '../../src/client/client';

let daemon: TestDaemon;
let small: TestDaemon;
let c: TrlClient;
before(async () => {
  [daemon, small] = await Promise.all([TestDaemon.start(), TestDaemon.start({ env: { TRL_MAX_REQUEST_BYTES: '1024' } })]);
  c = await daemon.connect();
});
after(async () => {
  c.close();
  await Promise.all([daemon.dispose(), small.dispose()]);
});

const isInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v);

test('system.ping: uptime_s (int) and version (string), id echoed', async () => {
  const r = await daemon.oneShot({ id: 'ping-1', method: 'system.ping' });
  assert.equal(r.id, 'ping-1');
  assert.equal(r.ok, true);
  assert.ok(isInt(r.data.uptime_s) && r.data.uptime_s >= 0);
  assert.equal(typeof r.data.version, 'string');
});

test('params may be missing, null or {}', async () => {
  for (const req of [{ id: 'a', method: 'system.ping' }, { id: 'b', method: 'system.ping', params: null }, { id: 'c', method: 'system.ping', params: {} }]) {
    const r = await daemon.oneShot(req);
    assert.equal(r.ok, true, JSON.stringify(r));
  }
});

test('system.stats: every field an int, counts follow what happened', async () => {
  const before = (await daemon.oneShot({ id: 's', method: 'system.stats' })).data;
  for (const k of ['active_sessions', 'total_commands_run', 'uptime_s', 'memory_rss_bytes', 'open_fds']) assert.ok(isInt(before[k]), `${k}: ${before[k]}`);
  const sid = await newSession(c);
  await run(c, sid, 'true');
  await run(c, sid, 'false');
  const now = await c.request<any>('system.stats');
  assert.equal(now.active_sessions, before.active_sessions + 1);
  assert.equal(now.total_commands_run, before.total_commands_run + 2);
  assert.ok(now.memory_rss_bytes > 10 * 1024 * 1024 && now.memory_rss_bytes < 1024 * 1024 * 1024, `rss ${now.memory_rss_bytes}`);
  const fds = readdirSync(`/proc/${daemon.pid}/fd`).length;
  assert.ok(Math.abs(now.open_fds - fds) <= 3, `open_fds ${now.open_fds}, /proc says ${fds}`);
  await c.request('session.destroy', { session_id: sid });
});

test('session.create: exact data fields and defaults', async () => {
  const r = await daemon.oneShot({ id: 'cr', method: 'session.create', params: {} });
  assert.equal(r.ok, true, JSON.stringify(r));
  const d = r.data;
  assert.match(d.session_id, UUID_RE);
  assert.equal(d.shell, '/bin/sh');
  assert.equal(d.working_dir, '/tmp');
  assert.equal(d.state, 'idle');
  assert.match(d.created_at, RFC3339_UTC_RE);
  assert.ok(Math.abs(Date.parse(d.created_at) - Date.now()) < 60_000);
  await c.request('session.destroy', { session_id: d.session_id });
});

test('session ids are distinct random UUIDs', async () => {
  const ids = await Promise.all(Array.from({ length: 5 }, () => newSession(c)));
  assert.equal(new Set(ids).size, 5);
  for (const id of ids) assert.match(id, UUID_RE);
  await Promise.all(ids.map((session_id) => c.request('session.destroy', { session_id })));
});

test('session.create with name, shell, working_dir, timeout_s; session.info and session.list show them', async () => {
  const created = await c.request<any>('session.create', { name: 'build', shell: '/bin/bash', working_dir: '/usr', timeout_s: 42, env: { A: '1' } });
  assert.equal(created.shell, '/bin/bash');
  assert.equal(created.working_dir, '/usr');
  const info = await c.request<any>('session.info', { session_id: created.session_id });
  for (const k of ['session_id', 'name', 'shell', 'working_dir', 'state', 'env_keys', 'created_at', 'last_activity', 'command_count', 'timeout_s']) {
    assert.ok(k in info, `session.info lacks ${k}`);
  }
  assert.equal(info.session_id, created.session_id);
  assert.equal(info.name, 'build');
  assert.equal(info.state, 'idle');
  assert.equal(info.timeout_s, 42);
  assert.equal(info.command_count, 0);
  assert.match(info.created_at, RFC3339_UTC_RE);
  assert.match(info.last_activity, RFC3339_UTC_RE);
  assert.ok(Array.isArray(info.env_keys) && info.env_keys.includes('A'));
  await run(c, created.session_id, 'true');
  assert.equal((await c.request<any>('session.info', { session_id: created.session_id })).command_count, 1);

  const list = await c.request<any>('session.list');
  const mine = list.sessions.find((s: any) => s.session_id === created.session_id);
  assert.ok(mine, 'listed');
  for (const k of ['session_id', 'name', 'shell', 'working_dir', 'state', 'created_at']) assert.ok(k in mine, `list entry lacks ${k}`);
  assert.equal(mine.name, 'build');
  const unnamed = await newSession(c);
  assert.equal((await c.request<any>('session.list')).sessions.find((s: any) => s.session_id === unnamed).name, null);
  await c.request('session.destroy', { session_id: created.session_id });
  await c.request('session.destroy', { session_id: unnamed });
});

test('session.destroy: exactly session_id and state "terminated"; the session is gone', async () => {
  const sid = await newSession(c);
  const r = await daemon.oneShot({ id: 'd', method: 'session.destroy', params: { session_id: sid } });
  assert.deepEqual(r, { id: 'd', ok: true, data: { session_id: sid, state: 'terminated' } });
  assert.ok(!(await c.request<any>('session.list')).sessions.some((s: any) => s.session_id === sid));
  await expectError(c.request('session.info', { session_id: sid }), 'SESSION_NOT_FOUND');
});

test('exec.run: stdout, stderr, exit_code, duration_ms, timed_out', async () => {
  const sid = await newSession(c);
  const r = await daemon.oneShot({ id: 'x', method: 'exec.run', params: { session_id: sid, command: 'echo out; echo err >&2; exit 3' } });
  assert.equal(r.ok, true);
  assert.equal(r.data.stdout, 'out\n');
  assert.equal(r.data.stderr, 'err\n');
  assert.equal(r.data.exit_code, 3);
  assert.ok(isInt(r.data.duration_ms) && r.data.duration_ms >= 0);
  assert.equal(r.data.timed_out, false);
  await c.request('session.destroy', { session_id: sid });
});

test('SESSION_NOT_FOUND for info, destroy and exec.run of an unknown session', async () => {
  const ghost = randomUUID();
  await expectError(c.request('session.info', { session_id: ghost }), 'SESSION_NOT_FOUND');
  await expectError(c.request('session.destroy', { session_id: ghost }), 'SESSION_NOT_FOUND');
  await expectError(c.request('exec.run', { session_id: ghost, command: 'true' }), 'SESSION_NOT_FOUND');
});

test('INVALID_PARAMS names the offending field', async () => {
  const sid = await newSession(c);
  const cases: [string, object, RegExp][] = [
    ['session.create', { shell: 5 }, /shell/],
    ['session.create', { env: { A: 1 } }, /env/],
    ['session.create', { env: 'A=1' }, /env/],
    ['session.create', { timeout_s: -1 }, /timeout_s/],
    ['session.create', { working_dir: ['/tmp'] }, /working_dir/],
    ['session.info', {}, /session_id/],
    ['session.destroy', { session_id: sid, force: 'yes' }, /force/],
    ['exec.run', { session_id: sid }, /command/],
    ['exec.run', { command: 'true' }, /session_id/],
    ['exec.run', { session_id: sid, command: 'true', timeout_s: 'soon' }, /timeout_s/],
    ['exec.run', { session_id: sid, command: 'true', stdin: 5 }, /stdin/],
    ['exec.run', { session_id: sid, command: 'true', env: { B: false } }, /env/],
  ];
  for (const [method, params, field] of cases) {
    const r = await daemon.oneShot({ id: 'inv', method, params });
    assert.equal(r.ok, false, `${method} ${JSON.stringify(params)} succeeded`);
    assert.equal(r.id, 'inv');
    assert.equal(r.error.code, 'INVALID_PARAMS', `${method} ${JSON.stringify(params)}`);
    assert.match(r.error.message, field, `${method} ${JSON.stringify(params)}: ${r.error.message}`);
  }
  assert.equal((await c.request<any>('session.info', { session_id: sid })).state, 'idle', 'the session is untouched');
  await c.request('session.destroy', { session_id: sid });
});

test('an unknown method gets METHOD_NOT_FOUND naming it', async () => {
  const r = await daemon.oneShot({ id: 'm', method: 'session.frobnicate', params: {} });
  assert.equal(r.ok, false);
  assert.equal(r.id, 'm');
  assert.equal(r.error.code, 'METHOD_NOT_FOUND');
  assert.match(r.error.message, /session\.frobnicate/);
});

test('a one-shot client: connect, one line, read one line, close — many in a row and at once', async () => {
  for (let i = 0; i < 5; i++) assert.equal((await daemon.oneShot({ id: `o${i}`, method: 'system.ping' })).id, `o${i}`);
  const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => daemon.oneShot({ id: `p${i}`, method: 'system.ping' })));
  rs.forEach((r, i) => assert.deepEqual([r.id, r.ok], [`p${i}`, true]));
});

test('a socat-style client (request, then half-close) still gets its answer, even for a slow command', async () => {
  const sid = await newSession(c);
  const conn = await RawWire.open(daemon.socketPath);
  conn.socket.end(JSON.stringify({ id: 'half', method: 'exec.run', params: { session_id: sid, command: 'sleep 0.5; echo late' } }) + '\n');
  await conn.waitEnd();
  assert.equal(conn.messages.length, 1, JSON.stringify(conn.lines));
  assert.equal(conn.messages[0].id, 'half');
  assert.equal(conn.messages[0].data.stdout, 'late\n');
  await c.request('session.destroy', { session_id: sid });
});

test('numeric ids are echoed as sent; a repeated id is answered each time', async () => {
  const conn = await RawWire.open(daemon.socketPath);
  conn.send('{"id":17,"method":"system.ping"}');
  conn.send('{"id":"dup","method":"system.ping"}');
  conn.send('{"id":"dup","method":"system.ping"}');
  const rs = await conn.waitLines(3);
  assert.ok(rs.some((r) => r.id === 17 && r.ok));
  assert.equal(rs.filter((r) => r.id === 'dup' && r.ok).length, 2);
  conn.close();
});

test('a client that disconnects while its command runs: the daemon survives and the session becomes idle again', async () => {
  const sid = await newSession(c);
  const conn = await RawWire.open(daemon.socketPath);
  conn.send({ id: 'gone', method: 'exec.run', params: { session_id: sid, command: 'sleep 0.3; head -c 1000000 /dev/zero' } });
  await waitFor(async () => (await c.request<any>('session.info', { session_id: sid })).state === 'running', 5000);
  conn.close();
  assert.ok(await waitFor(async () => (await c.request<any>('session.info', { session_id: sid })).state === 'idle', 10_000), 'session back to idle');
  assert.equal((await run(c, sid, 'echo alive')).stdout, 'alive\n');
  assert.equal((await daemon.oneShot({ id: 'p', method: 'system.ping' })).ok, true);
  await c.request('session.destroy', { session_id: sid });
});

test('a kept connection: a slow exec.run does not hold back a later ping (answered out of order)', async () => {
  const sid = await newSession(c);
  const conn = await RawWire.open(daemon.socketPath);
  conn.send({ id: 'slow', method: 'exec.run', params: { session_id: sid, command: 'sleep 1; echo done' } });
  conn.send({ id: 'fast', method: 'system.ping' });
  const first = await conn.waitLines(1);
  assert.equal(first[0].id, 'fast', 'the ping was answered first');
  const slow = await conn.waitId('slow');
  assert.equal(slow.data.stdout, 'done\n');
  conn.close();
  await c.request('session.destroy', { session_id: sid });
});

test('a kept connection with many requests in flight: each answered once, matched by id', async () => {
  const sids = await Promise.all(Array.from({ length: 4 }, () => newSession(c)));
  const conn = await RawWire.open(daemon.socketPath);
  const expected = new Map<string, string | null>();
  sids.forEach((sid, i) => {
    conn.send({ id: `run${i}`, method: 'exec.run', params: { session_id: sid, command: `sleep 0.${4 - i}; echo ${i}` } });
    expected.set(`run${i}`, `${i}\n`);
  });
  for (let i = 0; i < 20; i++) {
    conn.send({ id: `ping${i}`, method: 'system.ping' });
    expected.set(`ping${i}`, null);
  }
  const all = await conn.waitLines(expected.size);
  assert.equal(all.length, expected.size);
  assert.deepEqual(new Set(all.map((r) => r.id)), new Set(expected.keys()));
  for (const r of all) {
    assert.equal(r.ok, true, JSON.stringify(r));
    const out = expected.get(r.id);
    if (out) assert.equal(r.data.stdout, out);
  }
  conn.close();
  await Promise.all(sids.map((session_id) => c.request('session.destroy', { session_id })));
});

test('malformed lines get an error response and the connection stays usable', async () => {
  const conn = await RawWire.open(daemon.socketPath);
  const bad = [
    'this is not json',
    '[1,2,3]',
    '"just a string"',
    '{"id":"nomethod"}',
    '{"id":{"x":1},"method":"system.ping"}',
    '{"id":"badparams","method":"system.ping","params":[1]}',
    '{"method":"system.ping"}',
  ];
  for (const line of bad) conn.send(line);
  conn.send({ id: 'after', method: 'system.ping' });
  const rs = await conn.waitLines(bad.length + 1);
  assert.equal(conn.ended, false, 'connection still open');
  const errors = rs.filter((r) => r.id !== 'after');
  assert.equal(errors.length, bad.length);
  for (const r of errors) {
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(typeof r.error.code, 'string');
    assert.equal(typeof r.error.message, 'string');
  }
  assert.equal(rs.find((r) => r.id === 'after').ok, true);
  assert.equal(rs[0].id, 'unknown', 'non-JSON is answered with id "unknown" like the reference');
  assert.equal(rs[0].error.code, 'INVALID_PARAMS');
  const noMethod = rs.find((r) => r.id === 'nomethod');
  assert.ok(noMethod, 'the id of a request without a method is echoed');
  assert.match(noMethod.error.message, /method/);
  conn.close();
});

test('a blank line or CRLF framing does not break a kept connection', async () => {
  const conn = await RawWire.open(daemon.socketPath);
  conn.send('\n');
  conn.send('{"id":"crlf","method":"system.ping"}\r\n');
  const r = await conn.waitId('crlf');
  assert.equal(r.ok, true);
  conn.close();
});

test('a request split across writes is answered', async () => {
  const conn = await RawWire.open(daemon.socketPath);
  conn.socket.write('{"id":"split","met');
  await new Promise((r) => setTimeout(r, 50));
  conn.socket.write('hod":"system.ping"}\n');
  assert.equal((await conn.waitId('split')).ok, true);
  conn.close();
});

test('a line under TRL_MAX_REQUEST_BYTES is served', async () => {
  const pad = 'x'.repeat(900);
  const r = await small.oneShot({ id: 'pad', method: 'system.ping', params: { pad } });
  assert.equal(r.ok, true, JSON.stringify(r));
});

test('an oversized line gets an error, the connection is closed, the daemon keeps serving', async () => {
  const conn = await RawWire.open(small.socketPath);
  conn.send({ id: 'before', method: 'system.ping' });
  await conn.waitId('before');
  conn.socket.write('{"id":"big","method":"system.ping","params":{"pad":"' + 'y'.repeat(8000));
  await conn.waitEnd();
  const rs = conn.messages;
  assert.equal(rs.length, 2, JSON.stringify(conn.lines));
  assert.equal(rs[1].ok, false);
  assert.equal(rs[1].error.code, 'INVALID_PARAMS');
  assert.match(rs[1].error.message, /1024|TRL_MAX_REQUEST_BYTES/);
  conn.close();
  assert.equal((await small.oneShot({ id: 'still', method: 'system.ping' })).ok, true);
});

test('an oversized line with a newline is also refused, and a flood of bytes does not grow the daemon', async () => {
  const rssBefore = (await small.oneShot({ id: 's', method: 'system.stats' })).data.memory_rss_bytes;
  const lines = await small.exchange(Buffer.alloc(64 * 1024 * 1024, 'z'), 0, 20_000).catch((e) => [String(e)]);
  assert.equal(lines.length, 1, JSON.stringify(lines).slice(0, 300));
  assert.equal(JSON.parse(lines[0]!).ok, false);
  const rssAfter = (await small.oneShot({ id: 's', method: 'system.stats' })).data.memory_rss_bytes;
  assert.ok(rssAfter - rssBefore < 48 * 1024 * 1024, `RSS grew from ${rssBefore} to ${rssAfter}`);
});

test('no fd leak: open_fds returns to its level after many connections and commands', async () => {
  const base = (await c.request<any>('system.stats')).open_fds;
  const conns = await Promise.all(Array.from({ length: 40 }, () => RawWire.open(daemon.socketPath)));
  conns.forEach((k, i) => k.send({ id: `f${i}`, method: 'system.ping' }));
  await Promise.all(conns.map((k, i) => k.waitId(`f${i}`)));
  const during = (await c.request<any>('system.stats')).open_fds;
  assert.ok(during >= base + 40, `40 open connections but open_fds ${base} → ${during}`);
  for (const k of conns) k.close();
  const sid = await newSession(c);
  for (let i = 0; i < 20; i++) await run(c, sid, 'echo x; echo y >&2');
  await run(c, sid, 'sleep 0.2 & echo bg');
  await c.request('session.destroy', { session_id: sid });
  let last = -1;
  const ok = await waitFor(async () => (last = (await c.request<any>('system.stats')).open_fds) <= base, 5000, 100);
  assert.ok(ok, `open_fds ${base} before, ${last} after the connections closed`);
});

test('connections beyond TRL_MAX_CONNECTIONS get RESOURCE_PRESSURE and are closed; a freed slot is usable', async () => {
  const limited = await TestDaemon.start({ env: { TRL_MAX_CONNECTIONS: '2' } });
  try {
    const held = [await RawWire.open(limited.socketPath), await RawWire.open(limited.socketPath)];
    held.forEach((k, i) => k.send({ id: `h${i}`, method: 'system.ping' }));
    await Promise.all(held.map((k, i) => k.waitId(`h${i}`)));
    const extra = await RawWire.open(limited.socketPath);
    extra.send({ id: 'x', method: 'system.ping' });
    await extra.waitEnd();
    assert.equal(extra.messages.length, 1, JSON.stringify(extra.lines));
    assert.equal(extra.messages[0].ok, false);
    assert.equal(extra.messages[0].error.code, 'RESOURCE_PRESSURE');
    held[0]!.close();
    assert.ok(
      await waitFor(async () => (await limited.oneShot({ id: 'again', method: 'system.ping' }).catch(() => ({ ok: false }))).ok === true, 5000, 50),
      'a slot frees when a connection closes',
    );
    held[1]!.close();
  } finally {
    await limited.dispose();
  }
});
