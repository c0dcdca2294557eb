/** Churn: connect/disconnect cycles, half of them leaving an exec.run in flight; open fds and RSS must stay flat. */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { sleep, waitFor, type TestDaemon } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { createSession, figure, mib, nextId, round, stats, type Diag } from './lib';

export interface ChurnResult {
  cycles: number;
  inFlightCycles: number;
  confirmedRunning: number;
  before: { open_fds: number; memory_rss_bytes: number; connections: number };
  /** RSS half-way through the cycles: a leak grows as much in the second half as in the first. */
  midRssBytes: number;
  after: { open_fds: number; memory_rss_bytes: number; connections: number; running_commands: number; active_sessions: number };
  wallMs: number;
}

export async function churnScenario(d: TestDaemon, cycles: number): Promise<ChurnResult> {
  const ctl = await RawWire.open(d.socketPath);
  // Warm-up: one cycle of each kind, so lazily created daemon state (thread pool, etc.) is in the baseline.
  const warm = await createSession(ctl);
  await ctl.request(nextId('warm'), 'exec.run', { session_id: warm, command: 'true' });
  await ctl.request(nextId('warm'), 'session.destroy', { session_id: warm });
  await sleep(300);
  const b = await stats(ctl);
  const before = { open_fds: b.open_fds, memory_rss_bytes: b.memory_rss_bytes, connections: b.connections };
  const pendingDestroy: string[] = [];
  let inFlightCycles = 0;
  let confirmedRunning = 0;
  let midRssBytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < cycles; i++) {
    if (i === Math.floor(cycles / 2)) midRssBytes = (await stats(ctl)).memory_rss_bytes;
    const w = await RawWire.open(d.socketPath);
    if (i % 2 === 0) {
      // Plain cycle: a ping and a stats, then away.
      await w.request(nextId('c'), 'system.ping');
      w.close();
    } else {
      inFlightCycles++;
      const sid = await createSession(w);
      pendingDestroy.push(sid);
      const runId = nextId('inflight');
      w.send({ id: runId, method: 'exec.run', params: { session_id: sid, command: 'sleep 0.3; echo late' } });
      // Requests are dispatched in order: this info sees the command already started.
      const info = await w.request(nextId('info'), 'session.info', { session_id: sid });
      if (info.ok && info.data.state === 'running') confirmedRunning++;
      w.close(); // disconnect with exec.run unanswered
    }
    // Destroy sessions of earlier cycles (their command has ended by then, or is killed).
    while (pendingDestroy.length > 16) {
      const sid = pendingDestroy.shift()!;
      await ctl.request(nextId('d'), 'session.destroy', { session_id: sid });
    }
  }
  const wallMs = performance.now() - t0;
  await sleep(400); // the last commands end
  for (const sid of pendingDestroy) await ctl.request(nextId('d'), 'session.destroy', { session_id: sid });
  await waitFor(async () => {
    const s = await stats(ctl);
    return s.connections === 1 && s.running_commands === 0;
  }, 10_000, 100);
  await sleep(600); // closed sockets and pipes are released on the next loop turns
  const a = await stats(ctl);
  ctl.close();
  return {
    cycles,
    inFlightCycles,
    confirmedRunning,
    before,
    midRssBytes,
    after: { open_fds: a.open_fds, memory_rss_bytes: a.memory_rss_bytes, connections: a.connections, running_commands: a.running_commands, active_sessions: a.active_sessions },
    wallMs,
  };
}

/** The churn scenario's figure and assertions: fds flat, RSS within `rssSlackBytes` (V8 grows before it collects). */
export function checkChurn(t: Diag, name: string, r: ChurnResult, rssSlackBytes: number): void {
  figure(t, name, {
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
  assert.ok(r.after.memory_rss_bytes < r.before.memory_rss_bytes + rssSlackBytes, `RSS flat (within ${mib(rssSlackBytes)} MiB)`);
}

