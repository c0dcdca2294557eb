/**
 * Reliability suite, hostile commands (part of `make test`): a fork bomb, a
 * memory hog, a CPU hog and processes that leave their command's group or
 * session. Each case prints its figures as `# figure: …` diagnostics; figures
 * are never pass/fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { daemonIdentity } from '../helpers/launch';
import {
  assertDaemonHealthy,
  createSession,
  figure,
  killAll,
  latencyFigure,
  liveByEnv,
  livePidsWithArg,
  mib,
  nextId,
  pingSeries,
  round,
  rssOf,
  tasksOfUid,
} from './lib';
import { RawWire } from '../helpers/raw-wire';
import { shellEscapees } from './escapees';

const MARK = 'TRL_RELI_MARK';
const nonce = () => String(randomBytes(4).readUInt32BE(0));

test('fork bomb in one session: contained by the per-user process limit, the daemon keeps answering, destroy leaves nothing', async (t) => {
  // RLIMIT_NPROC counts every task of the daemon's user (threads, zombies and
  // other daemons of that user included): the limit is what that user has now,
  // plus the daemon's own threads, plus a margin for the bomb.
  const uid = daemonIdentity().uid;
  const used = tasksOfUid(uid);
  const limit = used + 16 + 48;
  const d = await TestDaemon.start({ prefix: ['/usr/bin/prlimit', `--nproc=${limit}:${limit}`], env: { TRL_KILL_GRACE_MS: '1000' } });
  const mark = `bomb-${nonce()}`;
  try {
    const ctl = await RawWire.open(d.socketPath);
    const bombWire = await RawWire.open(d.socketPath);
    const baseline = await pingSeries(ctl, { count: 200 });
    // bash: a fork that fails is an error of that command only (dash would exit, and the bomb collapse by itself).
    const sid = await createSession(bombWire, { shell: '/bin/bash', env: { [MARK]: mark } });
    const other = await createSession(ctl);
    await ctl.request(nextId('warm'), 'exec.run', { session_id: other, command: 'true' });

    const headroom = limit - tasksOfUid(uid);

    // A bomb that stays at the limit: every process loops forking two copies of
    // itself and waiting for them (a failed fork ends that shell; its parent forks again).
    const bombId = nextId('bomb');
    const bomb = bombWire.request(bombId, 'exec.run', { session_id: sid, command: 'f() { while :; do f & f & wait; done; }; f', timeout_s: 0 }, 60_000);
    const grew = await waitFor(() => (liveByEnv(MARK).get(mark)?.length ?? 0) >= 20, 10_000, 20);
    assert.ok(grew, `the bomb is running: ${liveByEnv(MARK).get(mark)?.length ?? 0} processes; answer: ${JSON.stringify(bombWire.answers.get(bombId))?.slice(0, 500)}; user tasks ${tasksOfUid(uid)} of ${limit}`);
    await sleep(300);

    // During the bomb: pings, and commands in another session.
    const other_results: Record<string, number> = {};
    const during = pingSeries(ctl, { forMs: 3000 });
    const peakProcs: number[] = [];
    const counter = setInterval(() => peakProcs.push(liveByEnv(MARK).get(mark)?.length ?? 0), 250);
    const ctl2 = await RawWire.open(d.socketPath);
    for (let i = 0; i < 5; i++) {
      const r = await ctl2.request(nextId('other'), 'exec.run', { session_id: other, command: 'echo ok' }, 30_000);
      const key = r.ok ? `ok:${r.data.stdout.trim() || r.data.exit_code}` : r.error.code;
      other_results[key] = (other_results[key] ?? 0) + 1;
      assert.ok(r.ok || r.error.code === 'RESOURCE_PRESSURE', `another session's command: ok or RESOURCE_PRESSURE, got ${JSON.stringify(r)}`);
      await sleep(200);
    }
    const lat = await during;
    clearInterval(counter);
    await assertDaemonHealthy(d);

    const t0 = performance.now();
    const destroyed = await ctl.request(nextId('destroy'), 'session.destroy', { session_id: sid }, 60_000);
    const destroyMs = performance.now() - t0;
    assert.equal(destroyed.ok, true, JSON.stringify(destroyed));
    const result = await bomb;
    const left = liveByEnv(MARK).get(mark) ?? [];
    const sessionLeft = liveByEnv('TRL_SESSION_ID').get(sid) ?? [];
    figure(t, 'fork bomb', {
      nproc_limit: limit,
      user_tasks_before_daemon: used,
      headroom_for_bomb: headroom,
      bomb_processes_peak: Math.max(...peakProcs),
      ping_before: latencyFigure(baseline),
      ping_during_bomb: latencyFigure(lat),
      other_session_commands: other_results,
      destroy_ms: round(destroyMs),
      bomb_result: { ok: result.ok, cancelled: result.data?.cancelled, signal: result.data?.signal, stderr_bytes: result.data?.stderr_bytes },
      left_after_destroy: sessionLeft.length,
    });
    assert.equal(result.ok, true);
    assert.equal(result.data.cancelled, true, 'the bomb command was cancelled by the destroy');
    assert.deepEqual(left, [], 'no process carrying the session marker is alive');
    assert.deepEqual(sessionLeft, [], 'no process carrying TRL_SESSION_ID of that session is alive');
    // Once the bomb is gone the daemon runs commands again (retried: on this
    // machine PID 1 reaps orphans late, and their zombies count against the limit).
    let after: any;
    await waitFor(async () => {
      after = await ctl.request(nextId('after'), 'exec.run', { session_id: other, command: 'echo alive' });
      return after.ok === true;
    }, 10_000, 200);
    figure(t, 'fork bomb: a command after the destroy', after.ok ? 'ok' : after.error);
    ctl.close();
    ctl2.close();
    bombWire.close();
  } finally {
    killAll(liveByEnv(MARK).get(mark) ?? []);
    await d.dispose();
  }
});

test('memory hog under TRL_RLIMIT_AS_BYTES: the allocation fails with a clear result, the daemon is unaffected', async (t) => {
  const limit = 256 * 1024 * 1024;
  const d = await TestDaemon.start({ env: { TRL_RLIMIT_AS_BYTES: String(limit) } });
  try {
    const w = await RawWire.open(d.socketPath);
    const sid = await createSession(w);
    const v = await w.request(nextId('ulimit'), 'exec.run', { session_id: sid, command: 'ulimit -v' });
    assert.equal(v.data.stdout.trim(), String(limit / 1024), 'the command runs under RLIMIT_AS');
    const rss0 = rssOf(d.pid);
    // [name, command, how the result must say what happened: a message on stderr, or the signal that ended the shell]
    const hogs: [string, string, RegExp | string][] = [
      ['python3 bytearray(2 GiB)', `python3 -c 'b = bytearray(2 * 1024**3)'`, /MemoryError/],
      ['awk doubling a string', `awk 'BEGIN { s = "x"; while (1) s = s s }'`, /memory|alloc/i],
      ['bash: head -c 1G into a variable', `bash -c 'x=$(head -c 1000000000 /dev/zero | tr "\\0" a); echo \${#x}'`, /cannot allocate/],
      // dash does not check malloc: the shell itself dies of SIGSEGV, which the result reports.
      ['dash: head -c 1G into a variable', `x=$(head -c 1000000000 /dev/zero | tr '\\0' a); echo \${#x}`, 'SIGSEGV'],
    ];
    const figures: Record<string, unknown> = {};
    for (const [name, command, expect] of hogs) {
      const r = await w.request(nextId('hog'), 'exec.run', { session_id: sid, command, timeout_s: 60 }, 90_000);
      assert.equal(r.ok, true, JSON.stringify(r));
      figures[name] = { exit_code: r.data.exit_code, signal: r.data.signal, killed_by: r.data.killed_by, ms: r.data.duration_ms, stderr: pickLine(r.data.stderr, expect) };
      assert.notEqual(r.data.exit_code, 0, `${name} failed`);
      assert.equal(r.data.timed_out, false, `${name} was stopped by the limit, not the timeout`);
      if (typeof expect === 'string') assert.equal(r.data.signal, expect, `${name}: ${JSON.stringify(r.data).slice(0, 300)}`);
      else assert.match(r.data.stderr, expect, `${name} says why: ${r.data.stderr.slice(0, 300)}`);
      // The session still works after the hog.
      const ok = await w.request(nextId('after'), 'exec.run', { session_id: sid, command: 'echo fine' });
      assert.equal(ok.data.stdout, 'fine\n');
    }
    await assertDaemonHealthy(d);
    figure(t, 'memory hog', { rlimit_as_mib: limit / 1048576, hogs: figures, daemon_rss_mib_before: mib(rss0), daemon_rss_mib_after: mib(rssOf(d.pid)) });
    w.close();
  } finally {
    await d.dispose();
  }
});

test('CPU hog under TRL_RLIMIT_CPU_S=1: stopped by SIGXCPU, result says killed_by cpu_limit', async (t) => {
  const d = await TestDaemon.start({ env: { TRL_RLIMIT_CPU_S: '1' } });
  try {
    const w = await RawWire.open(d.socketPath);
    const sid = await createSession(w);
    const cases: [string, string][] = [
      ['busy loop in the shell itself', 'while :; do :; done'],
      ['busy child process (awk)', `awk 'BEGIN { while (1) {} }'`],
    ];
    const figures: Record<string, unknown> = {};
    for (const [name, command] of cases) {
      const r = await w.request(nextId('cpu'), 'exec.run', { session_id: sid, command, timeout_s: 30 }, 60_000);
      assert.equal(r.ok, true, JSON.stringify(r));
      figures[name] = { exit_code: r.data.exit_code, signal: r.data.signal, killed_by: r.data.killed_by, wall_ms: r.data.duration_ms };
      assert.equal(r.data.killed_by, 'cpu_limit', `${name}: ${JSON.stringify(r.data)}`);
      assert.equal(r.data.timed_out, false);
      assert.equal(r.data.exit_code, 128 + 24, 'exit code 152: killed by SIGXCPU');
    }
    // The loop in the shell itself: the shell is what the signal ends.
    assert.equal((figures['busy loop in the shell itself'] as any).signal, 'SIGXCPU');
    const ok = await w.request(nextId('after'), 'exec.run', { session_id: sid, command: 'echo fine' });
    assert.equal(ok.data.stdout, 'fine\n', 'the session survives');
    await assertDaemonHealthy(d);
    figure(t, 'cpu hog', figures);
    w.close();
  } finally {
    await d.dispose();
  }
});

/** The stderr line that says what happened (the one matching `expect`), else the first. */
function pickLine(stderr: string, expect: RegExp | string): string {
  const lines = stderr.trim().split('\n');
  return (typeof expect === 'string' ? lines[0] : (lines.find((l) => expect.test(l)) ?? lines[0]))?.slice(0, 80) ?? '';
}

