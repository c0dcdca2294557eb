import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasEntry, listPids, readEnviron, readProcStat, readStartTime, type ProcStat } from './proc';

/** What belongs to one command (or session, or crashed run): every way a member can be recognised. */
export interface KillScope {
  /** The root process, if it may still be alive. */
  rootPid?: number | undefined;
  /** Process groups whose members all belong to the scope. */
  pgids?: Iterable<number>;
  /** Environment entries (`TRL_EXEC_ID=…`, `TRL_SESSION_ID=…`) that mark members. */
  markers?: Buffer[];
  /** Members the kernel knows (a cgroup's procs). */
  extraPids?: () => number[];
}

export interface KillReport {
  /** Processes found and sent SIGKILL. */
  killed: number;
  /** /proc scans made. */
  rounds: number;
  /** False when the budget ran out before a scan found nothing new. */
  stable: boolean;
  /** Processes still alive (not zombies) when the wait for them ended. */
  survivors: number;
  ms: number;
}

/** How long stop-then-kill may take, scans and the wait for the dead together. */
export const KILL_BUDGET_MS = 3000;

/** Scans in a row that must find nothing new before the set counts as stable: a hopper can slip through one. */
const CLEAN_ROUNDS = 3;

/**
 * A kill that cannot be outrun without cgroups: every member found is
 * stopped (SIGSTOP: a stopped process cannot fork, setsid or exec) the
 * moment it is seen, and /proc is scanned again, until CLEAN_ROUNDS scans in
 * a row find no member that is not already stopped; only then does
 * everything get SIGKILL. A member is a process in one of the scope's groups
 * or sessions, a child of a member (closure over parent links), a carrier of
 * a marker, or a cgroup member; the groups and sessions of every member found
 * join the scope (a process can only create a session, or join a group
 * inside its own session, so these all descend from the scope). The daemon's
 * own group and session never do. Scans go from the highest pid down, so
 * the newest processes (a hopper's latest generation) are looked at first,
 * microseconds after the listing.
 * Bounded by `budgetMs`; resolves once every process killed is gone (zombies
 * count as gone) or the budget is spent.
 */
export async function stopThenKill(scope: KillScope, budgetMs = KILL_BUDGET_MS): Promise<KillReport> {
  const started = Date.now();
  const deadline = started + budgetMs;
  const self = readProcStat(process.pid);
  const s: Sweep = {
    scope,
    excluded: new Set([0, 1, process.pid, self?.pgrp ?? -1, self?.session ?? -1]),
    pgids: new Set(),
    sids: new Set(),
    known: new Map(),
    markers: scope.markers ?? [],
  };
  for (const g of scope.pgids ?? []) addGroup(s, g);
  let rounds = 0;
  let clean = 0;
  while (Date.now() < deadline) {
    rounds++;
    const changed = round(s, rounds === 1);
    clean = changed ? 0 : clean + 1;
    if (clean >= CLEAN_ROUNDS) break;
    // Give the stops a moment to land before the next look.
    if (changed) await sleep(1);
  }
  for (const g of s.pgids) send(-g, 'SIGKILL');
  for (const [pid, start] of s.known) if (readStartTime(pid) === start) send(pid, 'SIGKILL');
  let survivors = 0;
  for (;;) {
    survivors = 0;
    for (const [pid, start] of s.known) if (readStartTime(pid) === start) survivors++;
    if (survivors === 0 || Date.now() >= deadline + 1000) break;
    await sleep(5);
  }
  return { killed: s.known.size, rounds, stable: clean >= CLEAN_ROUNDS, survivors, ms: Date.now() - started };
}

interface Sweep {
  scope: KillScope;
  excluded: Set<number>;
  pgids: Set<number>;
  sids: Set<number>;
  /** Members found: pid → start time. */
  known: Map<number, string>;
  markers: Buffer[];
}

/** True when `st` belongs to the scope as known so far. */
function isMember(s: Sweep, st: ProcStat, cgroup: Set<number>, first: boolean): boolean {
  return (
    s.known.get(st.pid) === st.startTime ||
    s.pgids.has(st.pgrp) ||
    s.sids.has(st.session) ||
    s.known.has(st.ppid) ||
    cgroup.has(st.pid) ||
    (first && st.pid === s.scope.rootPid) ||
    marked(st.pid, s.markers)
  );
}

