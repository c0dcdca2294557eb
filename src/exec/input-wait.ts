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
 * The pid of a process of the group that is blocked reading the command's
 * stdin pipe, or null. Linux tells: fd 0 is that pipe, and the process sits
 * in read(0, …) (/proc/<pid>/syscall) or in the kernel's pipe read (wchan).
 */
export function findInputWaiter(pgid: number, pipe: string): number | null {
  for (const pid of listPids()) {
    const st = readProcStat(pid);
    if (!st || st.pgrp !== pgid || stdinLink(pid) !== pipe) continue;
    if (blockedOnRead(pid)) return pid;
  }
  return null;
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
