/**
 * Diagnostic, not part of `make bench`: where the daemon's spawn costs more
 * than the floor. Measures, interleaved in a rotating order, child_process.spawn
 * variants that step from the floor (`sh -c true`, 3 pipes) to exactly what
 * src/exec/spawn.ts + script.ts start (4 pipes, detached, the EXIT-trap
 * wrapper that execs `env -0`), plus alternatives.
 *
 *   node dist/bench/spawn-variants.js            # BENCH_ITER (default 600) each
 *   BALLAST_MB=60 node dist/bench/spawn-variants.js   # with a bigger heap, as a busy daemon has
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { wrapCommand } from '../src/exec/script';

const ITER = Number(process.env.BENCH_ITER || 600);
const BALLAST_MB = Number(process.env.BALLAST_MB || 0);

// Retained garbage-free heap, so fork() has more page tables to copy.
const ballast: number[][] = [];
for (let i = 0; i < BALLAST_MB * 16; i++) ballast.push(new Array(8192).fill(i));

const smallEnv = () => ({ PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/tmp', TRL_SESSION_ID: randomUUID(), TRL_EXEC_ID: randomUUID() });
/** The trap without `exec env -0`: reports only rc and cwd (shows what the env exec costs). */
const wrapNoEnv = (c: string) => `trap '__trl_rc=$?; printf "%s\\0%s\\0" "$__trl_rc" "$PWD" >&3' EXIT\n{ ${c}\n} 3>&-`;
/** The trap with the shell's own `export -p` instead of exec'ing env (no extra execve). */
const wrapExportP = (c: string) => `trap '__trl_rc=$?; printf "%s\\0%s\\0" "$__trl_rc" "$PWD" >&3; export -p >&3' EXIT\n{ ${c}\n} 3>&-`;

type Variant = { name: string; run: () => Promise<number> };

function timed(file: string, args: string[], opts: Parameters<typeof spawn>[2], pipes: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, opts);
    child.once('error', reject);
    for (let i = 0; i < pipes; i++) {
      const s = child.stdio[i];
      if (s && i > 0) (s as NodeJS.ReadableStream).resume();
    }
    if (child.stdin) child.stdin.end();
    child.once('close', () => resolve(performance.now() - t0));
  });
}

const variants: Variant[] = [
  { name: 'A floor: sh -c true, 3 pipes', run: () => timed('/bin/sh', ['-c', 'true'], { stdio: 'pipe' }, 3) },
  { name: 'B + 4th pipe', run: () => timed('/bin/sh', ['-c', 'true'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }, 4) },
  { name: 'C + detached (setsid)', run: () => timed('/bin/sh', ['-c', 'true'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true }, 4) },
  { name: 'D + small env (as the daemon)', run: () => timed('/bin/sh', ['-c', 'true'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true, env: smallEnv() }, 4) },
  { name: 'E + EXIT trap, exec env -0 (= daemon)', run: () => timed('/bin/sh', ['-c', wrapCommand('true')], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true, env: smallEnv() }, 4) },
  { name: 'F   trap without env -0', run: () => timed('/bin/sh', ['-c', wrapNoEnv('true')], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true, env: smallEnv() }, 4) },
  { name: 'G   trap with export -p (builtin)', run: () => timed('/bin/sh', ['-c', wrapExportP('true')], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true, env: smallEnv() }, 4) },
];

async function main(): Promise<void> {
  const samples = variants.map(() => [] as number[]);
  for (let i = 0; i < 30; i++) for (const v of variants) await v.run();
  for (let i = 0; i < ITER; i++) {
    for (let k = 0; k < variants.length; k++) {
      const j = (i + k) % variants.length;
      samples[j]!.push(await variants[j]!.run());
    }
  }
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)]!, p99: s[Math.ceil(0.99 * s.length) - 1]! };
  };
  const base = stat(samples[0]!).median;
  console.log(`spawn variants, ${ITER} iterations each, interleaved; ballast ${BALLAST_MB} MB; RSS ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MB`);
  for (let j = 0; j < variants.length; j++) {
    const s = stat(samples[j]!);
    console.log(`${variants[j]!.name.padEnd(42)} median ${s.median.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  ${(s.median / base).toFixed(2)}×`);
  }
  void ballast.length;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
