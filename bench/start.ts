import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { activate, ACTIVATE } from '../test/helpers/activate';
import { DAEMON_ENTRY, daemonIdentity, makePrivateDir } from '../test/helpers/launch';
import { readMemory } from '../src/system/proc';
import { buildC, Floor } from './floor';

/**
 * Part "start": the cold start as systemd gives it, on this host.
 * systemd-socket-activate binds a socket; the foreign C client (bench/floor.c)
 * connects and asks `system.ping`; the program started for that connection
 * answers. The floor is bench/start-floor.c, which accepts on the passed
 * socket and answers one line. Then trld as the daemon's user: the package's
 * bundle (its loader, packaging/bundle.mjs) without and with its code cache
 * (made here by `trld --write-code-cache`, root's as the loader demands), and
 * the unbundled dist/. Alternated, BENCH_START_RUNS starts each.
 */

const REPO = resolve(__dirname, '../..');
const PING = '{"id":"s","method":"system.ping"}';
export const START_TARGET_MS = 150;

export interface StartFigures {
  runs: number;
  /** Median, min and max ms from connect to the answer, per variant, and VmRSS (MB) 1.5 s after the answer of one more start; or why it was not measured. */
  variants: Record<string, { median: number; min: number; max: number; ratio: number; rss_mb: number | null } | { skipped: string }>;
}

interface Variant {
  name: string;
  argv: string[];
  env: string[];
}

export async function runStartBench(runs: number): Promise<StartFigures | { skipped: string }> {
  if (!existsSync(ACTIVATE)) return { skipped: `${ACTIVATE} is not installed` };
  const lib = join(REPO, 'build/bench/bundle');
  const built = spawnSync(process.execPath, [join(REPO, 'packaging/bundle.mjs'), '--out', lib], { encoding: 'utf8' });
  const id = daemonIdentity();
  const asUser = id.user !== null ? ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups'] : [];
  const skipped: Record<string, string> = {};
  const variants: Variant[] = [{ name: 'floor (C, accept and answer)', argv: [buildC('start-floor')], env: [] }];
  variants.push({ name: 'trld, unbundled dist/', argv: [process.execPath, DAEMON_ENTRY], env: [] });
  let cacheDir: string | null = null;
  if (built.status !== 0) {
    skipped['trld, the package\'s bundle'] = `the bundle was not built: ${built.stderr.trim().split('\n').pop()}`;
  } else {
    variants.push({ name: 'trld bundle, no code cache', argv: [process.execPath, join(lib, 'trld.js')], env: ['TRL_CODE_CACHE_DIR='] });
    if (process.getuid!() !== 0) skipped['trld bundle with its code cache'] = 'a code cache must be root\'s: run the bench as root';
    else {
      cacheDir = mkdtempSync('/tmp/trl-bench-cache-');
      chmodSync(cacheDir, 0o755);
      const made = await writeCache(join(lib, 'trld.js'), join(cacheDir, 'trld.cache'), asUser);
      if (made !== null) skipped['trld bundle with its code cache'] = made;
      else variants.push({ name: 'trld bundle with its code cache (as the package)', argv: [process.execPath, join(lib, 'trld.js')], env: [`TRL_CODE_CACHE_DIR=${cacheDir}`] });
    }
  }
  const floor = Floor.start();
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  const rss = new Map<string, number | null>();
  try {
    for (let i = 0; i < runs; i++) {
      for (const v of variants) samples.get(v.name)!.push((await oneStart(floor, v, asUser)).ms);
    }
    for (const v of variants.slice(1)) rss.set(v.name, (await oneStart(floor, v, asUser, 1500)).rssMb);
  } finally {
    floor.close();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  }
  const median = (s: number[]) => {
    const x = [...s].sort((a, b) => a - b);
    return x.length % 2 ? x[(x.length - 1) / 2]! : (x[x.length / 2 - 1]! + x[x.length / 2]!) / 2;
  };
  const floorMedian = median(samples.get(variants[0]!.name)!);
  const out: StartFigures['variants'] = {};
  for (const v of variants) {
    const s = samples.get(v.name)!;
    out[v.name] = { median: r1(median(s)), min: r1(Math.min(...s)), max: r1(Math.max(...s)), ratio: r1(median(s) / floorMedian), rss_mb: rss.get(v.name) ?? null };
  }
  for (const [name, why] of Object.entries(skipped)) out[name] = { skipped: why };
  return { runs, variants: out };
}

