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

/**
 * A kill that cannot be outrun without cgroups: every member found is
 * stopped (SIGSTOP: a stopped process cannot fork, setsid or exec), then
 * /proc is scanned again, until a scan finds no member that is not already
 * stopped; only then does everything get SIGKILL. A member is a process in
 * one of the scope's groups or sessions, a child of a member (closure over
 * parent links), a carrier of a marker, or a cgroup member; the groups and
 * sessions of every member found join the scope (a process can only create
 * a session, or join a group inside its own session, so these all descend
 * from the scope). The daemon's own group and session never do.
 * Bounded by `budgetMs`; resolves once every process killed is gone (zombies
 * count as gone) or the budget is spent.
 */
export async function stopThenKill(scope: KillScope, budgetMs = KILL_BUDGET_MS): Promise<KillReport> {
  const started = Date.now();
  const deadline = started + budgetMs;
  const self = readProcStat(process.pid);
  const excluded = new Set([0, 1, process.pid, self?.pgrp ?? -1, self?.session ?? -1]);
  const pgids = new Set([...(scope.pgids ?? [])].filter((g) => !excluded.has(g)));
  const sids = new Set<number>();
  const known = new Map<number, string>();
  const markers = scope.markers ?? [];
  let rounds = 0;
  let stable = false;
  for (const g of pgids) stopGroup(g);
  while (Date.now() < deadline) {
    rounds++;
    const stats = scan();
    let fresh = 0;
    let running = 0;
    for (const st of members(stats, scope, known, pgids, sids, markers, rounds === 1)) {
      if (!known.has(st.pid)) {
        known.set(st.pid, st.startTime);
        fresh++;
        send(st.pid, 'SIGSTOP');
      } else if (st.state !== 'T' && st.state !== 't') {
        running++;
        send(st.pid, 'SIGSTOP');
      }
      for (const [set, id] of [[pgids, st.pgrp], [sids, st.session]] as const) {
        if (excluded.has(id) || set.has(id)) continue;
        set.add(id);
        if (set === pgids) stopGroup(id);
      }
    }
    if (fresh === 0 && running === 0) {
      stable = true;
      break;
    }
    // Give the stops a moment to land before the next look.
    await sleep(1);
  }
  for (const g of pgids) send(-g, 'SIGKILL');
  for (const [pid, start] of known) if (readStartTime(pid) === start) send(pid, 'SIGKILL');
  let survivors = 0;
  for (;;) {
    survivors = 0;
    for (const [pid, start] of known) if (readStartTime(pid) === start) survivors++;
    if (survivors === 0 || Date.now() >= deadline + 1000) break;
    await sleep(5);
  }
  return { killed: known.size, rounds, stable, survivors, ms: Date.now() - started };
}

function scan(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const st = readProcStat(pid);
    if (st) stats.push(st);
  }
  return stats;
}

/** The members among `stats`: by group, session, root, cgroup, marker, then every descendant of those. */
function members(stats: ProcStat[], scope: KillScope, known: Map<number, string>, pgids: Set<number>, sids: Set<number>, markers: Buffer[], first: boolean): ProcStat[] {
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const found = new Map<number, ProcStat>();
  const cgroup = new Set(scope.extraPids?.() ?? []);
  for (const st of stats) {
    const isKnown = known.get(st.pid) === st.startTime;
    if (isKnown || pgids.has(st.pgrp) || sids.has(st.session) || cgroup.has(st.pid) || (first && st.pid === scope.rootPid)) found.set(st.pid, st);
  }
  if (markers.length > 0) {
    for (const st of stats) {
      if (found.has(st.pid)) continue;
      const env = readEnviron(st.pid);
      if (env !== null && markers.some((m) => hasEntry(env, m))) found.set(st.pid, st);
    }
  }
  const children = new Map<number, ProcStat[]>();
  for (const st of stats) {
    const list = children.get(st.ppid);
    if (list) list.push(st);
    else children.set(st.ppid, [st]);
  }
  const queue = [...found.keys()];
  while (queue.length > 0) {
    for (const child of children.get(queue.pop()!) ?? []) {
      if (found.has(child.pid) || !byPid.has(child.pid)) continue;
      found.set(child.pid, child);
      queue.push(child.pid);
    }
  }
  found.delete(process.pid);
  return [...found.values()];
}

function stopGroup(pgid: number): void {
  send(-pgid, 'SIGSTOP');
}

function send(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    /* gone, or not ours */
  }
}
