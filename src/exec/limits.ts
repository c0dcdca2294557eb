import { ErrorCode, TrlError } from '../protocol/errors';
import type { CgroupLimits } from '../system/cgroup';

/** Per-command resource limits, applied with the wrapper shell's `ulimit` builtin (no extra process). */
export interface Rlimits {
  /** RLIMIT_CPU, seconds of CPU time; the command gets SIGXCPU past it. */
  cpu_s?: number;
  /** RLIMIT_NOFILE. */
  nofile?: number;
  /** RLIMIT_CORE in bytes; 0 = no core dumps. */
  core_bytes?: number;
  /** RLIMIT_AS in bytes. Off by default: Node, JVMs and Go reserve large address spaces. */
  as_bytes?: number;
  /** cgroup memory.max of the session (all its commands together); cgroup mode only. */
  memory_bytes?: number;
  /** cgroup pids.max of the session; cgroup mode only. */
  pids?: number;
  /** cgroup cpu.max of the session, in percent of one CPU; cgroup mode only. */
  cpu_percent?: number;
}

/** The runtime's limits, from the config: 0 means "no limit" (for core, -1 does). */
export interface RuntimeRlimits {
  rlimit_cpu_s: number;
  rlimit_nofile: number;
  rlimit_core_bytes: number;
  rlimit_as_bytes: number;
  memory_max_bytes: number;
  pids_max: number;
  cpu_max_percent: number;
}

const FIELDS = [
  ['cpu_s', 'rlimit_cpu_s'],
  ['nofile', 'rlimit_nofile'],
  ['core_bytes', 'rlimit_core_bytes'],
  ['as_bytes', 'rlimit_as_bytes'],
  ['memory_bytes', 'memory_max_bytes'],
  ['pids', 'pids_max'],
  ['cpu_percent', 'cpu_max_percent'],
] as const;

/** The runtime's values as the default limits of a session. */
export function runtimeDefaults(rt: RuntimeRlimits): Rlimits {
  const limits: Rlimits = {};
  if (rt.rlimit_cpu_s > 0) limits.cpu_s = rt.rlimit_cpu_s;
  if (rt.rlimit_nofile > 0) limits.nofile = rt.rlimit_nofile;
  if (rt.rlimit_core_bytes >= 0) limits.core_bytes = rt.rlimit_core_bytes;
  if (rt.rlimit_as_bytes > 0) limits.as_bytes = rt.rlimit_as_bytes;
  if (rt.memory_max_bytes > 0) limits.memory_bytes = rt.memory_max_bytes;
  if (rt.pids_max > 0) limits.pids = rt.pids_max;
  if (rt.cpu_max_percent > 0) limits.cpu_percent = rt.cpu_max_percent;
  return limits;
}

/** A session's limits: what it asks for, each at most the runtime's maximum; unset fields take the runtime value. */
export function sessionLimits(requested: Rlimits | null | undefined, rt: RuntimeRlimits): Rlimits {
  const limits = runtimeDefaults(rt);
  if (!requested) return limits;
  for (const [field, key] of FIELDS) {
    const want = requested[field];
    if (want === undefined || want === null) continue;
    const max = limits[field];
    if (max !== undefined && want > max) {
      throw new TrlError(
        ErrorCode.INVALID_PARAMS,
        `params.limits.${field}: ${want} exceeds the runtime maximum ${max} (TRL_${key.toUpperCase()})`,
      );
    }
    limits[field] = want;
  }
  return limits;
}

/** The session's cgroup limits (memory.max, memory.swap.max = 0 with it, pids.max, cpu.max over a 100 ms period). */
export function cgroupLimits(limits: Rlimits): CgroupLimits {
  const cg: CgroupLimits = {};
  if (limits.memory_bytes !== undefined) {
    cg.memoryMax = limits.memory_bytes;
    cg.memorySwapMax = 0;
  }
  if (limits.pids !== undefined) cg.pidsMax = limits.pids;
  if (limits.cpu_percent !== undefined) cg.cpuMax = { quotaUs: Math.max(1000, Math.round(limits.cpu_percent * 1000)), periodUs: 100_000 };
  return cg;
}

/**
 * Shell lines that set the limits (one `ulimit` per option: dash takes only
 * one). A limit that cannot be set stops the command (exit 125) rather than
 * run it unlimited.
 */
export function ulimitLines(limits: Rlimits): string {
  let s = '';
  const set = (flag: string, value: number, what: string) => {
    s += `ulimit ${flag} ${value} || { echo "trl: cannot set ${what}" >&2; exit 125; }\n`;
  };
  if (limits.cpu_s !== undefined) {
    // Soft limit → SIGXCPU (a clear cause); the hard limit one second later → SIGKILL for a command that ignores it.
    const soft = Math.max(1, Math.ceil(limits.cpu_s));
    set('-S -t', soft, 'RLIMIT_CPU');
    set('-H -t', soft + 1, 'RLIMIT_CPU');
  }
  if (limits.nofile !== undefined) set('-n', limits.nofile, 'RLIMIT_NOFILE');
  if (limits.core_bytes !== undefined) set('-c', Math.ceil(limits.core_bytes / 512), 'RLIMIT_CORE');
  if (limits.as_bytes !== undefined) set('-v', Math.ceil(limits.as_bytes / 1024), 'RLIMIT_AS');
  return s;
}