const r1 = (x: number) => Math.round(x * 10) / 10;

/** One activated start: connect to first answer, ms; with `settleMs`, the started program's VmRSS (MB) that long after. */
async function oneStart(floor: Floor, v: Variant, asUser: string[], settleMs = 0): Promise<{ ms: number; rssMb: number | null }> {
  const dir = makePrivateDir('trl-bench-start-');
  const isDaemon = v.argv[0] === process.execPath;
  const env = isDaemon ? [`TRL_SOCKET_PATH=${join(dir, 'own.sock')}`, `TRL_RUNTIME_DIR=${join(dir, 'run')}`, 'TRL_LOG_LEVEL=warn', `HOME=${dir}`, ...v.env] : v.env;
  const proc = await activate(join(dir, 'trl.sock'), [...asUser, ...v.argv], env);
  try {
    const ms = await floor.oneShot(join(dir, 'trl.sock'), PING);
    if (settleMs === 0) return { ms, rssMb: null };
    await new Promise((r) => setTimeout(r, settleMs));
    // systemd-socket-activate and setpriv exec: the pid is the program's.
    const bytes = readMemory(proc.pid!)?.rss;
    return { ms, rssMb: bytes === undefined ? null : r1(bytes / (1024 * 1024)) };
  } finally {
    const exited = new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(null) : proc.once('exit', r)));
    proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `trld --write-code-cache 3>FILE` as the daemon's user, the file then root's 0644: null, or why it failed. */
function writeCache(trld: string, file: string, asUser: string[]): Promise<string | null> {
  mkdirSync(join(file, '..'), { recursive: true });
  const fd = openSync(file, 'w', 0o600);
  const child = spawn(asUser[0] ?? process.execPath, [...asUser.slice(1), ...(asUser.length ? [process.execPath] : []), trld, '--write-code-cache'], {
    cwd: '/',
    env: { PATH: '/usr/bin:/bin' },
    stdio: ['ignore', 'ignore', 'pipe', fd],
  });
  closeSync(fd);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((done) =>
    child.on('exit', (code) => {
      if (code !== 0) return done(`trld --write-code-cache failed (exit ${code}): ${stderr.trim()}`);
      chmodSync(file, 0o644);
      done(null);
    }),
  );
}

/** The figures of what the package runs (its bundle with its code cache), if measured. */
export function packageStart(f: StartFigures): { median: number; rss_mb: number | null } | null {
  const v = Object.entries(f.variants).find(([name]) => name.includes('as the package'))?.[1];
  return v && !('skipped' in v) ? v : null;
}

/** The part's table, with the issue's target for what the package runs. */
export function formatStart(f: StartFigures | { skipped: string }): string {
  if ('skipped' in f) return `cold start: not measured: ${f.skipped}\n`;
  const lines = [`cold start on this host, socket activation, connect to first answer (ms, ${f.runs} alternated starts each; floor: bench/start-floor.c):`];
  for (const [name, v] of Object.entries(f.variants)) {
    if ('skipped' in v) lines.push(`  ${name.padEnd(50)} not measured: ${v.skipped}`);
    else lines.push(`  ${name.padEnd(50)} median ${String(v.median).padStart(6)}  min ${String(v.min).padStart(6)}  max ${String(v.max).padStart(6)}  ${`${v.ratio}× floor`.padEnd(12)}${v.rss_mb === null ? '' : `VmRSS 1.5 s after: ${v.rss_mb} MB`}`);
  }
  const pkg = packageStart(f);
  if (pkg) lines.push(`  target: the package's start ≤ ${START_TARGET_MS} ms on the host: median ${pkg.median} ms, ${pkg.median <= START_TARGET_MS ? 'met' : 'NOT met'}`);
  return lines.join('\n') + '\n';
}
