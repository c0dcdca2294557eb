/**
 * Shared pieces of the reliability suite (quick.test.ts, chaos.long.ts): a raw
 * NDJSON client that matches answers by id itself, process accounting through
 * /proc, percentiles, and the scenario bodies, parameterised by size so the
 * quick run and the long run exercise the same code.
 *
 * Nothing here asserts on time: durations and latencies are printed as figures.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { daemonIdentity } from '../helpers/launch';
import { isAlive } from '../helpers/proc';

/** Prints one figure so it shows in the test output (spec and TAP reporters). */
export function figure(t: { diagnostic(msg: string): void }, name: string, value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  t.diagnostic(`figure: ${name}: ${text}`);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
export const mib = (bytes: number): number => round(bytes / 1048576, 1);

/** Resident memory of a process from /proc (the test runs as root or as the daemon's user). */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function rssSampler(pid: number, everyMs = 20): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

function procState(pid: string): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * Tasks (threads included, zombies included) owned by `uid`: what the kernel
 * counts against RLIMIT_NPROC.
 */
export function tasksOfUid(uid: number): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statSync(`/proc/${name}`).uid !== uid) continue;
      n += readdirSync(`/proc/${name}/task`).length;
    } catch {
      /* gone */
    }
  }
  return n;
}

/** Live processes whose environment holds `NAME=<value>` with NAME given, grouped by value. */
export function liveByEnv(name: string): Map<string, number[]> {
  const needle = Buffer.from(`${name}=`);
  const out = new Map<string, number[]>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const st = procState(pid);
    if (st === null || st === 'Z' || st === 'X') continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    let at = env.indexOf(needle);
    while (at >= 0 && at > 0 && env[at - 1] !== 0) at = env.indexOf(needle, at + 1);
    if (at < 0) continue;
    const end = env.indexOf(0, at);
    const value = env.subarray(at + needle.length, end < 0 ? env.length : end).toString();
    const list = out.get(value) ?? [];
    list.push(Number(pid));
    out.set(value, list);
  }
  return out;
}

