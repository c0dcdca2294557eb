/**
 * Reliability suite, long cases: `make chaos`, i.e.
 *   node --test dist/test/reliability/chaos.long.js
 * The file name does not end in `.test.js`, so `make test` does not pick it up.
 * Each case prints its figures as `# figure: …` diagnostics; figures are never
 * pass/fail. The quick versions are in quick.test.ts.
 */
import { test } from 'node:test';
import { TestDaemon } from '../helpers/daemon';
import { assertFuzz, fuzzScenario } from './fuzz';
import { checkChurn, churnScenario } from './churn';
import { checkCrash, crashScenario } from './crash';
import { checkLoad, loadScenario } from './load';
import { assertDaemonHealthy, figure, round } from './lib';

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
    checkLoad(t, 'load', r, 64, 100);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('churn: 1 000 connect/disconnect cycles, half with exec.run in flight; open fds and RSS flat', { timeout: 900_000 }, async (t) => {
  const d = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: '64' } });
  try {
    const r = await churnScenario(d, 1000);
    checkChurn(t, 'churn', r, 128 * MiB);
    await assertDaemonHealthy(d);
  } finally {
    await d.dispose();
  }
});

test('crash: kill -9 while 20 commands with grandchildren (half of them setsid) run; restart: 0 survivors once ready', { timeout: 120_000 }, async (t) => {
  const r = await crashScenario(20, 5000);
  checkCrash(t, 'crash', r, 5);
});
