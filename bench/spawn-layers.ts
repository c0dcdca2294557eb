/**
 * Diagnostic, not part of `make bench`: the native spawn path layer by layer,
 * interleaved with the C floor (bench/floor.c) in one process, so the cost of
 * each layer is measured under the same machine noise:
 *
 *   floor    posix_spawn of `/bin/sh -c true`, two pipes (the C program)
 *   raw      the addon: clone on the loop's thread, 4 socket pairs, exit via pidfd; fds closed at once
 *   spawner  nativeSpawner: the same plus a net.Socket per fd, waiting for the 3 read ends to close
 *   wrapped  the spawner running the daemon's EXIT-trap wrapper (state written with `export -p` on fd 3)
 *
 *   BENCH_ITER=1500 node dist/bench/spawn-layers.js
 */
import { closeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { nativeAddon } from '../src/native/addon';
import { nativeSpawner } from '../src/exec/spawn-native';
import { wrapCommand } from '../src/exec/script';
import { Floor } from './floor';

const ITER = Number(process.env.BENCH_ITER || 1500);
const env = { PATH: '/usr/bin:/bin', HOME: '/tmp', TRL_EXEC_ID: 'x', TRL_SESSION_ID: 'y' };

async function main(): Promise<void> {
  const { addon, error } = nativeAddon();
  if (!addon) throw new Error(`the native addon does not load: ${error}`);
  const spawn = nativeSpawner(addon);
  const envp = Object.entries(env).map(([k, v]) => `${k}=${v}`);

  const raw = (): Promise<number> => {
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const r = addon.spawn('/bin/sh', ['/bin/sh', '-c', 'true'], envp, '/', [], null, null, (err) => err && reject(err));
      for (const fd of r.fds) closeSync(fd);
      addon.watchExit(r.pidfd, () => resolve(performance.now() - t0));
    });
  };
  const viaSpawner = async (args: string[]): Promise<number> => {
    const t0 = performance.now();
    const c = await spawn({ file: '/bin/sh', args, cwd: '/', env });
    c.stdin.end();
    const closed = Promise.all(
      [c.stdout, c.stderr, c.state].map((s) => {
        s.resume();
        return new Promise<void>((r) => s.once('close', () => r()));
      }),
    );
    await new Promise((r) => c.onExit(r));
    await closed;
    return performance.now() - t0;
  };

  const floor = Floor.start();
  const series: Record<string, () => Promise<number>> = {
    floor: () => floor.one(),
    raw,
    spawner: () => viaSpawner(['-c', 'true']),
    wrapped: () => viaSpawner(['-c', wrapCommand('true', '', 'export-p')]),
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(series).map((k) => [k, []]));
  for (let i = 0; i < 30 + ITER; i++) {
    for (const [name, one] of Object.entries(series)) {
      const ms = await one();
      if (i >= 30) samples[name]!.push(ms);
    }
  }
  floor.close();
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const base = median(samples.floor!);
  process.stdout.write(`${ITER} iterations each, interleaved after 30 warm-up rounds\n`);
  for (const [name, a] of Object.entries(samples)) {
    process.stdout.write(`${name.padEnd(8)} median ${median(a).toFixed(3)} ms  ${(median(a) / base).toFixed(2)}× floor\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`spawn-layers: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
