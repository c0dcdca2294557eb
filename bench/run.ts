/**
 * trl benchmark (`make bench`). One run prints every figure beside the
 * baseline measured in the same run, the ratio, the issue's target and whether
 * it is met, and writes the figures to build/bench/latest.json. It never fails
 * the build: the exit code is non-zero only when the benchmark itself breaks.
 *
 * Settings (environment):
 *   BENCH_ITER         iterations of each exec.run-true series (default 800)
 *   BENCH_WARM         warm-up rounds before it (default 1000: a fresh daemon's JIT takes about that to settle;
 *                      the first FRESH_ROUNDS of them are reported as the fresh daemon's figures)
 *   BENCH_TPUT_MS      length of one throughput window, ms (default 1500)
 *   BENCH_TPUT_ROUNDS  floor/daemon window pairs, alternated (default 4)
 *   BENCH_INFLIGHT     commands in flight for throughput (default 16)
 *   BENCH_FLOOD_MS     how long the 8 sessions keep starting floods (default 5000)
 *   BENCH_SETTLE_MS    quiet before the flood part's idle figures (default 8000)
 *   BENCH_FLOOD_BYTES  bytes each flood command writes (default 64M)
 *   BENCH_FLOODERS     sessions flooding at once (default 8)
 *   BENCH_PING_MS      idle ping series length, ms (default 2000)
 *   BENCH_PING_EVERY   ms between pings (default 5)
 *   BENCH_INFO_ITER    iterations of the second, info-level latency run (default BENCH_ITER/2; 0 skips it)
 *   BENCH_FLOOD_CMD    the flood command (default: head -c $BENCH_FLOOD_BYTES /dev/zero | tr '\0' x)
 *   BENCH_FLOOD_KEEP   the flood commands' output_keep (default: the daemon's, head; `trl mcp` asks head_tail)
 *   BENCH_DAEMON_ENV   extra daemon settings, space-separated K=V (e.g. TRL_MAX_OUTPUT_BYTES=1048576)
 *   BENCH_PARTS        which parts to run (default all): latency,throughput,flood,info,stream,jsonbytes,start
 *   BENCH_START_RUNS   activated cold starts per variant in part "start" (default 10)
 *   BENCH_SPAWNERS     daemons side by side in parts 1-2, by TRL_SPAWNER (default native,child_process)
 *   BENCH_NODE_ARGS    extra node flags for the daemons, space-separated (e.g. --trace-gc; diagnostics)
 *   BENCH_DAEMON_ROOT  run the daemons of another build: a directory holding its dist/ and node_modules/
 *                      (readable by the test user), measured by this benchmark (A/B; diagnostics)
 *   BENCH_DAEMON_LOG   a file each daemon's stdout (its log, --trace-gc lines) is appended to when it stops
 */
import { spawnSync } from 'node:child_process';
import { runStreamBench } from './stream';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { TrlClient } from '../src/client/client';
import { readMemory } from '../src/system/proc';
import { procCpuTicks, startDaemon, type BenchDaemon } from './daemon';
import { Floor } from './floor';
import { formatStart, packageStart, runStartBench, START_TARGET_MS } from './start';

