import type { SessionState } from '../protocol/messages';
import type { CommandRun } from '../exec/run';
import type { Rlimits } from '../exec/limits';
import type { StateMode } from '../exec/shell-state';

/** One session: its shell, its carried-over state and its command, if one runs. */
export class Session {
  state: SessionState = 'idle';
  /** The current directory: where the next command starts. */
  cwd: string;
  /** The complete environment the next command starts from (runtime < session, plus what commands exported). */
  env: Record<string, string>;
  lastActivity = Date.now();
  commandCount = 0;
  current: CommandRun | null = null;
  /** Process groups of finished commands that still have members (background jobs). */
  readonly lingering = new Set<number>();
  /** The session has its own cgroup (cgroup mode). */
  cgroup = false;
  /** Cgroup leaves of finished commands not yet removed: background jobs still live in them. */
  readonly lingeringLeaves = new Set<string>();
  readonly createdAt = new Date();
  readonly marker: Buffer;

  constructor(
    readonly id: string,
    readonly name: string | null,
    readonly shell: string,
    readonly stateMode: StateMode,
    cwd: string,
    env: Record<string, string>,
    /** null = the runtime's default timeout. */
    readonly timeoutS: number | null,
    readonly limits: Rlimits,
    /** The limits as shell lines, built once. */
    readonly prologue: string,
  ) {
    this.cwd = cwd;
    this.env = env;
    this.marker = Buffer.from(`TRL_SESSION_ID=${id}`);
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** The fields every listing shows. */
  summary() {
    return {
      session_id: this.id,
      name: this.name,
      shell: this.shell,
      working_dir: this.cwd,
      state: this.state,
      created_at: this.createdAt.toISOString(),
    };
  }
}