const aliveKinds = (kinds: Record<string, string>) => Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, livePidsWithArg(`sleep ${v}`).length > 0]));

test('setsid + double-fork escapees: killed by timeout, exec.cancel and session.destroy (what the process-group fallback catches)', async (t) => {
  // The native layer adopts orphans (child subreaper): one that cleared its environment is found too.
  const native = process.env.TRL_SPAWNER !== 'child_process';
  const mustDie = ['group', 'setsid', 'daemon', ...(native ? ['env-i'] : [])];
  const d = await TestDaemon.start({ env: { TRL_KILL_GRACE_MS: '500' } });
  const all: Record<string, string>[] = [];
  try {
    const w = await RawWire.open(d.socketPath);
    const w2 = await RawWire.open(d.socketPath);
    const stats = await w.request(nextId('s'), 'system.stats');
    const caught: Record<string, Record<string, boolean>> = {};
    const ms: Record<string, number> = {};

    const stopWith = async (how: string, stop: (sid: string) => Promise<any>) => {
      const e = shellEscapees(nonce());
      all.push(e.kinds);
      const sid = await createSession(w);
      const run = w.request(nextId(how), 'exec.run', { session_id: sid, command: `${e.command}\nsleep 600`, timeout_s: how === 'timeout' ? 1 : 0 }, 60_000);
      assert.ok(await waitFor(() => Object.values(aliveKinds(e.kinds)).every(Boolean), 10_000), `all four started (${how})`);
      const t0 = performance.now();
      const stopped = await stop(sid);
      const r = await run;
      assert.equal(r.ok, true, JSON.stringify(r));
      if (how === 'timeout') assert.equal(r.data.timed_out, true);
      else assert.equal(r.data.cancelled, true);
      await waitFor(() => !Object.entries(aliveKinds(e.kinds)).some(([k, v]) => v && mustDie.includes(k)), 3000);
      ms[how] = round(performance.now() - t0);
      caught[how] = Object.fromEntries(Object.entries(aliveKinds(e.kinds)).map(([k, v]) => [k, !v]));
      if (stopped !== undefined && how !== 'timeout') assert.equal(stopped.ok, true, JSON.stringify(stopped));
      if (how !== 'destroy') await w.request(nextId('d'), 'session.destroy', { session_id: sid });
    };

    await stopWith('timeout', async () => undefined);
    await stopWith('cancel', (sid) => w2.request(nextId('cancel'), 'exec.cancel', { session_id: sid }));
    await stopWith('destroy', (sid) => w2.request(nextId('destroy'), 'session.destroy', { session_id: sid }));

    // Leftovers of a command that already ended, killed when the (idle) session is destroyed.
    {
      const e = shellEscapees(nonce());
      all.push(e.kinds);
      const sid = await createSession(w);
      const r = await w.request(nextId('leave'), 'exec.run', { session_id: sid, command: e.command });
      assert.equal(r.ok, true);
      assert.ok(await waitFor(() => Object.values(aliveKinds(e.kinds)).every(Boolean), 10_000), 'all four left running');
      const t0 = performance.now();
      const dr = await w.request(nextId('destroy'), 'session.destroy', { session_id: sid });
      assert.equal(dr.ok, true);
      await waitFor(() => !Object.entries(aliveKinds(e.kinds)).some(([k, v]) => v && mustDie.includes(k)), 3000);
      ms['destroy (idle, leftovers)'] = round(performance.now() - t0);
      caught['destroy (idle, leftovers)'] = Object.fromEntries(Object.entries(aliveKinds(e.kinds)).map(([k, v]) => [k, !v]));
    }

    figure(t, 'escapees caught (true = killed)', { containment: stats.data.containment, ...caught });
    figure(t, 'escapees: stop request to all caught ones gone (ms)', ms);
    for (const [how, kinds] of Object.entries(caught)) {
      for (const kind of mustDie) assert.equal(kinds[kind], true, `${how}: the ${kind} escapee was killed`);
    }
    await assertDaemonHealthy(d);
    w.close();
    w2.close();
  } finally {
    for (const kinds of all) for (const v of Object.values(kinds)) killAll(livePidsWithArg(`sleep ${v}`));
    await d.dispose();
  }
});