const REPO = resolve(__dirname, '../..');
const num = (name: string, def: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative number`);
  return n;
};
const ITER = num('BENCH_ITER', 800);
const WARM = num('BENCH_WARM', 1000);
/** Warm-up rounds reported as a fresh daemon's figures. */
const FRESH_ROUNDS = 200;
const TPUT_MS = num('BENCH_TPUT_MS', 1500);
const TPUT_ROUNDS = num('BENCH_TPUT_ROUNDS', 4);
const INFLIGHT = num('BENCH_INFLIGHT', 16);
const FLOOD_MS = num('BENCH_FLOOD_MS', 5000);
/** Quiet before the flood part's idle figures: the earlier parts' commands stopped at most this long ago. */
const SETTLE_MS = num('BENCH_SETTLE_MS', 8000);
const FLOOD_BYTES = process.env.BENCH_FLOOD_BYTES || '64M';
const FLOODERS = num('BENCH_FLOODERS', 8);
const PING_MS = num('BENCH_PING_MS', 2000);
const PING_EVERY = num('BENCH_PING_EVERY', 5);
const INFO_ITER = num('BENCH_INFO_ITER', Math.round(ITER / 2));
const PARTS = new Set((process.env.BENCH_PARTS || 'latency,throughput,flood,info,stream,jsonbytes,start').split(',').map((p) => p.trim()));
const FLOOD_CMD = process.env.BENCH_FLOOD_CMD || `head -c ${FLOOD_BYTES} /dev/zero | tr '\\0' x`;
const FLOOD_KEEP = process.env.BENCH_FLOOD_KEEP ? { output_keep: process.env.BENCH_FLOOD_KEEP } : {};
const NODE_ARGS = (process.env.BENCH_NODE_ARGS || '').split(/\s+/).filter(Boolean);
const DAEMON_OPTS = { nodeArgs: NODE_ARGS, ...(process.env.BENCH_DAEMON_ROOT ? { root: process.env.BENCH_DAEMON_ROOT } : {}) };
/** Extra daemon settings, e.g. BENCH_DAEMON_ENV='TRL_MAX_OUTPUT_BYTES=1048576 TRL_RUNTIME_DIR=/dev/shm/x'. */
const DAEMON_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_DAEMON_ENV || '')
    .split(/\s+/)
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

// ---------------------------------------------------------------- statistics

interface Dist {
  n: number;
  median: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}
function dist(samples: number[]): Dist {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return {
    n: s.length,
    median: r3(s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2),
    p99: r3(q(0.99)),
    mean: r3(s.reduce((a, b) => a + b, 0) / s.length),
    min: r3(s[0]!),
    max: r3(s[s.length - 1]!),
  };
}
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

// ------------------------------------------------------------- the measures


async function keptRun(client: TrlClient, sessionId: string): Promise<number> {
  const t0 = performance.now();
  const r = await client.request<{ exit_code: number }>('exec.run', { session_id: sessionId, command: 'true' });
  const t = performance.now() - t0;
  if (r.exit_code !== 0) throw new Error(`exec.run true exited ${r.exit_code}`);
  return t;
}

async function newSession(client: TrlClient): Promise<string> {
  const s = await client.request<{ session_id: string }>('session.create', {});
  return s.session_id;
}

/** One daemon's side of part 1. */
interface DaemonLatency {
  /** From the foreign client (bench/floor.c): the daemon's figures, no client runtime of ours in them. */
  oneshot_ms: Dist;
  kept_ms: Dist;
  /** Kept connection through trl's TypeScript client: what a Node agent sees (information, no target). */
  ts_kept_ms: Dist;
  /** The same from the foreign client in the first FRESH_ROUNDS warm-up rounds: a daemon whose JIT has not settled. */
  fresh: { oneshot_ms: Dist; kept_ms: Dist } | null;
  /** Daemon CPU time (user+sys, its own process only) per exec.run, ms. */
  daemon_cpu_ms_per_exec: number;
  /** Bytes the daemon logged per exec.run. */
  log_bytes_per_exec: number;
}

interface LatencyFigures {
  iterations: number;
  warmup_rounds: number;
  floor_ms: Dist;
  fresh_floor_ms: Dist | null;
  daemons: Record<string, DaemonLatency>;
}

/** Labelled daemons: one per spawner in the main run. */
type Daemons = { label: string; d: BenchDaemon }[];

/**
 * The floor and, for each daemon, one-shot and kept-connection exec.run true,
 * interleaved in a rotating order so noise hits all of them alike.
 */
async function latency(daemons: Daemons, floor: Floor, iterations: number): Promise<LatencyFigures> {
  const floorMs: number[] = [];
  const per = await Promise.all(
    daemons.map(async ({ label, d }) => {
      const client = await TrlClient.connect(d.socketPath);
      const line = async (id: string) => JSON.stringify({ id, method: 'exec.run', params: { session_id: await newSession(client), command: 'true' } });
      const [keptLine, oneShotLine, tsSession] = [await line('k'), await line('b'), await newSession(client)];
      const foreign = await floor.connect(d.socketPath);
      return { label, d, client, foreign, keptLine, oneShotLine, tsSession, shot: [] as number[], kept: [] as number[], tsKept: [] as number[], cpu0: 0, log0: 0 };
    }),
  );
  const steps: (() => Promise<unknown>)[] = [async () => floorMs.push(await floor.one())];
  for (const p of per) {
    steps.push(async () => p.shot.push(await floor.oneShot(p.d.socketPath, p.oneShotLine)));
    steps.push(async () => p.kept.push(await p.foreign.request(p.keptLine)));
    steps.push(async () => p.tsKept.push(await keptRun(p.client, p.tsSession)));
  }
  // Warm-up: JIT on both sides, pipes, sessions; its first rounds are the fresh daemon's figures.
  let fresh: { floor: Dist; per: { oneshot_ms: Dist; kept_ms: Dist }[] } | null = null;
  for (let i = 0; i < WARM; i++) {
    for (const s of steps) await s();
    if (i + 1 === Math.min(WARM, FRESH_ROUNDS)) fresh = { floor: dist(floorMs), per: per.map((p) => ({ oneshot_ms: dist(p.shot), kept_ms: dist(p.kept) })) };
  }
  floorMs.length = 0;
  for (const p of per) {
    p.shot.length = p.kept.length = p.tsKept.length = 0;
    p.cpu0 = procCpuTicks(p.d.pid);
    p.log0 = p.d.logBytes();
  }
  for (let i = 0; i < iterations; i++) {
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  }
  const daemonsOut: Record<string, DaemonLatency> = {};
  for (const [i, p] of per.entries()) {
    p.client.close();
    daemonsOut[p.label] = {
      fresh: fresh?.per[i] ?? null,
      oneshot_ms: dist(p.shot),
      kept_ms: dist(p.kept),
      ts_kept_ms: dist(p.tsKept),
      daemon_cpu_ms_per_exec: r3(((procCpuTicks(p.d.pid) - p.cpu0) * 10) / (3 * iterations)), // ticks are 10 ms (CLK_TCK 100)
      log_bytes_per_exec: Math.round((p.d.logBytes() - p.log0) / (3 * iterations)),
    };
  }
  return { iterations, warmup_rounds: WARM, floor_ms: dist(floorMs), fresh_floor_ms: fresh?.floor ?? null, daemons: daemonsOut };
}

/** Busy and total jiffies of the whole machine (all CPUs), from /proc/stat. */
function machineJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of the machine's CPU time that was busy over `ms` (before the run: how quiet the machine is). */
async function machineBusy(ms: number): Promise<number> {
  const a = machineJiffies();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineJiffies();
  return (b.busy - a.busy) / Math.max(1, b.total - a.total);
}

/** Machine-wide CPU ms per completed iteration in the last loops() window (every process: daemon, shells, client, others). */
let lastCpuMsPerIter = NaN;

/** Runs `body` in `n` parallel loops for `ms`; returns completed iterations per second. */
async function loops(n: number, ms: number, body: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const j0 = machineJiffies();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      while (performance.now() < end) {
        await body(i);
        done++;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  lastCpuMsPerIter = ((machineJiffies().busy - j0.busy) * 10) / Math.max(1, done);
  return (done * 1000) / elapsed;
}

interface ThroughputFigures {
  inflight: number;
  window_ms: number;
  rounds: number;
  floor_per_s: number[];
  floor_cps: number;
  /** Machine-wide CPU time per command (all CPUs, all processes) during the windows. */
  floor_machine_cpu_ms_per_cmd: number;
  daemons: Record<string, { per_s: number[]; cps: number; machine_cpu_ms_per_cmd: number; percent_of_floor: number }>;
}

/** Machine-wide CPU ms per command over one window of `run`. */
async function measured(run: () => Promise<number>): Promise<{ cps: number; cpuMs: number }> {
  const j0 = machineJiffies();
  const cps = await run();
  const cpuMs = ((machineJiffies().busy - j0.busy) * 10) / Math.max(1, (cps * TPUT_MS) / 1000);
  return { cps, cpuMs };
}

async function throughput(daemons: Daemons, floor: Floor): Promise<ThroughputFigures> {
  const sides = await Promise.all(
    daemons.map(async ({ label, d }) => {
      const clients = await Promise.all(Array.from({ length: INFLIGHT }, () => TrlClient.connect(d.socketPath)));
      const sessions = await Promise.all(clients.map(newSession));
      return { label, clients, body: (i: number) => keptRun(clients[i]!, sessions[i]!), per_s: [] as number[], cpu: [] as number[] };
    }),
  );
  await floor.window(300, INFLIGHT);
  for (const s of sides) await loops(INFLIGHT, 300, s.body);
  const floorPerS: number[] = [];
  const floorCpu: number[] = [];
  const runs: (() => Promise<void>)[] = [
    async () => {
      const m = await measured(() => floor.window(TPUT_MS, INFLIGHT));
      floorPerS.push(m.cps);
      floorCpu.push(m.cpuMs);
    },
    ...sides.map((s) => async () => {
      s.per_s.push(await loops(INFLIGHT, TPUT_MS, s.body));
      s.cpu.push(lastCpuMsPerIter);
    }),
  ];
  // Rotate which goes first, so a drift in machine load favours none.
  for (let r = 0; r < TPUT_ROUNDS; r++) for (let k = 0; k < runs.length; k++) await runs[(r + k) % runs.length]!();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const daemonsOut: ThroughputFigures['daemons'] = {};
  for (const s of sides) {
    for (const c of s.clients) c.close();
    daemonsOut[s.label] = {
      per_s: s.per_s.map(Math.round),
      cps: Math.round(mean(s.per_s)),
      machine_cpu_ms_per_cmd: r3(mean(s.cpu)),
      percent_of_floor: r2((100 * mean(s.per_s)) / mean(floorPerS)),
    };
  }
  return {
    inflight: INFLIGHT,
    window_ms: TPUT_MS,
    rounds: TPUT_ROUNDS,
    floor_per_s: floorPerS.map(Math.round),
    floor_cps: Math.round(mean(floorPerS)),
    floor_machine_cpu_ms_per_cmd: r3(mean(floorCpu)),
    daemons: daemonsOut,
  };
}

class Pinger {
  private constructor(private readonly worker: Worker) {}
  static async start(socketPath: string): Promise<Pinger> {
    const worker = new Worker(join(__dirname, 'ping-worker.js'), { workerData: { socketPath, intervalMs: PING_EVERY } });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`ping worker: ${JSON.stringify(m)}`))));
      worker.once('error', reject);
    });
    return new Pinger(worker);
  }
  begin(): void {
    this.worker.postMessage('start');
  }
  end(): Promise<number[]> {
    return new Promise((resolve) => {
      this.worker.once('message', (m) => resolve(m as number[]));
      this.worker.postMessage('stop');
    });
  }
  async close(): Promise<void> {
    this.worker.postMessage('exit');
    await new Promise((r) => this.worker.once('exit', r));
  }
}

interface RssSample {
  t_ms: number;
  vmrss: number | null;
  stats_rss: number | null;
}

/** Samples the daemon's RSS every ~50 ms: /proc/<pid>/status VmRSS and system.stats memory_rss_bytes. */
class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private pending = false;
  private t0 = performance.now();
  constructor(
    private readonly pid: number,
    private readonly client: TrlClient,
  ) {}
  async once(): Promise<RssSample> {
    const vm = readMemory(this.pid);
    const st = await this.client.request<{ memory_rss_bytes: number }>('system.stats');
    return { t_ms: Math.round(performance.now() - this.t0), vmrss: vm?.rss ?? null, stats_rss: st.memory_rss_bytes };
  }
  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => {
      if (this.pending) {
        // The stats answer is still queued (the daemon is busy): keep the /proc sample at least.
        this.samples.push({ t_ms: Math.round(performance.now() - this.t0), vmrss: readMemory(this.pid)?.rss ?? null, stats_rss: null });
        return;
      }
      this.pending = true;
      this.once()
        .then((s) => this.samples.push(s))
        .finally(() => (this.pending = false));
    }, 50);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

interface FloodFigures {
  flooders: number;
  command: string;
  flood_ms: number;
  commands_completed: number;
  bytes_flooded: number;
  /** The foreign C client in a session of its own (the target's figure). */
  ping_idle_ms: Dist;
  ping_flood_ms: Dist;
  /** A worker thread of the bench, whose main thread parses the flood's results meanwhile (the scheduler weighs the two as one). */
  ping_idle_worker_ms: Dist;
  ping_flood_worker_ms: Dist;
  rss_idle_vmrss: number;
  rss_idle_stats: number;
  rss_peak_vmrss: number;
  rss_peak_stats: number;
  rss_hwm_after: number;
  rss_after_vmrss: number;
  /** VmRSS 5 s after the flood ended: what is given back (target: idle + 20 MB). */
  rss_after5_vmrss: number;
  rss_samples: number;
}

async function flood(d: BenchDaemon): Promise<FloodFigures> {
  const statsClient = await TrlClient.connect(d.socketPath);
  const sampler = new RssSampler(d.pid, statsClient);
  const pinger = await Pinger.start(d.socketPath);
  const foreign = Floor.start({ ownSession: true });

  // Idle: nothing else runs, and the daemon has settled after the parts before (src/system/memory-trim.ts gives
  // back the young generation a stream of commands grew 6 s after the stream stops).
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const idle0 = await sampler.once();
  pinger.begin();
  let pings = await foreign.pings(d.socketPath, PING_EVERY);
  await new Promise((r) => setTimeout(r, PING_MS));
  const pingIdle = await pings.stop();
  const pingIdleWorker = await pinger.end();
  const idle1 = await sampler.once();

  const clients = await Promise.all(Array.from({ length: FLOODERS }, () => TrlClient.connect(d.socketPath)));
  const sessions = await Promise.all(clients.map(newSession));
  let completed = 0;
  let bytes = 0;
  sampler.start();
  pinger.begin();
  pings = await foreign.pings(d.socketPath, PING_EVERY);
  const end = performance.now() + FLOOD_MS;
  await Promise.all(
    clients.map(async (c, i) => {
      while (performance.now() < end) {
        const r = await c.request<{ exit_code: number; stdout_bytes: number }>('exec.run', { session_id: sessions[i], command: FLOOD_CMD, ...FLOOD_KEEP });
        if (r.exit_code !== 0) throw new Error(`flood command exited ${r.exit_code}`);
        completed++;
        bytes += r.stdout_bytes;
      }
    }),
  );
  const pingFlood = await pings.stop();
  const pingFloodWorker = await pinger.end();
  sampler.stop();
  const hwm = readMemory(d.pid)?.hwm ?? NaN;
  // What stays after the flood: retained results/windows of finished commands, heap not yet collected.
  await new Promise((r) => setTimeout(r, 1500));
  const after = await sampler.once();
  await new Promise((r) => setTimeout(r, 3500));
  const after5 = await sampler.once();
  await pinger.close();
  foreign.close();
  for (const c of clients) c.close();
  statsClient.close();

  const max = (xs: (number | null)[]) => Math.max(...xs.filter((x): x is number => x !== null));
  return {
    flooders: FLOODERS,
    command: FLOOD_CMD,
    flood_ms: FLOOD_MS,
    commands_completed: completed,
    bytes_flooded: bytes,
    ping_idle_ms: dist(pingIdle),
    ping_flood_ms: dist(pingFlood),
    ping_idle_worker_ms: dist(pingIdleWorker),
    ping_flood_worker_ms: dist(pingFloodWorker),
    rss_idle_vmrss: Math.min(idle0.vmrss ?? NaN, idle1.vmrss ?? NaN),
    rss_idle_stats: Math.min(idle0.stats_rss ?? NaN, idle1.stats_rss ?? NaN),
    rss_peak_vmrss: max(sampler.samples.map((s) => s.vmrss)),
    rss_peak_stats: max(sampler.samples.map((s) => s.stats_rss)),
    rss_hwm_after: hwm,
    rss_after_vmrss: after.vmrss ?? NaN,
    rss_after5_vmrss: after5.vmrss ?? NaN,
    rss_samples: sampler.samples.length,
  };
}

// ------------------------------------------------------------------- report

const MB = 1024 * 1024;
const f2 = (x: number) => x.toFixed(2);
const mb = (x: number) => `${(x / MB).toFixed(1)} MB`;

interface Target {
  what: string;
  figure: string;
  target: string;
  met: boolean;
}

function pad(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(w[c]!) : cell.padStart(w[c]!))).join('  ')).join('\n');
}

/** The spawners measured side by side in parts 1 and 2 (BENCH_SPAWNERS). */
const SPAWNERS = (process.env.BENCH_SPAWNERS || 'native,child_process').split(',').map((x) => x.trim()).filter(Boolean);

async function main(): Promise<void> {
  const started = performance.now();
  const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
  log(`node ${process.version}, ${cpus().length} CPUs; daemons TRL_LOG_LEVEL=warn for the main run, one per spawner (${SPAWNERS.join(', ')})`);

  const busyBefore = await machineBusy(1000);
  const load0 = loadavg();
  const floor = Floor.start();
  const daemons: Daemons = [];
  for (const spawner of SPAWNERS) daemons.push({ label: spawner, d: await startDaemon('warn', { TRL_SPAWNER: spawner, ...DAEMON_ENV }, DAEMON_OPTS) });
  const d = daemons[0]!.d;
  const rssFresh = readMemory(d.pid)?.rss ?? NaN;
  /** One phase per spawner, each interleaved with the floor: a child_process daemon's forks between native's requests would load the machine under them. */
  const lats: LatencyFigures[] = [];
  let tput: ThroughputFigures | null = null;
  let fl: FloodFigures | null = null;
  let info: LatencyFigures | null = null;
  try {
    if (PARTS.has('latency')) {
      log(`exec.run true latency, ${ITER} iterations each (per spawner in its own phase: floor, one-shot, kept; interleaved)…`);
      for (const x of daemons) lats.push(await latency([x], floor, ITER));
    }
    if (INFO_ITER > 0 && PARTS.has('info')) {
      log(`exec.run true latency at the default log level (info), ${INFO_ITER} iterations…`);
      const di = await startDaemon('info', { TRL_SPAWNER: SPAWNERS[0]!, ...DAEMON_ENV }, DAEMON_OPTS);
      try {
        info = await latency([{ label: SPAWNERS[0]!, d: di }], floor, INFO_ITER);
      } finally {
        await di.dispose();
      }
    }
    if (PARTS.has('throughput')) {
      log(`throughput, ${INFLIGHT} in flight, ${TPUT_ROUNDS}×${TPUT_MS} ms each (rotated)…`);
      tput = await throughput(daemons, floor);
    }
    for (const x of daemons.slice(1)) await x.d.dispose();
    if (PARTS.has('flood')) {
      log(`ping idle ${PING_MS} ms, then ${FLOODERS} sessions flooding \`${FLOOD_CMD}\` for ${FLOOD_MS} ms (${SPAWNERS[0]})…`);
      fl = await flood(d);
    }
  } finally {
    floor.close();
    for (const x of daemons) await x.d.dispose();
  }
  // Issue 11's cold start on this host, against a C program started the same way, and the package's daemon's RSS after it (its table is printed last).
  if (PARTS.has('start')) log(`activated cold starts, ${num('BENCH_START_RUNS', 10)} each (floor, dist, the bundle without and with its code cache; alternated)…`);
  const start = PARTS.has('start') ? await runStartBench(num('BENCH_START_RUNS', 10)) : null;

  const targets: Target[] = [];
  for (const lat of lats) {
    for (const [label, l] of Object.entries(lat.daemons)) {
      for (const [style, dd] of [['kept connection', l.kept_ms], ['one-shot connection', l.oneshot_ms]] as const) {
        targets.push(
          {
            what: `[${label}] exec.run true median, ${style}`,
            figure: `${f2(dd.median / lat.floor_ms.median)}× floor`,
            target: '≤ 1.25× floor',
            met: dd.median <= 1.25 * lat.floor_ms.median,
          },
          { what: `[${label}] exec.run true p99, ${style}`, figure: `${f2(dd.p99 / dd.median)}× its median`, target: '≤ 2× median', met: dd.p99 <= 2 * dd.median },
        );
      }
    }
  }
  if (tput) {
    for (const [label, t] of Object.entries(tput.daemons)) {
      targets.push({
        what: `[${label}] commands/s, ${INFLIGHT} in flight`,
        figure: `${f2(t.percent_of_floor)} % of floor`,
        target: '≥ 75 % of floor',
        met: t.percent_of_floor >= 75,
      });
    }
  }
  if (fl) {
    targets.push(
      { what: 'system.ping p99 during flood (foreign client)', figure: `${f2(fl.ping_flood_ms.p99)} ms`, target: '≤ 2 ms', met: fl.ping_flood_ms.p99 <= 2 },
      { what: 'daemon RSS right after start-up (VmRSS, unbundled dist)', figure: mb(rssFresh), target: '≤ 45 MB', met: rssFresh <= 45 * MB },
      { what: 'daemon RSS peak during flood (VmRSS)', figure: mb(fl.rss_peak_vmrss), target: '≤ 100 MB', met: fl.rss_peak_vmrss <= 100 * MB },
      {
        what: 'daemon RSS 5 s after the flood (VmRSS)',
        figure: `${mb(fl.rss_after5_vmrss)} (idle ${mb(fl.rss_idle_vmrss)})`,
        target: '≤ idle + 20 MB',
        met: fl.rss_after5_vmrss <= fl.rss_idle_vmrss + 20 * MB,
      },
    );
  }

  const pkg = start && 'variants' in start ? packageStart(start) : null;
  if (pkg) {
    targets.push(
      { what: 'activated cold start on this host (the package: bundle and its code cache)', figure: `${pkg.median} ms`, target: `≤ ${START_TARGET_MS} ms`, met: pkg.median <= START_TARGET_MS },
      ...(pkg.rss_mb === null ? [] : [{ what: 'the package\'s daemon RSS 1.5 s after its first answer (VmRSS)', figure: `${pkg.rss_mb} MB`, target: '≤ 45 MB', met: pkg.rss_mb <= 45 }]),
    );
  }

  const latRow = (what: string, dd: Dist, floor: Dist) => [what, f2(dd.median), f2(dd.p99), `${f2(dd.median / floor.median)}×`, `${f2(dd.p99 / floor.p99)}×`, f2(dd.p99 / dd.median)];
  const latRows = (level: string, l: LatencyFigures) => [
    latRow(`[${level}] floor (${Object.keys(l.daemons).join(', ')} phase): C posix_spawn sh -c true`, l.floor_ms, l.floor_ms),
    ...Object.entries(l.daemons).flatMap(([label, x]) =>
      (
        [
          ['one-shot conn', x.oneshot_ms],
          ['kept conn', x.kept_ms],
          ['kept, TS client', x.ts_kept_ms],
        ] as const
      ).map(([style, dd]) => latRow(`[${level}] ${label}: exec.run true, ${style}`, dd, l.floor_ms)),
    ),
    ...(l.fresh_floor_ms === null
      ? []
      : Object.entries(l.daemons).flatMap(([label, x]) =>
          x.fresh === null
            ? []
            : [
                latRow(`[${level}] ${label}, fresh: one-shot conn`, x.fresh.oneshot_ms, l.fresh_floor_ms!),
                latRow(`[${level}] ${label}, fresh: kept conn`, x.fresh.kept_ms, l.fresh_floor_ms!),
              ],
        )),
  ];
  const out: string[] = [];
  out.push(`trl benchmark — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`);
  out.push(
    `machine before the run: ${(busyBefore * 100).toFixed(0)} % busy over 1 s; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} at end` + (busyBefore > 0.2 ? ' — NOT quiet: other processes compete, figures are noisier than usual' : ''),
  );
  out.push(`daemon log level: warn (TRL_LOG_LEVEL=warn, so logging does not dominate); the [info] rows are a second daemon at the default level`);
  if (lats.length > 0 || info) {
    const l0 = (lats[0] ?? info)!;
    out.push('');
    out.push(`1. exec.run true, ${l0.iterations} iterations each after ${l0.warmup_rounds} warm-up rounds, interleaved with the floor (bench/floor.c) in the same run (ms);`);
    out.push(`   "fresh": the first ${Math.min(l0.warmup_rounds, FRESH_ROUNDS)} warm-up rounds of a daemon just started, against the floor of those rounds (no target)`);
    out.push('   one-shot and kept: from a foreign client (bench/floor.c, C); "kept, TS client": through trl\'s TypeScript client, no target');
    const rows = [['', 'median', 'p99', 'median ratio', 'p99 ratio', 'p99/median']];
    for (const lat of lats) rows.push(...latRows('warn', lat));
    if (info) rows.push(...latRows('info', info));
    out.push(pad(rows));
    for (const [level, l] of [...lats.map((x) => ['warn', x] as const), ['info', info] as const]) {
      if (!l) continue;
      for (const [label, x] of Object.entries(l.daemons)) {
        out.push(`   [${level}] ${label}: daemon CPU (its own process, user+sys) per exec.run ${f2(x.daemon_cpu_ms_per_exec)} ms; log bytes per exec.run ${x.log_bytes_per_exec}`);
      }
    }
  }
  if (tput) {
    out.push('');
    out.push(`2. commands per second, ${INFLIGHT} in flight (${INFLIGHT} sessions per daemon / the floor with ${INFLIGHT} in flight), ${TPUT_ROUNDS} rotated ${TPUT_MS} ms windows each`);
    out.push(
      pad([
        ['', 'cmd/s', 'windows', '% of floor', 'machine CPU ms/cmd'],
        [`floor: C posix_spawn, ${INFLIGHT} in flight`, String(tput.floor_cps), tput.floor_per_s.join(' / '), '100 %', f2(tput.floor_machine_cpu_ms_per_cmd)],
        ...Object.entries(tput.daemons).map(([label, t]) => [`${label}: ${INFLIGHT} sessions`, String(t.cps), t.per_s.join(' / '), `${f2(t.percent_of_floor)} %`, f2(t.machine_cpu_ms_per_cmd)]),
      ]),
    );
  }
  if (fl) {
    out.push('');
    out.push(`3. system.ping on its own connection every ${PING_EVERY} ms, idle vs ${FLOODERS} sessions flooding \`${FLOOD_CMD}\`,`);
    out.push('   from the foreign C client in a session of its own, and (at the same time) from a worker thread of the bench, whose main thread drives the flood');
    out.push(`   flood: ${fl.commands_completed} commands, ${(fl.bytes_flooded / MB).toFixed(0)} MiB of output in ~${FLOOD_MS} ms`);
    out.push(
      pad([
        ['', 'n', 'median ms', 'p99 ms', 'max ms', 'p99 ratio'],
        ['ping, idle daemon', String(fl.ping_idle_ms.n), f2(fl.ping_idle_ms.median), f2(fl.ping_idle_ms.p99), f2(fl.ping_idle_ms.max), '1.00×'],
        ['ping, during flood', String(fl.ping_flood_ms.n), f2(fl.ping_flood_ms.median), f2(fl.ping_flood_ms.p99), f2(fl.ping_flood_ms.max), `${f2(fl.ping_flood_ms.p99 / fl.ping_idle_ms.p99)}×`],
        ['bench worker thread, idle', String(fl.ping_idle_worker_ms.n), f2(fl.ping_idle_worker_ms.median), f2(fl.ping_idle_worker_ms.p99), f2(fl.ping_idle_worker_ms.max), '1.00×'],
        [
          'bench worker thread, during flood',
          String(fl.ping_flood_worker_ms.n),
          f2(fl.ping_flood_worker_ms.median),
          f2(fl.ping_flood_worker_ms.p99),
          f2(fl.ping_flood_worker_ms.max),
          `${f2(fl.ping_flood_worker_ms.p99 / fl.ping_idle_worker_ms.p99)}×`,
        ],
      ]),
    );
    out.push('');
    out.push(`4. daemon RSS, idle (${SETTLE_MS / 1000} s after the parts before) and peak during the flood (${fl.rss_samples} samples, every ~50 ms)`);
    out.push(
      pad([
        ['', 'idle', 'flood peak', 'ratio'],
        ['VmRSS right after start-up', mb(rssFresh), '', ''],
        ['/proc/<pid>/status VmRSS', mb(fl.rss_idle_vmrss), mb(fl.rss_peak_vmrss), `${f2(fl.rss_peak_vmrss / fl.rss_idle_vmrss)}×`],
        ['system.stats memory_rss_bytes', mb(fl.rss_idle_stats), mb(fl.rss_peak_stats), `${f2(fl.rss_peak_stats / fl.rss_idle_stats)}×`],
        ['VmHWM after the flood (true peak)', '', mb(fl.rss_hwm_after), ''],
        ['VmRSS 1.5 s after the flood ended', '', mb(fl.rss_after_vmrss), `${f2(fl.rss_after_vmrss / fl.rss_idle_vmrss)}×`],
        ['VmRSS 5 s after the flood ended', '', mb(fl.rss_after5_vmrss), `${f2(fl.rss_after5_vmrss / fl.rss_idle_vmrss)}×`],
      ]),
    );
  }
  out.push('');
  out.push('targets (the bar, not pass/fail):');
  out.push(pad([['', 'figure', 'target', 'met'], ...targets.map((t) => [t.what, t.figure, t.target, t.met ? 'yes' : 'NO'])]));
  const elapsed = (performance.now() - started) / 1000;
  out.push(`\ntotal benchmark time: ${elapsed.toFixed(1)} s; figures in build/bench/latest.json`);
  process.stdout.write(out.join('\n') + '\n');
  // Issue 4's figures (streaming throughput against a raw pipe, line latency): bench/stream.ts prints its own table.
  const stream = PARTS.has('stream') ? await runStreamBench({ ...DAEMON_OPTS, env: DAEMON_ENV }) : null;
  // The byte-level JSON string encoder against the string path it replaced (bench/json-bytes.ts prints its own table).
  if (PARTS.has('jsonbytes')) {
    spawnSync(process.execPath, [join(__dirname, 'json-bytes.js')], { stdio: 'inherit', env: { ...process.env, BENCH_JSON_BYTES_RUNS: process.env.BENCH_JSON_BYTES_RUNS || '7' } });
  }
  if (start) process.stdout.write(formatStart(start));

  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? null,
    daemon_log_level: 'warn',
    machine_busy_before: r3(busyBefore),
    loadavg_start: load0,
    loadavg_end: loadavg(),
    settings: { DAEMON_ENV, SPAWNERS, PARTS: [...PARTS], ITER, WARM, TPUT_MS, TPUT_ROUNDS, INFLIGHT, SETTLE_MS, FLOOD_MS, FLOOD_BYTES, FLOODERS, PING_MS, PING_EVERY, INFO_ITER },
    floor: 'bench/floor.c: posix_spawn of /bin/sh -c true, stdout and stderr on pipes',
    spawners: SPAWNERS,
    exec_true: lats.map((lat) => ({
      ...lat,
      ratios: Object.fromEntries(
        Object.entries(lat.daemons).map(([label, x]) => [
          label,
          {
            oneshot_median_ratio: r3(x.oneshot_ms.median / lat.floor_ms.median),
            kept_median_ratio: r3(x.kept_ms.median / lat.floor_ms.median),
            oneshot_p99_over_median: r3(x.oneshot_ms.p99 / x.oneshot_ms.median),
            kept_p99_over_median: r3(x.kept_ms.p99 / x.kept_ms.median),
          },
        ]),
      ),
    })),
    exec_true_info_level: info,
    throughput: tput,
    flood: fl && { ...fl, rss_fresh_vmrss: rssFresh },
    targets,
    stream,
    start,
    elapsed_s: r2(elapsed),
  };
  const dir = process.env.BENCH_OUT_DIR || join(REPO, 'build/bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: the benchmark itself failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
