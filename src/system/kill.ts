import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasEntry, readEnviron, readProcStat, readStartTime, type ProcStat } from './proc';
import { readNumber, sharedScan, yieldToLoop } from './proc-scan';

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
const KILL_BUDGET_MS = 3000;

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
 * Bounded by KILL_BUDGET_MS; resolves once every process killed is gone (zombies
 * count as gone) or the budget is spent. `emptyRounds`: empty looks that end
 * it when nothing was found at all (1 when a look just before found nothing).
 */
export async function stopThenKill(scope: KillScope, emptyRounds = 2): Promise<KillReport> {
  const started = Date.now();
  const deadline = started + KILL_BUDGET_MS;
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
    const changed = await round(s, rounds === 1);
    clean = changed ? 0 : clean + 1;
    // Nothing found at all (the common destroy of an idle session): `emptyRounds` empty looks do.
    if (clean >= (s.known.size === 0 ? emptyRounds : CLEAN_ROUNDS)) break;
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
  return { killed: s.known.size, rounds, stable: clean >= (s.known.size === 0 ? emptyRounds : CLEAN_ROUNDS), survivors, ms: Date.now() - started };
}

/**
 * The scope's members as one shared /proc pass sees them, without stopping
 * anything (the SIGTERM step before the grace): pid → start time.
 */
export async function findMembers(scope: KillScope): Promise<Map<number, string>> {
  const self = readProcStat(process.pid);
  const excluded = new Set([0, 1, process.pid, self?.pgrp ?? -1, self?.session ?? -1]);
  const s: Sweep = { scope, excluded, pgids: new Set([...(scope.pgids ?? [])].filter((g) => !excluded.has(g))), sids: new Set(), known: new Map(), markers: scope.markers ?? [] };
  const cgroup = new Set(scope.extraPids?.() ?? []);
  const { stats } = await sharedScan(() => {});
  const found = new Map<number, string>();
  for (const st of stats) if (isMember(s, st, cgroup, true)) found.set(st.pid, st.startTime);
  const children = new Map<number, ProcStat[]>();
  for (const st of stats) {
    const list = children.get(st.ppid);
    if (list) list.push(st);
    else children.set(st.ppid, [st]);
  }
  const queue = [...found.keys()];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (found.has(child.pid)) continue;
      found.set(child.pid, child.startTime);
      queue.push(child.pid);
    }
  }
  return found;
}

interface Sweep {
  scope: KillScope;
  excluded: Set<number>;
  pgids: Set<number>;
  sids: Set<number>;
  /** Members found: pid → start time. */
  known: Map<number, string>;
  markers: Buffer[];
  /** Follows the pids born since the current round's scan began. */
  chaser?: Chaser;
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
async function round(s: Sweep, first: boolean): Promise<boolean> {
  const cgroup = new Set(s.scope.extraPids?.() ?? []);
  let changed = false;
  const { stats, cursor } = await sharedScan((before) => {
    // A long scan is interleaved with looks at the pids born meanwhile.
    s.chaser ??= new Chaser(s, cgroup, before);
    changed = s.chaser.catchUp() || changed;
  });
  s.chaser = new Chaser(s, cgroup, cursor);
  for (const st of stats) if (isMember(s, st, cgroup, first)) changed = take(s, st) || changed;
  // Close the set over parent links.
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
  return (await s.chaser.chase()) || changed;
}

const PID_MAX = readNumber('/proc/sys/kernel/pid_max') ?? 4_194_304;
/** The kernel wraps to just above its reserved range. */
const PID_WRAP = 301;
/** How long one chase may last, and how long the pid counter may stand still before it ends early. */
const CHASE_MS = 60;
const QUIET_MS = 20;
/** A look at new pids covers no more than this many (a busy host allocates many). */
const CHASE_SPAN = 512;

/**
 * A scan of /proc takes milliseconds; a hopper's generation lives
 * microseconds and its successor gets the next pid, after the listing. So
 * the kernel's pid counter (ns_last_pid) is read before the listing, and
 * every pid allocated since is looked at, newest first — during the scan
 * every SCAN_SLICE pids, and after it until the counter stands still for
 * QUIET_MS (at most CHASE_MS): a member is stopped soon after its birth.
 */
class Chaser {
  constructor(
    private readonly s: Sweep,
    private readonly cgroup: Set<number>,
    private cursor: number | null,
  ) {}

  /** Looks at the pids allocated since the last look; true when a member was new or running. */
  catchUp(): boolean {
    const last = this.cursor;
    const now = readNumber('/proc/sys/kernel/ns_last_pid');
    if (last === null || now === null || now === last) return false;
    this.cursor = now;
    const span = Math.min(now > last ? now - last : PID_MAX - last + now, CHASE_SPAN);
    let changed = false;
    for (let i = 0; i < span; i++) {
      let pid = now - i;
      if (pid < PID_WRAP) pid += PID_MAX - PID_WRAP;
      if (pid === process.pid) continue;
      const st = readProcStat(pid);
      if (st && isMember(this.s, st, this.cgroup, false)) changed = take(this.s, st) || changed;
    }
    return changed;
  }

  async chase(): Promise<boolean> {
    if (this.cursor === null) return false;
    const end = performance.now() + CHASE_MS;
    let movedAt = performance.now();
    let changed = false;
    while (performance.now() < end) {
      const before: number | null = this.cursor;
      changed = this.catchUp() || changed;
      if (this.cursor !== before) movedAt = performance.now();
      else if (performance.now() - movedAt > QUIET_MS) break;
      // Polls between turns of the event loop: the newest pid is looked at whenever we get back.
      await yieldToLoop();
    }
    return changed;
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
