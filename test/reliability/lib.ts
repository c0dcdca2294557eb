/**
 * Shared pieces of the reliability suite: figures and percentiles, process
 * accounting through /proc, and small requests over the raw wire. The
 * scenarios live in their own files (load.ts, churn.ts, crash.ts, fuzz.ts),
 * parameterised by size so the quick run and the long run exercise the same
 * code.
 *
 * Nothing here asserts on time: durations and latencies are printed as figures.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { RawWire } from '../helpers/raw-wire';
import { argvOf, isAlive, livePidsWhere } from '../helpers/proc';
import { readEnviron, readMemory } from '../../src/system/proc';
import type { TestDaemon } from '../helpers/daemon';

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

/** Resident memory of a process from /proc (the test runs as root or as the daemon's user); 0 once it is gone. */
export const rssOf = (pid: number): number => readMemory(pid)?.rss ?? 0;

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
  for (const pid of livePidsWhere(() => true)) {
    const env = readEnviron(pid);
    if (env === null) continue;
    let at = env.indexOf(needle);
    while (at >= 0 && at > 0 && env[at - 1] !== 0) at = env.indexOf(needle, at + 1);
    if (at < 0) continue;
    const end = env.indexOf(0, at);
    const value = env.subarray(at + needle.length, end < 0 ? env.length : end).toString();
    const list = out.get(value) ?? [];
    list.push(pid);
    out.set(value, list);
  }
  return out;
}

/** Live processes (not this one) whose command line contains `text` (arguments joined by spaces). */
export function livePidsWithArg(text: string): number[] {
  return livePidsWhere((pid) => pid !== process.pid && argvOf(pid).join(' ').includes(text));
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

let seq = 0;
export const nextId = (prefix = 'r'): string => `${prefix}-${++seq}`;

/** `n` sequential system.ping round trips on one connection; latencies in ms. */
export async function pingSeries(w: RawWire, opts: { count?: number; forMs?: number }): Promise<number[]> {
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

export async function stats(w: RawWire): Promise<any> {
  const r = await w.request(nextId('stats'), 'system.stats');
  assert.equal(r.ok, true, JSON.stringify(r));
  return r.data;
}

export async function createSession(w: RawWire, params: object = {}): Promise<string> {
  const r = await w.request(nextId('create'), 'session.create', params);
  assert.equal(r.ok, true, `session.create: ${JSON.stringify(r)}`);
  return r.data.session_id as string;
}

/** The daemon is alive, has not exited, and answers a ping. */
export async function assertDaemonHealthy(d: TestDaemon): Promise<void> {
  assert.equal(d.child.exitCode, null, `daemon exited: ${d.child.exitCode}; stderr: ${d.stderr}`);
  assert.equal(d.child.signalCode, null, `daemon killed by ${d.child.signalCode}; stderr: ${d.stderr}`);
  assert.ok(isAlive(d.pid), 'daemon process alive');
  const w = await RawWire.open(d.socketPath);
  try {
    const r = await w.request(nextId('health'), 'system.ping', {}, 10_000);
    assert.equal(r.ok, true);
  } finally {
    w.close();
  }
}

export type Diag = { diagnostic(msg: string): void };

