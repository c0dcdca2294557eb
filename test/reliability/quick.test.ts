/**
 * Reliability suite, quick cases of the scenarios (part of `make test`). Each
 * case prints its figures as `# figure: …` diagnostics; figures are never
 * pass/fail. The long versions are in chaos.long.ts (`make chaos`), the
 * hostile commands in hostile.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';
import { assertFuzz, fuzzScenario } from './fuzz';
import { checkChurn, churnScenario } from './churn';
import { checkCrash, crashScenario } from './crash';
import { checkLoad, loadScenario } from './load';
import { assertDaemonHealthy, figure, round } from './lib';

test('protocol fuzzing, quick: ~2 000 hostile lines; no crash, every line answered, RSS bounded', async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_REQUEST_BYTES: String(1024 * 1024) } });
  try {
    const seed = Number(process.env.TRL_FUZZ_SEED ?? Date.now() % 1_000_000);
    const r = await fuzzScenario(d, { total: 2000, conns: 4, enormous: [4 * 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024], seed, maxRequestBytes: 1024 * 1024 });
    figure(t, 'fuzz quick', { seed, ...r, wallMs: round(r.wallMs) });
    assertFuzz(r, 128 * 1024 * 1024);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('load, quick: 16 clients × 20 exec.run; no lost or mismatched response', async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: '32', TRL_MAX_RUNNING_COMMANDS: '32' } });
  try {
    const r = await loadScenario(d, 16, 20);
    checkLoad(t, 'load quick', r, 16, 20);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('churn, quick: 200 connect/disconnect cycles, half leaving an exec.run in flight; fds and RSS flat', async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: '64' } });
  try {
    const r = await churnScenario(d, 200);
    checkChurn(t, 'churn quick', r, 64 * 1048576);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('crash, quick: kill -9 with 5 commands (grandchildren, some setsid) running; restart sweeps them all before ready', async (t) => {
  const r = await crashScenario(5);
  checkCrash(t, 'crash quick', r, 3);
});

test('crash at once: kill -9 as soon as a new session\'s command runs, before its group is in the ledger; the restart still sweeps it by the session', async (t) => {
  const r = await crashScenario(1, 3000, 0);
  checkCrash(t, 'crash at once', r, 3);
  assert.ok(r.sweepLog !== null, 'the restarted daemon logged an orphan sweep');
});
