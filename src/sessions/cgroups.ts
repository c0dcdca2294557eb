import type { ExecResult } from '../protocol/messages';
import { cgroupLimits } from '../exec/limits';
import type { CgroupHandle } from '../exec/terminate';
import type { CgroupContainment } from '../system/cgroup';
import type { Logger } from '../system/logger';
import type { Session } from './session';

/**
 * Cgroup mode: a cgroup per session (its limits), a leaf per command (its
 * kill switch and its figures). Any failure falls back to process-group
 * containment for that session or command, with a log line, never an error.
 */
export class SessionCgroups {
  constructor(
    private readonly cg: CgroupContainment,
    private readonly log: Logger,
  ) {}

  join(session: Session): void {
    try {
      const { applied } = this.cg.createSession(session.id, cgroupLimits(session.limits));
      session.cgroup = true;
      if (applied.length) this.log.debug({ session: session.id, applied }, 'session cgroup limits');
    } catch (err) {
      this.log.warn({ session: session.id, err: String(err) }, 'no cgroup for this session: process-group containment');
    }
  }

  /** The prologue that moves the command's shell into its leaf, and the leaf's kill switch. */
  forCommand(session: Session, execId: string): { prologue: string; cgroup: CgroupHandle | undefined } {
    if (!session.cgroup) return { prologue: '', cgroup: undefined };
    let procs: string;
    try {
      procs = this.cg.prepareExec(session.id, execId);
    } catch (err) {
      this.log.warn({ session: session.id, err: String(err) }, 'no cgroup for this command: process-group containment');
      return { prologue: '', cgroup: undefined };
    }
    const cg = this.cg;
    // The shell moves itself before it runs anything: `echo` is a builtin, so no child starts outside.
    const prologue = `echo $$ > '${procs}' || { echo "trl: cannot enter the command's cgroup" >&2; exit 125; }\n`;
    return {
      prologue,
      cgroup: {
        signal: (signal) => void cg.signalExec(session.id, execId, signal),
        pids: () => cg.execPids(session.id, execId),
        kill: () => cg.killExec(session.id, execId),
        populated: () => cg.execPopulated(session.id, execId),
      },
    };
  }

  /** After the command: what the kernel saw (read before the leaf goes), then the leaf removed if empty. */
  finish(session: Session, execId: string, result: ExecResult): void {
    const stats = this.cg.execStats(session.id, execId);
    result.cpu_time_ms = stats.cpuUsageUs === null ? null : Math.round(stats.cpuUsageUs / 1000);
    result.memory_peak_bytes = stats.memoryPeakBytes;
    if (stats.oomKilled && result.killed_by === null) result.killed_by = 'oom';
    this.release(session, execId);
  }

  release(session: Session, execId: string): void {
    if (!this.cg.releaseExec(session.id, execId)) session.lingeringLeaves.add(execId);
  }

  /** Housekeeping: leaves whose background jobs have ended. */
  releaseLingering(session: Session): void {
    for (const leaf of session.lingeringLeaves) if (this.cg.releaseExec(session.id, leaf)) session.lingeringLeaves.delete(leaf);
  }

  destroy(session: Session): Promise<void> {
    return this.cg.destroySession(session.id);
  }
}
