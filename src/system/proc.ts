import { readFileSync, readdirSync } from 'node:fs';

/** The fields of /proc/<pid>/stat that process bookkeeping needs. */
export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks since boot at which the process started; with the pid it names one process for good. */
  startTime: string;
}

/**
 * Reads /proc/<pid>/stat. Returns null when the process is gone or unreadable.
 * The command name (field 2) may hold spaces and parentheses, so fields are
 * counted from the last ')'.
 */
export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // After ") ": state(3) ppid(4) pgrp(5) session(6) ... starttime(22)
  const rest = text.slice(close + 2).split(' ');
  const state = rest[0];
  if (state === 'Z' || state === 'X') return null;
  return {
    pid,
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    startTime: rest[19] ?? '',
  };
}

/** The start time of a live process, or null if it no longer exists (or is a zombie). */
export function readStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

/** Every live pid visible in /proc. */
export function listPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

/** True when /proc/<pid>/environ holds the exact entry `marker` (e.g. `TRL_EXEC_ID=…`). */
export function environHas(pid: number, marker: Buffer): boolean {
  let env: Buffer;
  try {
    env = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  let at = env.indexOf(marker);
  while (at >= 0) {
    const startsEntry = at === 0 || env[at - 1] === 0;
    const end = at + marker.length;
    if (startsEntry && (end === env.length || env[end] === 0)) return true;
    at = env.indexOf(marker, at + 1);
  }
  return false;
}

/**
 * The processes that belong to one command: its process group, every
 * descendant of its root (found through the parent links, so children that
 * called setsid are included while their parent lives), and, when a marker is
 * given, every process of ours whose environment carries it (which also
 * catches daemons that double-forked and were re-parented).
 */
export function findCommandProcesses(opts: { rootPid?: number; pgids?: Iterable<number>; marker?: Buffer }): number[] {
  const self = process.pid;
  const pgids = new Set(opts.pgids ?? []);
  const stats: ProcStat[] = [];
  for (const pid of listPids()) {
    if (pid === self) continue;
    const st = readProcStat(pid);
    if (st) stats.push(st);
  }
  const found = new Set<number>();
  for (const st of stats) if (pgids.has(st.pgrp)) found.add(st.pid);
  if (opts.rootPid !== undefined) found.add(opts.rootPid);
  // Close the set under "child of something found"; a few passes suffice for real trees.
  let grew = true;
  while (grew) {
    grew = false;
    for (const st of stats) {
      if (!found.has(st.pid) && found.has(st.ppid)) {
        found.add(st.pid);
        grew = true;
      }
    }
  }
  if (opts.marker) {
    for (const st of stats) if (!found.has(st.pid) && environHas(st.pid, opts.marker)) found.add(st.pid);
  }
  found.delete(self);
  const live = new Set(stats.map((s) => s.pid));
  return [...found].filter((pid) => live.has(pid));
}
