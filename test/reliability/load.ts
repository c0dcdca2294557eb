/** Load: N clients × M exec.run at once, each echoing a unique token; every answer must come back once, on its own id. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { TestDaemon } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';
import { createSession, figure, nextId, percentile, round, type Diag } from './lib';

export interface LoadResult {
  sent: number;
  answered: number;
  ok: number;
  lost: number;
  mismatched: number;
  failures: Record<string, number>;
  wallMs: number;
  latencies: number[];
}

export async function loadScenario(d: TestDaemon, clients: number, perClient: number): Promise<LoadResult> {
  const res: LoadResult = { sent: 0, answered: 0, ok: 0, lost: 0, mismatched: 0, failures: {}, wallMs: 0, latencies: [] };
  const wires = await Promise.all(Array.from({ length: clients }, () => RawWire.open(d.socketPath)));
  const sids = await Promise.all(wires.map((w) => createSession(w)));
  const t0 = performance.now();
  await Promise.all(
    wires.map(async (w, c) => {
      for (let i = 0; i < perClient; i++) {
        const id = `load-${c}-${i}`;
        const token = `tok-${c}-${i}-${randomBytes(6).toString('hex')}`;
        res.sent++;
        const s = performance.now();
        let r: any;
        try {
          r = await w.request(id, 'exec.run', { session_id: sids[c], command: `printf '%s' ${token}` }, 60_000);
        } catch {
          res.lost++;
          continue;
        }
        res.latencies.push(performance.now() - s);
        res.answered++;
        if (r.id !== id) res.mismatched++;
        else if (r.ok !== true) res.failures[r.error?.code ?? '?'] = (res.failures[r.error?.code ?? '?'] ?? 0) + 1;
        else if (r.data.stdout !== token || r.data.exit_code !== 0) res.mismatched++;
        else res.ok++;
      }
    }),
  );
  res.wallMs = performance.now() - t0;
  // Every answer arrived exactly once: no duplicate and no stray id.
  for (const w of wires) {
    for (const [id, list] of w.answers) {
      if (id.startsWith('load-') && list.length !== 1) res.mismatched += list.length - 1;
    }
    assert.deepEqual(w.garbage, [], 'every line the daemon sent is JSON');
  }
  await Promise.all(wires.map((w, c) => w.request(nextId('destroy'), 'session.destroy', { session_id: sids[c] })));
  for (const w of wires) w.close();
  return res;
}

/** The load scenario's figure and assertions: every request answered, on its own id. */
export function checkLoad(t: Diag, name: string, r: LoadResult, clients: number, perClient: number): void {
  figure(t, name, {
    clients,
    per_client: perClient,
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
}

