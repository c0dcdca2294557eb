import type { Config } from '../config/schema';
import type { LimitsParams } from '../protocol/messages';
import type { CgroupLimits } from '../system/cgroup-limits';
import { ExecError } from './errors';

/**
 * A session's resource limits, the fields of `LimitsParams` each set or
 * absent: rlimits (cpu_s, nofile, core_bytes, as_bytes) apply to each
 * command (setrlimit in the native spawner's child, `ulimit` lines under
 * child_process); memory_bytes, pids and cpu_percent to the
 * session's cgroup, in cgroup mode only.
 */
export type Limits = { [K in keyof LimitsParams]?: number };

/** The runtime's limits, from the config: 0 means "no limit" (for core, -1 does). */
export type RuntimeLimits = Pick<
  Config,
  'rlimit_cpu_s' | 'rlimit_nofile' | 'rlimit_core_bytes' | 'rlimit_as_bytes' | 'memory_max_bytes' | 'pids_max' | 'cpu_max_percent'
>;

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
function runtimeDefaults(rt: RuntimeLimits): Limits {
  const limits: Limits = {};
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
export function sessionLimits(requested: LimitsParams | null | undefined, rt: RuntimeLimits): Limits {
  const limits = runtimeDefaults(rt);
  if (!requested) return limits;
  for (const [field, key] of FIELDS) {
    const want = requested[field];
    if (want === undefined || want === null) continue;
    const max = limits[field];
    if (max !== undefined && want > max) {
      throw new ExecError(
        'invalid_limit',
        `params.limits.${field}: ${want} exceeds the runtime maximum ${max} (TRL_${key.toUpperCase()})`,
      );
    }
    limits[field] = want;
  }
  return limits;
}

/** The session's cgroup limits (memory.max, memory.swap.max = 0 with it, pids.max, cpu.max over a 100 ms period). */
export function cgroupLimits(limits: Limits): CgroupLimits {
  const cg: CgroupLimits = {};
  if (limits.memory_bytes !== undefined) {
    cg.memoryMax = limits.memory_bytes;
    cg.memorySwapMax = 0;
  }
  if (limits.pids !== undefined) cg.pidsMax = limits.pids;
  if (limits.cpu_percent !== undefined) cg.cpuMax = { quotaUs: Math.max(1000, Math.round(limits.cpu_percent * 1000)), periodUs: 100_000 };
  return cg;
}

/** One resource limit as setrlimit takes it: soft and hard in the kernel's units (seconds, fds, bytes). */
export interface Rlimit {
  resource: 'RLIMIT_CPU' | 'RLIMIT_NOFILE' | 'RLIMIT_CORE' | 'RLIMIT_AS';
  soft: number;
  hard: number;
}

/**
 * The rlimits of a command, exactly as the shell's `ulimit` lines set them
 * (script.ts): CPU soft limit whole seconds (SIGXCPU, a clear cause) and the
 * hard limit one second later (SIGKILL for a command that ignores it); the
 * others soft = hard, core in 512-byte blocks, address space in KiB.
 */
export function rlimitsOf(limits: Limits): Rlimit[] {
  const out: Rlimit[] = [];
  if (limits.cpu_s !== undefined) {
    const soft = Math.max(1, Math.ceil(limits.cpu_s));
    out.push({ resource: 'RLIMIT_CPU', soft, hard: soft + 1 });
  }
  const both = (resource: Rlimit['resource'], value: number) => out.push({ resource, soft: value, hard: value });
  if (limits.nofile !== undefined) both('RLIMIT_NOFILE', limits.nofile);
  if (limits.core_bytes !== undefined) both('RLIMIT_CORE', Math.ceil(limits.core_bytes / 512) * 512);
  if (limits.as_bytes !== undefined) both('RLIMIT_AS', Math.ceil(limits.as_bytes / 1024) * 1024);
  return out;
}
