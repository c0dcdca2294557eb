import { readFileSync, readlinkSync } from 'node:fs';
import { listPids, readProcStat } from '../system/proc';

/** read(2)'s syscall number as /proc/<pid>/syscall shows it. */
const READ_SYSCALL = process.arch === 'arm64' ? '63' : process.arch === 'x64' ? '0' : null;

/** The pipe a process has on fd 0 (e.g. `pipe:[1234]`), or null. */
export function stdinLink(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/fd/0`);
  } catch {
    return null;
  }
}

/**
 * Which pids are in which process group, from one /proc pass shared by every
 * exec's probe and made at most once per INDEX_MAX_AGE_MS: the probes of ten
 * or a thousand silent execs cost one scan per interval, not one each per tick.
 */
const INDEX_MAX_AGE_MS = 1000;
let index: { at: number; groups: Map<number, number[]> } | null = null;
/** How many /proc passes the index made (figures and tests). */
export let indexScans = 0;

function groupMembers(pgid: number, now: number): number[] {
  if (index === null || now - index.at >= INDEX_MAX_AGE_MS) {
    const groups = new Map<number, number[]>();
    for (const pid of listPids()) {
      const st = readProcStat(pid);
      if (!st) continue;
      const list = groups.get(st.pgrp);
      if (list) list.push(pid);
      else groups.set(st.pgrp, [pid]);
    }
    index = { at: now, groups };
    indexScans++;
  }
  return index.groups.get(pgid) ?? [];
}

/**
 * Finds a process of one exec blocked reading the exec's stdin pipe. It
 * looks only at the exec's own processes: its cgroup's members when it has
 * one, else its root and the members of its process group (the shared index).
 * Linux tells a pending read: fd 0 is that pipe, and the process sits in
 * read(0, …) (/proc/<pid>/syscall) or in the kernel's pipe read (wchan).
 */
export class InputProbe {
  constructor(
    private readonly pgid: number,
    private readonly pipe: string,
    private readonly cgroupPids?: () => number[],
  ) {}

  /** The waiting pid, or null. */
  check(now = Date.now()): number | null {
    const pids = this.cgroupPids ? this.cgroupPids() : [this.pgid, ...groupMembers(this.pgid, now)];
    for (const pid of new Set(pids)) {
      if (stdinLink(pid) !== this.pipe) continue;
      if (readProcStat(pid)?.pgrp !== this.pgid && !this.cgroupPids) continue;
      if (blockedOnRead(pid)) return pid;
    }
    return null;
  }
}

function blockedOnRead(pid: number): boolean {
  try {
    const sys = readFileSync(`/proc/${pid}/syscall`, 'latin1');
    if (READ_SYSCALL !== null && sys.startsWith(`${READ_SYSCALL} 0x0 `)) return true;
  } catch {
    /* not permitted: fall back to wchan */
  }
  try {
    return readFileSync(`/proc/${pid}/wchan`, 'latin1').includes('pipe_read');
  } catch {
    return false;
  }
}
