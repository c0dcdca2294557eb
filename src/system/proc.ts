import { readFileSync, readdirSync } from 'node:fs';

/** The fields of /proc/<pid>/stat that process bookkeeping needs. */
export interface ProcStat {
  pid: number;
  /** R, S, D, T (stopped), t (traced), … ; zombies are never returned. */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Clock ticks since boot at which the process started; with the pid it names one process for good. */
  startTime: string;
  /** CPU time used so far (utime + stime), in clock ticks. */
  cpuTicks: number;
}

/** Reads /proc/<pid>/stat. Returns null when the process is gone, unreadable or a zombie. */
export function readProcStat(pid: number): ProcStat | null {
  // After ") ": state(3) ppid(4) pgrp(5) session(6) ... starttime(22)
  const rest = statFields(pid);
  if (!rest) return null;
  const state = rest[0];
  if (state === 'Z' || state === 'X') return null;
  return {
    pid,
    state: state ?? '',
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    startTime: rest[19] ?? '',
    cpuTicks: Number(rest[11]) + Number(rest[12]),
  };
}

/**
 * The fields of /proc/<pid>/stat after the command name, state first, zombies
 * included; null when gone or unreadable. The command name (field 2) may hold
 * spaces and parentheses, so fields are counted from the last ')'.
 */
function statFields(pid: number): string[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  return close < 0 ? null : text.slice(close + 2).split(' ');
}

/** The state letter (Z for a zombie) and parent of a process, zombies included: what finding unreaped children needs. */
export function readProcState(pid: number): { state: string; ppid: number } | null {
  const f = statFields(pid);
  return f ? { state: f[0] ?? '', ppid: Number(f[1]) } : null;
}

/** Resident memory of a process in bytes, now (VmRSS) and at its peak (VmHWM); null when it is gone or unreadable. */
export function readMemory(pid: number): { rss: number; hwm: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
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
  const env = readEnviron(pid);
  return env !== null && hasEntry(env, marker);
}

export function readEnviron(pid: number): Buffer | null {
  try {
    return readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
}

/**
 * Live processes (not this one) whose environment holds any of `markers`,
 * with their start times: what a crashed daemon's sessions left behind,
 * including children that left their process group.
 */
export function findMarkedProcesses(markers: Buffer[]): Map<number, string> {
  const found = new Map<number, string>();
  if (markers.length === 0) return found;
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const env = readEnviron(pid);
    if (env === null || !markers.some((m) => hasEntry(env, m))) continue;
    const start = readStartTime(pid);
    if (start !== null) found.set(pid, start);
  }
  return found;
}

/** The value of `name` in /proc/<pid>/environ (latin1); null when unreadable or absent. */
export function environValue(pid: number, name: string): string | null {
  const env = readEnviron(pid);
  if (env === null) return null;
  const prefix = Buffer.from(`${name}=`);
  let at = env.indexOf(prefix);
  while (at > 0 && env[at - 1] !== 0) at = env.indexOf(prefix, at + 1);
  if (at < 0) return null;
  const end = env.indexOf(0, at);
  return env.toString('latin1', at + prefix.length, end < 0 ? env.length : end);
}

export function hasEntry(env: Buffer, marker: Buffer): boolean {
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

/** Signals each process of `targets` (pid → start time) whose pid still names the same process. */
export function signalProcesses(targets: Map<number, string>, signal: NodeJS.Signals): void {
  for (const [pid, start] of targets) {
    if (readStartTime(pid) !== start) continue;
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** True while any process of `targets` (pid → start time) is alive (zombies count as gone). */
export function anyAlive(targets: Map<number, string>): boolean {
  for (const [pid, start] of targets) if (readStartTime(pid) === start) return true;
  return false;
}

/** Sends a signal to a process group; false if the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Node's binding under process.kill: returns 0 or a negative errno instead of
 * throwing. The group check runs after every command and its usual answer is
 * ESRCH; the exception process.kill builds for it costs ~10× the syscall.
 */
const rawKill = (process as unknown as { _kill?: (pid: number, sig: number) => number })._kill;

/** True while any process of the group exists (zombies included). */
export function groupExists(pgid: number): boolean {
  if (typeof rawKill === 'function') {
    const r = rawKill.call(process, -pgid, 0);
    if (typeof r === 'number') return r === 0;
  }
  return signalGroup(pgid, 0 as unknown as NodeJS.Signals);
}
