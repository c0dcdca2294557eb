import type { CgroupLimits } from '../system/cgroup-limits';
import type { CgroupStats } from '../system/cgroup-subtree';
import type { CgroupHandle } from './terminate';

/**
 * Holding a session's commands beyond their process groups (cgroup mode):
 * one container per session with its limits, one per command with its kill
 * switch and its figures. Implemented in system/ (CgroupContainment); without
 * it, process groups and the marker are the only containment.
 */
export interface Containment {
  /** The session's container with these limits; false when it has none (its commands are held by process group). */
  openSession(sessionId: string, limits: CgroupLimits): boolean;
  /** A command's container, or null when it cannot have one. */
  openCommand(sessionId: string, execId: string): CommandContainer | null;
  /** Housekeeping: removes command containers whose background jobs have ended. */
  sweepSession(sessionId: string): void;
  /** Kills everything in the session's container and removes it. Never rejects. */
  closeSession(sessionId: string): Promise<void>;
}

/** One command's container, as the run and the terminator use it: nothing escapes it. */
export interface CommandContainer extends CgroupHandle {
  /** The container's directory, which a spawner that can starts the command in. */
  readonly dir: string;
  /** The file the command's shell writes its own pid to before it runs anything, where the spawner cannot start it in `dir`. */
  readonly procsFile: string;
  /** What the kernel accounted to the command; read before `release`. */
  usage(): CgroupStats;
  /** Removes the container once it is empty; one that still holds background jobs goes at a later sweep. */
  release(): void;
}
