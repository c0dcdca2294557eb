import type { Config } from '../config/schema';
import type { Containment } from '../exec/containment';
import type { Spawner } from '../exec/spawn';
import type { Logger } from '../system/logger';
import type { PressureGauge } from '../system/pressure';

/** Where started process groups are recorded so a later start-up can sweep them (the orphan ledger). */
export interface GroupTracker {
  add(entry: { pgid: number; pid: number; startTime: string; sessionId: string }): void;
  remove(pgid: number): void;
  /** Sessions too: their marker is searched for after a crash until the session is gone with all it started. */
  addSession(id: string): void;
  removeSession(id: string): void;
}

export type RegistrySettings = Pick<
  Config,
  | 'max_sessions' | 'default_timeout_s' | 'kill_grace_ms' | 'max_output_bytes' | 'max_idle_sec' | 'session_ttl_sec'
  | 'max_stdin_bytes' | 'stream_window_bytes' | 'exec_retain_s' | 'max_retained_execs' | 'max_retained_bytes'
  | 'max_running_commands' | 'rlimit_cpu_s' | 'rlimit_nofile' | 'rlimit_core_bytes' | 'rlimit_as_bytes'
  | 'memory_max_bytes' | 'pids_max' | 'cpu_max_percent' | 'pty_scrollback_lines'
>;

/** What the registry is built from. */
export interface RegistryOptions {
  settings: RegistrySettings;
  /** The environment every session starts from. */
  runtimeEnv: Record<string, string>;
  spawner: Spawner;
  log: Logger;
  tracker?: GroupTracker | null;
  pressure?: Pick<PressureGauge, 'check'> | null;
  /** Cgroup mode; null: process groups and the marker only. */
  containment?: Containment | null;
}