/** Records a member and stops it at once; true when it was new or not yet stopped. */
function take(s: Sweep, st: ProcStat): boolean {
  let changed = false;
  if (s.known.get(st.pid) !== st.startTime) {
    s.known.set(st.pid, st.startTime);
    changed = true;
    send(st.pid, 'SIGSTOP');
  } else if (st.state !== 'T' && st.state !== 't') {
    changed = true;
    send(st.pid, 'SIGSTOP');
  }
  addGroup(s, st.pgrp);
  if (!s.excluded.has(st.session)) s.sids.add(st.session);
  return changed;
}

/** One look at /proc, then a chase of the newest pids; true when it found a new member or one not yet stopped. */
function round(s: Sweep, first: boolean): boolean {
  const cgroup = new Set(s.scope.extraPids?.() ?? []);
  const stats: ProcStat[] = [];
  let changed = false;
  // Read before the listing: the chase then covers every pid allocated since.
  const before = readNumber('/proc/sys/kernel/ns_last_pid');
  for (const pid of listPids().reverse()) {
    if (pid === process.pid) continue;
    const st = readProcStat(pid);
    if (!st) continue;
    stats.push(st);
    if (isMember(s, st, cgroup, first)) changed = take(s, st) || changed;
  }
  // Parents come after their children in a descending scan: close the set over parent links.
  const children = new Map<number, ProcStat[]>();
  for (const st of stats) {
    const list = children.get(st.ppid);
    if (list) list.push(st);
    else children.set(st.ppid, [st]);
  }
  const queue = [...s.known.keys()];
  const seen = new Set(queue);
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      changed = take(s, child) || changed;
      queue.push(child.pid);
    }
  }
  return chase(s, cgroup, before) || changed;
}

const PID_MAX = readNumber('/proc/sys/kernel/pid_max') ?? 4_194_304;
/** The kernel wraps to just above its reserved range. */
const PID_WRAP = 301;
/** How long one chase may last, and how long the pid counter may stand still before it ends early. */
const CHASE_MS = 60;
const QUIET_MS = 20;
/** A chase looks at no more new pids than this per step (a busy host allocates many). */
const CHASE_SPAN = 512;

/**
 * A scan of /proc takes milliseconds; a hopper's generation lives
 * microseconds and its successor gets the next pid, after the listing. So,
 * after each scan, follow the kernel's pid counter (ns_last_pid, read just
 * before the listing) and look at every pid allocated since, as it appears: a member is stopped within tens
 * of microseconds of its birth. Ends when the counter stands still for
 * QUIET_MS, or after CHASE_MS.
 */
function chase(s: Sweep, cgroup: Set<number>, from: number | null): boolean {
  let last = from;
  if (last === null) return false;
  const end = performance.now() + CHASE_MS;
  let movedAt = performance.now();
  let changed = false;
  while (performance.now() < end) {
    const now = readNumber('/proc/sys/kernel/ns_last_pid');
    if (now === null) break;
    if (now === last) {
      if (performance.now() - movedAt > QUIET_MS) break;
      continue;
    }
    movedAt = performance.now();
    let span = now > last ? now - last : PID_MAX - last + now;
    span = Math.min(span, CHASE_SPAN);
    for (let i = span - 1; i >= 0; i--) {
      let pid = now - i;
      if (pid < PID_WRAP) pid += PID_MAX - PID_WRAP;
      const st = readProcStat(pid);
      if (st && pid !== process.pid && isMember(s, st, cgroup, false)) changed = take(s, st) || changed;
    }
    last = now;
  }
  return changed;
}

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'latin1').trim());
    return Number.isSafeInteger(n) ? n : null;
  } catch {
    return null;
  }
}

function marked(pid: number, markers: Buffer[]): boolean {
  if (markers.length === 0) return false;
  const env = readEnviron(pid);
  return env !== null && markers.some((m) => hasEntry(env, m));
}

function addGroup(s: Sweep, pgid: number): void {
  if (s.excluded.has(pgid) || s.pgids.has(pgid)) return;
  s.pgids.add(pgid);
  send(-pgid, 'SIGSTOP');
}

function send(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    /* gone, or not ours */
  }
}
