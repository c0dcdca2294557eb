/**
 * Standing abuse scenarios, hostile clients: `make chaos` runs
 * dist/test/reliability/abuse-*.chaos.js (not matched by `*.test.js`, so
 * `make test` skips them; the quick regressions are in test/integration/).
 * Each prints what it tried and what held as `# figure: …` diagnostics; the
 * assertions are about outcomes (answered, alive, bounded), never time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { RawWire } from '../helpers/raw-wire';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { httpRequest, httpUrlOf } from '../helpers/http';
import { assertDaemonHealthy, figure, mib, round, rssOf, rssSampler } from './lib';

const MiB = 1024 * 1024;

const openSocket = (path: string): Promise<RawWire | null> => RawWire.open(path).catch(() => null);

/** One request on a fresh connection; its answer. */
async function request(path: string, method: string, params: object = {}): Promise<any> {
  const w = (await openSocket(path))!;
  try {
    return await w.request('x', method, params, 60_000);
  } finally {
    w.close();
  }
}

test('a client that never reads, against every method: RSS stays bounded, every answer arrives once it reads', { timeout: 900_000 }, async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: '200', TRL_DEFAULT_TIMEOUT_S: '30', TRL_FIRST_REQUEST_TIMEOUT_S: '0' } });
  try {
    const p = d.socketPath;
    const sessions: string[] = [];
    for (let i = 0; i < 8; i++) sessions.push((await request(p, 'session.create')).data.session_id);
    const bigOutput = "head -c 4194304 /dev/zero | tr '\\0' '\\1'; head -c 4194304 /dev/zero | tr '\\0' '\\2' >&2";
    const done = (await request(p, 'exec.run', { session_id: sessions[0], command: bigOutput })).data;
    assert.equal(done.stdout.length, 4 * MiB);
    const finished = (await request(p, 'exec.list', { session_id: sessions[0] })).data.execs[0].exec_id as string;
    const inputSid = (await request(p, 'session.create')).data.session_id;
    const reading = (await request(p, 'exec.stream', { session_id: inputSid, command: 'sleep 600', stdin_open: true })).data.exec_id as string;
    for (let i = 0; i < 20; i++) await request(p, 'exec.run', { session_id: sessions[1], command: ': ' + '\u0001'.repeat(100_000) });

    type Make = (i: number) => { method: string; params: object };
    const cases: [string, number, Make][] = [
      ['system.ping', 5000, () => ({ method: 'system.ping', params: {} })],
      ['system.stats', 2000, () => ({ method: 'system.stats', params: {} })],
      ['session.create', 300, () => ({ method: 'session.create', params: {} })],
      ['session.list', 2000, () => ({ method: 'session.list', params: {} })],
      ['session.info', 2000, () => ({ method: 'session.info', params: { session_id: sessions[0] } })],
      ['session.destroy', 2000, () => ({ method: 'session.destroy', params: { session_id: 'no-such-session' } })],
      ['exec.run', 8, (i) => ({ method: 'exec.run', params: { session_id: sessions[i], command: bigOutput } })],
      ['exec.stream', 7, (i) => ({ method: 'exec.stream', params: { session_id: sessions[i + 1], command: bigOutput } })],
      ['exec.attach', 1000, () => ({ method: 'exec.attach', params: { exec_id: finished } })],
      ['exec.cancel', 2000, () => ({ method: 'exec.cancel', params: { exec_id: 'no-such-exec' } })],
      ['exec.input', 2000, () => ({ method: 'exec.input', params: { exec_id: reading, data: 'x'.repeat(1000) } })],
      ['exec.list', 300, () => ({ method: 'exec.list', params: {} })],
    ];
    const results: Record<string, unknown> = {};
    for (const [name, n, make] of cases) {
      const base = rssOf(d.pid);
      // A client that reads nothing for now, and then only counts (some answers are tens of MiB).
      const s = await RawWire.open(p, { paused: true, keep: false });
      const lines: string[] = [];
      for (let i = 0; i < n; i++) lines.push(JSON.stringify({ id: `${name}-${i}`, ...make(i) }) + '\n');
      s.write(lines.join(''));
      const sampler = rssSampler(d.pid, 50);
      await sleep(3000);
      const peak = sampler.stop();
      s.resume();
      const allAnswered = await waitFor(() => s.answerCount >= n, 240_000, 100);
      s.close();
      results[name] = { requests: n, rss_mib_before: mib(base), rss_mib_peak_unread: mib(peak), growth_mib: mib(peak - base), answered: s.answerCount, lines: s.lineCount };
      figure(t, `non-reader ${name}`, results[name]);
      assert.ok(allAnswered, `${name}: ${s.answerCount} of ${n} answered once the client read`);
      assert.ok(peak - base < 200 * MiB, `${name}: the daemon grew by ${mib(peak - base)} MiB for a client that does not read`);
      // The next case starts from a settled daemon.
      await waitFor(async () => (await request(p, 'session.list')).ok, 10_000);
    }
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('socket connections that open and never send give way at the limit; another client still gets in', { timeout: 120_000 }, async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_CONNECTIONS: '32', TRL_FIRST_REQUEST_TIMEOUT_S: '2' } });
  const held: RawWire[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      const s = await openSocket(d.socketPath);
      if (s) held.push(s);
    }
    const t0 = performance.now();
    const ok = await waitFor(async () => (await request(d.socketPath, 'system.ping').catch(() => ({ ok: false }))).ok === true, 30_000, 250);
    figure(t, 'silent socket connections', { opened: held.length, max_connections: 32, first_request_timeout_s: 2, ping_ok: ok, ms_until_ping_ok: round(performance.now() - t0) });
    assert.ok(ok, 'silent socket connections kept every other client out');
    await assertDaemonHealthy(d);
  } finally {
    for (const s of held) s.close();
    await d.dispose();
  }
});

