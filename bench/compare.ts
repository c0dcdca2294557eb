/**
 * Diagnostic, not part of `make bench`: exec.run true on a kept and on a
 * one-shot connection against several daemons at once, interleaved with the
 * C posix_spawn floor (bench/floor.ts) in a rotating
 * order, so that differences between builds or settings are measured under
 * the same machine noise.
 *
 *   BENCH_COMPARE='base=/tmp/a:warn,patched=/tmp/b:warn,info=:info' node dist/bench/compare.js
 *
 * Each entry is name=root:loglevel[:shm][:spawner]; root is a directory holding dist/ and
 * node_modules/ (readable by the test user), empty for this checkout; `shm`
 * puts TRL_RUNTIME_DIR (the orphan ledger) on tmpfs, as /run/trl is under systemd;
 * `spawner` sets TRL_SPAWNER (native, child_process; a build that predates it takes none).
 */
import { chownSync, mkdtempSync } from 'node:fs';
import { daemonIdentity } from '../test/helpers/launch';
import { performance } from 'node:perf_hooks';
import { TrlClient } from '../src/client/client';
import { procCpuTicks, startDaemon, type BenchDaemon } from './daemon';
import { Floor } from './floor';
import { RawWire } from '../test/helpers/raw-wire';

const ITER = Number(process.env.BENCH_ITER || 500);
const spec = process.env.BENCH_COMPARE || 'current=:warn,current-info=:info';

/** One request the way a one-shot client sends it: connect, one line out, one line back, close. */
async function oneShot(socketPath: string, line: string): Promise<number> {
  const t0 = performance.now();
  const [reply] = await RawWire.exchange(socketPath, line, 1);
  const t = performance.now() - t0;
  const msg = JSON.parse(reply!);
  if (!msg.ok || msg.data.exit_code !== 0) throw new Error(`one-shot exec.run failed: ${reply!.slice(0, 300)}`);
  return t;
}

async function main(): Promise<void> {
  const entries = spec.split(',').map((e) => {
    const [name, rest] = e.split('=') as [string, string];
    const [root, level, rt, spawner] = rest.split(':') as [string, string | undefined, string | undefined, string | undefined];
    return { name, root: root || undefined, level: level || 'warn', shm: rt === 'shm', spawner: spawner || undefined };
  });
  const daemons: { name: string; d: BenchDaemon; c: TrlClient; sid: string; line: string; samples: number[]; shot: number[]; cpu0: number }[] = [];
  for (const e of entries) {
    const env: Record<string, string> = e.spawner ? { TRL_SPAWNER: e.spawner } : {};
    if (e.shm) {
      const dir = mkdtempSync('/dev/shm/trl-bench-');
      chownSync(dir, daemonIdentity().uid, daemonIdentity().gid);
      env.TRL_RUNTIME_DIR = dir;
    }
    const d = await startDaemon(e.level, env, e.root ? { root: e.root } : {});
    const c = await TrlClient.connect(d.socketPath);
    const { session_id } = await c.request<{ session_id: string }>('session.create', {});
    const shotSession = (await c.request<{ session_id: string }>('session.create', {})).session_id;
    const line = JSON.stringify({ id: 'b', method: 'exec.run', params: { session_id: shotSession, command: 'true' } }) + '\n';
    daemons.push({ name: `${e.name} [${e.level}${e.shm ? ',shm' : ''}]`, d, c, sid: session_id, line, samples: [], shot: [], cpu0: 0 });
  }
  const cFloor = Floor.start();
  const floor: number[] = [];
  const steps: (() => Promise<void>)[] = [
    async () => void floor.push(await cFloor.one()),
    ...daemons.map((x) => async () => {
      const t0 = performance.now();
      await x.c.request('exec.run', { session_id: x.sid, command: 'true' });
      x.samples.push(performance.now() - t0);
    }),
    ...daemons.map((x) => async () => void x.shot.push(await oneShot(x.d.socketPath, x.line))),
  ];
  for (let i = 0; i < 30; i++) for (const s of steps) await s();
  floor.length = 0;
  for (const x of daemons) (x.samples.length = 0), (x.shot.length = 0), (x.cpu0 = procCpuTicks(x.d.pid));
  for (let i = 0; i < ITER; i++) for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;
  const f = med(floor);
  console.log(`${ITER} iterations each, interleaved; C posix_spawn floor median ${f.toFixed(3)} ms p99 ${p99(floor).toFixed(3)} ms`);
  for (const x of daemons) {
    // Both styles ran ITER commands each against this daemon.
    const cpu = ((procCpuTicks(x.d.pid) - x.cpu0) * 10) / (2 * ITER);
    const m = med(x.samples);
    const o = med(x.shot);
    console.log(
      `${x.name.padEnd(22)} kept ${m.toFixed(3)} ms (${(m / f).toFixed(2)}×) p99 ${p99(x.samples).toFixed(3)}  one-shot ${o.toFixed(3)} ms (${(o / f).toFixed(2)}×) p99 ${p99(x.shot).toFixed(3)}  daemon CPU ${cpu.toFixed(2)} ms/exec`,
    );
  }
  cFloor.close();
  for (const x of daemons) {
    x.c.close();
    await x.d.dispose();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
