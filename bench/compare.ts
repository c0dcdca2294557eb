/**
 * Diagnostic, not part of `make bench`: exec.run true on a kept connection
 * against several daemons at once, interleaved with the floor in a rotating
 * order, so that differences between builds or settings are measured under
 * the same machine noise.
 *
 *   BENCH_COMPARE='base=/tmp/a:warn,patched=/tmp/b:warn,info=:info' node dist/bench/compare.js
 *
 * Each entry is name=root:loglevel[:shm]; root is a directory holding dist/ and
 * node_modules/ (readable by the test user), empty for this checkout; `shm`
 * puts TRL_RUNTIME_DIR (the orphan ledger) on tmpfs, as /run/trl is under systemd.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { daemonIdentity } from '../test/helpers/launch';
import { performance } from 'node:perf_hooks';
import { TrlClient } from '../src/client/client';
import { procCpuTicks, startDaemon, type BenchDaemon } from './daemon';

const ITER = Number(process.env.BENCH_ITER || 500);
const spec = process.env.BENCH_COMPARE || 'current=:warn,current-info=:info';

function spawnTrue(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'true'], { stdio: 'pipe' });
    child.once('error', reject);
    child.once('close', () => resolve(performance.now() - t0));
  });
}

async function main(): Promise<void> {
  const entries = spec.split(',').map((e) => {
    const [name, rest] = e.split('=') as [string, string];
    const [root, level, rt] = rest.split(':') as [string, string | undefined, string | undefined];
    return { name, root: root || undefined, level: level || 'warn', shm: rt === 'shm' };
  });
  const daemons: { name: string; d: BenchDaemon; c: TrlClient; sid: string; samples: number[]; cpu0: number }[] = [];
  for (const e of entries) {
    const env: Record<string, string> = {};
    if (e.shm) {
      const dir = mkdtempSync('/dev/shm/trl-bench-');
      chownSync(dir, daemonIdentity().uid, daemonIdentity().gid);
      env.TRL_RUNTIME_DIR = dir;
    }
    const d = await startDaemon(e.level, env, e.root ? { root: e.root } : {});
    const c = await TrlClient.connect(d.socketPath);
    const { session_id } = await c.request<{ session_id: string }>('session.create', {});
    daemons.push({ name: `${e.name} [${e.level}${e.shm ? ',shm' : ''}]`, d, c, sid: session_id, samples: [], cpu0: 0 });
  }
  const floor: number[] = [];
  const steps: (() => Promise<void>)[] = [
    async () => void floor.push(await spawnTrue()),
    ...daemons.map((x) => async () => {
      const t0 = performance.now();
      await x.c.request('exec.run', { session_id: x.sid, command: 'true' });
      x.samples.push(performance.now() - t0);
    }),
  ];
  for (let i = 0; i < 30; i++) for (const s of steps) await s();
  floor.length = 0;
  for (const x of daemons) (x.samples.length = 0), (x.cpu0 = procCpuTicks(x.d.pid));
  for (let i = 0; i < ITER; i++) for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;
  const f = med(floor);
  console.log(`${ITER} iterations each, interleaved; floor median ${f.toFixed(3)} ms p99 ${p99(floor).toFixed(3)} ms`);
  for (const x of daemons) {
    const cpu = ((procCpuTicks(x.d.pid) - x.cpu0) * 10) / ITER;
    const m = med(x.samples);
    console.log(
      `${x.name.padEnd(28)} median ${m.toFixed(3)} ms (${(m / f).toFixed(2)}× floor, +${(m - f).toFixed(3)} ms)  p99 ${p99(x.samples).toFixed(3)} ms  daemon CPU ${cpu.toFixed(2)} ms/exec`,
    );
  }
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