test('HTTP connections that open and never send a byte do not keep an authenticated client out', { timeout: 180_000 }, async (t) => {
  const token = randomBytes(24).toString('base64url');
  const d = await TestDaemon.start({ env: { TRL_MAX_CONNECTIONS: '32', TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: token } });
  const held: Socket[] = [];
  try {
    const url = new URL(httpUrlOf(d));
    for (let i = 0; i < 64; i++) {
      const s = createConnection({ host: url.hostname, port: Number(url.port) });
      s.on('error', () => {});
      held.push(s);
    }
    await sleep(200);
    const t0 = performance.now();
    const ok = await waitFor(async () => {
      const r = await httpRequest(url.toString(), { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: { id: 'h', method: 'system.ping' } }, 5000).catch(() => null);
      return r?.status === 200;
    }, 90_000, 500);
    figure(t, 'silent HTTP connections', { opened: 64, max_connections: 32, ping_ok: ok, ms_until_ping_ok: round(performance.now() - t0) });
    assert.ok(ok, 'silent HTTP connections kept every authenticated client out');
    await assertDaemonHealthy(d);
  } finally {
    for (const s of held) s.destroy();
    await d.dispose();
  }
});

test('fd exhaustion: 300 idle connections under RLIMIT_NOFILE 128; the daemon refuses work, survives, recovers', { timeout: 120_000 }, async (t) => {
  const d = await TestDaemon.start({ prefix: ['prlimit', '--nofile=128:128'], env: { TRL_FIRST_REQUEST_TIMEOUT_S: '0', TRL_MAX_CONNECTIONS: '1000' } });
  const held: RawWire[] = [];
  try {
    const control = await RawWire.open(d.socketPath);
    let n = 0;
    const ask = async (method: string, params: object = {}) => {
      const id = `c${n++}`;
      control.send({ id, method, params });
      assert.ok(await waitFor(() => control.answers.has(id), 30_000), `${method}: no answer`);
      return control.answers.get(id)!.at(-1);
    };
    const sid = (await ask('session.create')).data.session_id;
    for (let i = 0; i < 300; i++) {
      const s = await openSocket(d.socketPath);
      if (s) held.push(s);
    }
    await sleep(1500);
    const during = await ask('system.stats');
    const run = await ask('exec.run', { session_id: sid, command: 'echo hi' });
    const create = await ask('session.create');
    for (const s of held.splice(0)) s.close();
    const t0 = performance.now();
    const recovered = await waitFor(async () => (await ask('exec.run', { session_id: sid, command: 'echo back' })).ok === true, 30_000, 250);
    const accepted = await request(d.socketPath, 'system.ping').catch(() => ({ ok: false }));
    figure(t, 'fd exhaustion', {
      rlimit_nofile: 128,
      connections_attempted: 300,
      pressure: during.data.resource_pressure,
      exec_run_during: run.ok ? 'ok' : run.error.code,
      session_create_during: create.ok ? 'ok' : create.error.code,
      recovered,
      ms_to_recover: round(performance.now() - t0),
      new_connection_after: accepted.ok,
      accept_failures_logged: d.logs.split('\n').filter((l) => l.includes('accepting a connection failed')).length,
    });
    assert.ok(during.data.resource_pressure, 'no resource pressure reported at the fd limit');
    assert.equal(run.ok, false);
    assert.equal(run.error.code, 'RESOURCE_PRESSURE');
    assert.ok(recovered, 'the daemon did not recover once the connections went');
    assert.equal(accepted.ok, true);
    control.close();
    await assertDaemonHealthy(d);
  } finally {
    for (const s of held) s.close();
    await d.dispose();
  }
});

test('1 000 pipelined pings from a client that reads every answer: all ok, at every in-flight limit', { timeout: 120_000 }, async (t) => {
  for (const limit of [1, 16, 256]) {
    const d = await TestDaemon.start({ env: { TRL_MAX_INFLIGHT_PER_CONNECTION: String(limit) } });
    try {
      const s = await RawWire.open(d.socketPath);
      const got = s.messages;
      const t0 = performance.now();
      s.write(Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: `p${i}`, method: 'system.ping' }) + '\n').join(''));
      const all = await waitFor(() => got.length >= 1000, 60_000, 20);
      const ok = got.filter((m) => m.ok).length;
      figure(t, `pipelined pings, in-flight limit ${limit}`, { sent: 1000, answered: got.length, ok, ms: round(performance.now() - t0) });
      assert.ok(all, `${got.length} of 1000 answered`);
      assert.equal(ok, 1000, JSON.stringify(got.find((m) => !m.ok)));
      s.close();
    } finally {
      await d.dispose();
    }
  }
});
