import { constants } from 'node:os';
import type { CgroupStats } from '../system/cgroup-subtree';
import type { CapturedText } from './capture';

/** How a command ended, in the daemon's terms; the server turns it into exec.run's result and the exit event. */
export interface CommandOutcome {
  /** The shell's exit code; 128 + the signal's number when a signal ended it. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  durationMs: number;
  /** Which timeout stopped it: the wall-clock one or the no-output one. */
  timeout: 'wall' | 'idle' | null;
  /** Stopped on request (exec.cancel, session.destroy), with this signal. */
  cancelSignal: NodeJS.Signals | null;
  /** Why the daemon or the kernel ended it, if either did. */
  endedBy: 'timeout' | 'cancel' | 'cpu_limit' | 'oom' | null;
  /** What the kernel saw, in cgroup mode (null otherwise). */
  cpuTimeMs: number | null;
  memoryPeakBytes: number | null;
  stdout: CapturedText;
  stderr: CapturedText;
}

/** What the run knows once the shell has exited and its pipes are closed. */
export interface RunFacts {
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** The exit code the EXIT trap reported, when it did. */
  reportedCode: number | null;
  durationMs: number;
  timeout: 'wall' | 'idle' | null;
  cancelSignal: NodeJS.Signals | null;
  /** RLIMIT_CPU was set: SIGXCPU then means the limit ended the command. */
  cpuLimited: boolean;
  /** The command's cgroup figures, read before its leaf went. */
  usage: CgroupStats | null;
  stdout: CapturedText;
  stderr: CapturedText;
}

/** The outcome, assembled once: the stops recorded why, the kernel's figures say what it cost. */
export function buildOutcome(f: RunFacts): CommandOutcome {
  const { code, signal } = f.exit;
  const exitCode = signal !== null ? 128 + (constants.signals[signal] ?? 0) : (f.reportedCode ?? code ?? 0);
  const xcpu = signal === 'SIGXCPU' || (signal === null && exitCode === 128 + constants.signals.SIGXCPU);
  const endedBy = f.timeout ? 'timeout' : f.cancelSignal ? 'cancel' : xcpu && f.cpuLimited ? 'cpu_limit' : f.usage?.oomKilled ? 'oom' : null;
  return {
    exitCode,
    signal,
    durationMs: f.durationMs,
    timeout: f.timeout,
    cancelSignal: f.cancelSignal,
    endedBy,
    cpuTimeMs: f.usage?.cpuUsageUs == null ? null : Math.round(f.usage.cpuUsageUs / 1000),
    memoryPeakBytes: f.usage?.memoryPeakBytes ?? null,
    stdout: f.stdout,
    stderr: f.stderr,
  };
}
