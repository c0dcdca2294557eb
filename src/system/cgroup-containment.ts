import { dirname } from 'node:path';
import type { Logger } from './logger';
import type { CgroupLimits } from './cgroup-limits';
import type { DelegatedCgroup } from './cgroup-subtree';

/**
 * Cgroup mode over the delegated subtree: a cgroup per session (its limits),
 * a leaf per command (its kill switch and its figures). Any failure falls
 * back to process-group containment for that session or command, with a log
 * line, never an error. Implements exec/'s Containment.
 */
export class CgroupContainment {
  /** Per session: leaves of finished commands not yet removed (background jobs still live in them). */
  private readonly lingering = new Map<string, Set<string>>();

  constructor(
    private readonly tree: DelegatedCgroup,
    private readonly log: Logger,
  ) {}

  openSession(sessionId: string, limits: CgroupLimits): boolean {
    try {
      const { applied } = this.tree.createSession(sessionId, limits);
      if (applied.length) this.log.debug({ session: sessionId, applied }, 'session cgroup limits');
      this.lingering.set(sessionId, new Set());
      return true;
    } catch (err) {
      this.log.warn({ session: sessionId, err: String(err) }, 'no cgroup for this session: process-group containment');
      return false;
    }
  }

  openCommand(sessionId: string, execId: string) {
    if (!this.lingering.has(sessionId)) return null;
    const tree = this.tree;
    let procsFile: string;
    try {
      procsFile = tree.prepareExec(sessionId, execId);
    } catch (err) {
      this.log.warn({ session: sessionId, err: String(err) }, 'no cgroup for this command: process-group containment');
      return null;
    }
    return {
      dir: dirname(procsFile),
      procsFile,
      signal: (signal: NodeJS.Signals) => void tree.signalExec(sessionId, execId, signal),
      pids: () => tree.execPids(sessionId, execId),
      kill: () => tree.killExec(sessionId, execId),
      populated: () => tree.execPopulated(sessionId, execId),
      usage: () => tree.execStats(sessionId, execId),
      release: () => {
        if (!tree.releaseExec(sessionId, execId)) this.lingering.get(sessionId)?.add(execId);
      },
    };
  }

  sweepSession(sessionId: string): void {
    const leaves = this.lingering.get(sessionId);
    for (const leaf of leaves ?? []) if (this.tree.releaseExec(sessionId, leaf)) leaves!.delete(leaf);
  }

  closeSession(sessionId: string): Promise<void> {
    this.lingering.delete(sessionId);
    return this.tree.destroySession(sessionId);
  }
}
