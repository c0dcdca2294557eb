import { ErrorCode, TrlError } from '../protocol/errors';

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
}

/** The runtime's limits, from the config: 0 means "no limit" (for core, -1 does). */
export interface RuntimeRlimits {
  rlimit_cpu_s: number;
  rlimit_nofile: number;
  rlimit_core_bytes: number;
  rlimit_as_bytes: number;
}

const FIELDS = [
  ['cpu_s', 'rlimit_cpu_s'],
  ['nofile', 'rlimit_nofile'],
  ['core_bytes', 'rlimit_core_bytes'],
  ['as_bytes', 'rlimit_as_bytes'],
] as const;

/** The runtime's values as the default limits of a session. */
export function runtimeDefaults(rt: RuntimeRlimits): Rlimits {
  const limits: Rlimits = {};
  if (rt.rlimit_cpu_s > 0) limits.cpu_s = rt.rlimit_cpu_s;
  if (rt.rlimit_nofile > 0) limits.nofile = rt.rlimit_nofile;
  if (rt.rlimit_core_bytes >= 0) limits.core_bytes = rt.rlimit_core_bytes;
  if (rt.rlimit_as_bytes > 0) limits.as_bytes = rt.rlimit_as_bytes;
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
