/**
 * Reliability suite, long cases: `make chaos`, i.e.
 *   node --test dist/test/reliability/chaos.long.js
 * The file name does not end in `.test.js`, so `make test` does not pick it up.
 * Each case prints its figures as `# figure: …` diagnostics; figures are never
 * pass/fail. The quick versions are in quick.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';
import { assertFuzz, fuzzScenario } from './fuzz';
import { assertDaemonHealthy, churnScenario, crashScenario, figure, loadScenario, mib, percentile, round } from './lib';

const MiB = 1024 * 1024;

test('protocol fuzzing: 10 000+ malformed or hostile lines; 0 crashes, every complete line answered, RSS bounded', { timeout: 600_000 }, async (t) => {
  const maxRequestBytes = MiB;
  const d = await TestDaemon.start({ env: { TRL_MAX_REQUEST_BYTES: String(maxRequestBytes) } });
  try {
    const seed = Number(process.env.TRL_FUZZ_SEED ?? Date.now() % 1_000_000);
    // 12 000 lines over 8 connections, plus 8 lines of 4–64 MiB (beyond TRL_MAX_REQUEST_BYTES = 1 MiB).
    const enormous = [4, 4, 8, 8, 16, 16, 32, 64].map((n) => n * MiB);
    const r = await fuzzScenario(d, { total: 12_000, conns: 8, enormous, seed, maxRequestBytes });
    figure(t, 'fuzz', { seed, ...r, wallMs: round(r.wallMs) });
    assertFuzz(r, 256 * MiB);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('load: 64 clients × 100 exec.run concurrently (64 sessions); 0 lost or mismatched responses', { timeout: 900_000 }, async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: '80', TRL_MAX_RUNNING_COMMANDS: '80' } });
  try {
    const r = await loadScenario(d, 64, 100);
    figure(t, 'load', {
      clients: 64,
      per_client: 100,
      sent: r.sent,
      ok: r.ok,
      lost: r.lost,
      mismatched: r.mismatched,
      failures: r.failures,
      wall_ms: round(r.wallMs),
      commands_per_s: round((r.ok / r.wallMs) * 1000, 1),
      latency_p50_ms: round(percentile(r.latencies, 50)),
      latency_p99_ms: round(percentile(r.latencies, 99)),
    });
    assert.equal(r.lost, 0);
    assert.equal(r.mismatched, 0);
    assert.equal(r.ok, r.sent, `failures: ${JSON.stringify(r.failures)}`);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('churn: 1 000 connect/disconnect cycles, half with exec.run in flight; open fds and RSS flat', { timeout: 900_000 }, async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: '64' } });
  try {
    const r = await churnScenario(d, 1000);
    figure(t, 'churn', {
      cycles: r.cycles,
      in_flight_cycles: r.inFlightCycles,
      confirmed_running_at_disconnect: r.confirmedRunning,
      open_fds_before: r.before.open_fds,
      open_fds_after: r.after.open_fds,
      rss_mib_before: mib(r.before.memory_rss_bytes),
      rss_mib_half_way: mib(r.midRssBytes),
      rss_mib_after: mib(r.after.memory_rss_bytes),
      wall_ms: round(r.wallMs),
    });
    assert.equal(r.confirmedRunning, r.inFlightCycles, 'every in-flight cycle disconnected while its command ran');
    assert.equal(r.after.connections, 1, 'only the control connection is left');
    assert.equal(r.after.running_commands, 0);
    assert.equal(r.after.active_sessions, 0);
    assert.ok(r.after.open_fds <= r.before.open_fds + 2, `open fds flat: ${r.before.open_fds} → ${r.after.open_fds}`);
    // A gross-leak check (V8 grows its heap before it collects, so some growth is normal).
    assert.ok(r.after.memory_rss_bytes < r.before.memory_rss_bytes + 128 * MiB, 'RSS flat (within 128 MiB)');
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('crash: kill -9 while 20 commands with grandchildren (half of them setsid) run; restart: 0 survivors once ready', { timeout: 120_000 }, async (t) => {
  const r = await crashScenario(20, 5000);
  figure(t, 'crash', {
    commands: r.commands,
    marked_processes_before_kill: r.markedBeforeKill,
    survivors_at_ready: r.survivorsAtReady,
    survivors_after_5s: r.survivorsAfterWait,
    survivor_kinds: r.survivorKinds,
    restart_to_ready_ms: round(r.restartToReadyMs),
    restart_to_clean_ms: r.restartToCleanMs === null ? 'never (within 5 s)' : round(r.restartToCleanMs),
    sweep: r.sweepLog,
  });
  assert.equal(r.survivorsAtReady, 0, `processes of the killed daemon's commands alive when the new one is ready: ${JSON.stringify(r.survivorKinds)}`);
});
