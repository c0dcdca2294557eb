/** Crash: kill -9 while commands with grandchildren run, restart, and nothing of theirs may be left once the new daemon is ready. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { createSession, figure, killAll, liveByEnv, round, type Diag } from './lib';

export interface CrashResult {
  commands: number;
  markedBeforeKill: number;
  survivorsAtReady: number;
  survivorsAfterWait: number;
  survivorKinds: Record<string, number>;
  restartToReadyMs: number;
  restartToCleanMs: number | null;
  sweepLog: unknown;
}

export const CRASH_MARK = 'TRL_RELI_CRASH';

/**
 * `killAfterMs`: how long after its commands' processes are all seen the daemon
 * is killed; 0 kills it at once, before the ledger's delayed write of their
 * groups, so the sweep can find them only by their sessions' markers.
 */
export async function crashScenario(commands: number, settleMs = 3000, killAfterMs = 100): Promise<CrashResult> {
  const nonce = randomUUID().slice(0, 8);
  const first = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: String(commands + 4), TRL_MAX_RUNNING_COMMANDS: String(commands + 4) } });
  let second: TestDaemon | null = null;
  const markOf = (i: number) => `${nonce}-${i}-${i % 2 === 1 ? 'setsid' : 'group'}`;
  try {
    const wires = await Promise.all(Array.from({ length: Math.min(commands, 4) }, () => RawWire.open(first.socketPath)));
    for (let i = 0; i < commands; i++) {
      const w = wires[i % wires.length]!;
      const sid = await createSession(w);
      // The command's shell starts a grandchild `sleep` under an intermediate sh
      // (odd ones through setsid: a new session and process group), then sleeps itself.
      const launcher = i % 2 === 1 ? 'setsid sh' : 'sh';
      w.send({
        id: `crash-${i}`,
        method: 'exec.run',
        params: { session_id: sid, command: `${launcher} -c 'sleep 600; :' </dev/null >/dev/null 2>&1 & sleep 600`, timeout_s: 0, env: { [CRASH_MARK]: markOf(i) } },
      });
    }
    // Each command: its shell, the intermediate sh, the grandchild sleep, the foreground sleep.
    const expected = commands * 4;
    const count = () => [...liveByEnv(CRASH_MARK)].filter(([v]) => v.startsWith(nonce)).reduce((n, [, p]) => n + p.length, 0);
    assert.ok(await waitFor(() => count() >= expected, 15_000, killAfterMs === 0 ? 1 : 50), `all ${expected} processes started (have ${count()})`);
    const markedBeforeKill = count();
    if (killAfterMs > 0) await sleep(killAfterMs);
    await first.stop('SIGKILL');
    for (const w of wires) w.close();

    const t0 = performance.now();
    second = await TestDaemon.start({ env: { TRL_RUNTIME_DIR: `${first.dir}/run` } });
    const restartToReadyMs = performance.now() - t0;
    const survivorsNow = () => [...liveByEnv(CRASH_MARK)].filter(([v]) => v.startsWith(nonce));
    const atReady = survivorsNow();
    const survivorsAtReady = atReady.reduce((n, [, p]) => n + p.length, 0);
    let restartToCleanMs: number | null = null;
    if (await waitFor(() => survivorsNow().length === 0, settleMs, 10)) restartToCleanMs = performance.now() - t0;
    const left = survivorsNow();
    const survivorKinds: Record<string, number> = {};
    for (const [v, pids] of left) {
      const kind = v.split('-').pop()!;
      survivorKinds[kind] = (survivorKinds[kind] ?? 0) + pids.length;
    }
    const sweepLog = second.logRecords().find((r) => r.msg === 'orphan sweep done') ?? null;
    return {
      commands,
      markedBeforeKill,
      survivorsAtReady,
      survivorsAfterWait: left.reduce((n, [, p]) => n + p.length, 0),
      survivorKinds,
      restartToReadyMs,
      restartToCleanMs,
      sweepLog,
    };
  } finally {
    // Whatever the outcome, nothing of this scenario outlives it.
    killAll([...liveByEnv(CRASH_MARK)].filter(([v]) => v.startsWith(nonce)).flatMap(([, p]) => p));
    if (second) await second.dispose();
    await first.dispose();
  }
}

/** The crash scenario's figure and assertion: nothing of the killed daemon's commands alive once the new one is ready. */
export function checkCrash(t: Diag, name: string, r: CrashResult, settleS: number): void {
  figure(t, name, {
    commands: r.commands,
    marked_processes_before_kill: r.markedBeforeKill,
    survivors_at_ready: r.survivorsAtReady,
    [`survivors_after_${settleS}s`]: r.survivorsAfterWait,
    survivor_kinds: r.survivorKinds,
    restart_to_ready_ms: round(r.restartToReadyMs),
    restart_to_clean_ms: r.restartToCleanMs === null ? `never (within ${settleS} s)` : round(r.restartToCleanMs),
    sweep: r.sweepLog,
  });
  assert.equal(r.survivorsAtReady, 0, `processes of the killed daemon's commands alive when the new one is ready: ${JSON.stringify(r.survivorKinds)}`);
}