/** Live processes whose command line contains `text` (arguments joined by spaces). */
export function livePidsWithArg(text: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const st = procState(pid);
    if (st === null || st === 'Z' || st === 'X') continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
      if (cmd.includes(text)) pids.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Sets a resource limit on a running process (prlimit(2) through util-linux prlimit). */
export function setRlimit(pid: number, option: string, value: string): void {
  const r = spawnSync('prlimit', ['--pid', String(pid), `--${option}=${value}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, `prlimit --pid ${pid} --${option}=${value}: ${r.stderr}`);
}

/**
 * A raw NDJSON connection that keeps every line it receives and lets a test
 * wait for the answer to a given id. Lines that are not JSON are kept in
 * `garbage` (the daemon must never send one). Events (with `event`, no `ok`)
 * are counted apart from responses.
 */
export class Wire {
  readonly answers = new Map<string, any[]>();
  responses = 0;
  events = 0;
  readonly garbage: string[] = [];
  readonly all: any[] = [];
  keepAll = false;
  ended = false;
  private buf = '';
  private waiters = new Map<string, (msg: any) => void>();
  private endWaiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(path: string): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new Wire(s));
      });
      s.once('error', reject);
    });
  }

  private onLine(line: string): void {
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      this.garbage.push(line.slice(0, 200));
      return;
    }
    if (this.keepAll) this.all.push(msg);
    if (msg && typeof msg === 'object' && 'event' in msg && !('ok' in msg)) {
      this.events++;
      return;
    }
    this.responses++;
    const key = String(msg?.id);
    const list = this.answers.get(key) ?? [];
    list.push(msg);
    this.answers.set(key, list);
    const w = this.waiters.get(key);
    if (w) {
      this.waiters.delete(key);
      w(msg);
    }
  }

  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  send(msg: object): void {
    this.socket.write(JSON.stringify(msg) + '\n');
  }

  /** Sends a request and waits for the answer with its id; rejects if the connection ends first or after `ms`. */
  request(id: string, method: string, params: object = {}, ms = 30_000): Promise<any> {
    const p = this.waitId(id, ms);
    this.send({ id, method, params });
    return p;
  }

  waitId(id: string, ms = 30_000): Promise<any> {
    const have = this.answers.get(id);
    if (have?.length) return Promise.resolve(have[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no answer to ${id} within ${ms} ms`));
      }, ms);
      this.waiters.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.onEnd(() => {
        if (!this.waiters.has(id)) return;
        // Lines may still be buffered in the same tick as 'end'.
        setImmediate(() => {
          if (!this.waiters.has(id)) return;
          this.waiters.delete(id);
          clearTimeout(timer);
          reject(new Error(`connection ended before an answer to ${id}`));
        });
      });
    });
  }

  onEnd(fn: () => void): void {
    if (this.ended) fn();
    else this.endWaiters.push(fn);
  }

  waitEnd(ms = 30_000): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.onEnd(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

let seq = 0;
export const nextId = (prefix = 'r'): string => `${prefix}-${++seq}`;

/** `n` sequential system.ping round trips on one connection; latencies in ms. */
export async function pingSeries(w: Wire, opts: { count?: number; forMs?: number }): Promise<number[]> {
  const lat: number[] = [];
  const until = opts.forMs ? Date.now() + opts.forMs : Infinity;
  const max = opts.count ?? 100_000;
  while (lat.length < max && Date.now() < until) {
    const t0 = performance.now();
    const r = await w.request(nextId('ping'), 'system.ping', {}, 60_000);
    assert.equal(r.ok, true, JSON.stringify(r));
    lat.push(performance.now() - t0);
  }
  return lat;
}

export const latencyFigure = (lat: number[]) => ({
  n: lat.length,
  p50_ms: round(percentile(lat, 50)),
  p99_ms: round(percentile(lat, 99)),
  max_ms: round(Math.max(...lat)),
});

export async function stats(w: Wire): Promise<any> {
  const r = await w.request(nextId('stats'), 'system.stats');
  assert.equal(r.ok, true, JSON.stringify(r));
  return r.data;
}

export async function createSession(w: Wire, params: object = {}): Promise<string> {
  const r = await w.request(nextId('create'), 'session.create', params);
  assert.equal(r.ok, true, `session.create: ${JSON.stringify(r)}`);
  return r.data.session_id as string;
}

/** The daemon is alive, has not exited, and answers a ping. */
export async function assertDaemonHealthy(d: TestDaemon): Promise<void> {
  assert.equal(d.child.exitCode, null, `daemon exited: ${d.child.exitCode}; stderr: ${d.stderr}`);
  assert.equal(d.child.signalCode, null, `daemon killed by ${d.child.signalCode}; stderr: ${d.stderr}`);
  assert.ok(isAlive(d.pid), 'daemon process alive');
  const w = await Wire.open(d.socketPath);
  try {
    const r = await w.request(nextId('health'), 'system.ping', {}, 10_000);
    assert.equal(r.ok, true);
  } finally {
    w.close();
  }
}

// ---------------------------------------------------------------------------
// Load: N clients × M exec.run, each echoing a unique token.
// ---------------------------------------------------------------------------

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
  const wires = await Promise.all(Array.from({ length: clients }, () => Wire.open(d.socketPath)));
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

// ---------------------------------------------------------------------------
// Churn: connect/disconnect cycles, half of them leaving an exec.run in flight.
// ---------------------------------------------------------------------------

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
  const ctl = await Wire.open(d.socketPath);
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
    const w = await Wire.open(d.socketPath);
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

// ---------------------------------------------------------------------------
// Crash: kill -9 while commands with grandchildren run; restart; sweep.
// ---------------------------------------------------------------------------

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

export async function crashScenario(commands: number, settleMs = 3000): Promise<CrashResult> {
  const nonce = randomUUID().slice(0, 8);
  const first = await TestDaemon.start({ env: { TRL_MAX_SESSIONS: String(commands + 4), TRL_MAX_RUNNING_COMMANDS: String(commands + 4) } });
  let second: TestDaemon | null = null;
  const markOf = (i: number) => `${nonce}-${i}-${i % 2 === 1 ? 'setsid' : 'group'}`;
  try {
    const wires = await Promise.all(Array.from({ length: Math.min(commands, 4) }, () => Wire.open(first.socketPath)));
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
    assert.ok(await waitFor(() => count() >= expected, 15_000, 50), `all ${expected} processes started (have ${count()})`);
    const markedBeforeKill = count();
    await sleep(100); // the orphan ledger is written at the end of the event-loop turn that spawned
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

export { daemonIdentity };

type Diag = { diagnostic(msg: string): void };

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
