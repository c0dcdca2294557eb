import type { SessionState } from '../protocol/messages';
import type { ExecRecord } from '../exec/exec-record';
import type { Limits } from '../exec/limits';
import { EnvReportMemo, type StateMode } from '../exec/shell-state';

/** What a session is created with. */
export interface SessionInit {
  id: string;
  name: string | null;
  shell: string;
  stateMode: StateMode;
  cwd: string;
  env: Record<string, string>;
  /** null = the runtime's default timeout. */
  timeoutS: number | null;
  limits: Limits;
}

/** One session: its shell, its carried-over state and its command, if one runs. */
export class Session {
  readonly id: string;
  readonly name: string | null;
  readonly shell: string;
  readonly stateMode: StateMode;
  readonly timeoutS: number | null;
  readonly limits: Limits;
  state: SessionState = 'idle';
  /** The current directory: where the next command starts. */
  cwd: string;
  /** The complete environment the next command starts from (runtime < session, plus what commands exported). */
  env: Record<string, string>;
  lastActivity = Date.now();
  commandCount = 0;
  /** The exec running now; its run is set. */
  current: ExecRecord | null = null;
  /** Process groups of finished commands that still have members (background jobs). */
  readonly lingering = new Set<number>();
  /** The session has its own cgroup (cgroup mode). */
  cgroup = false;
  readonly createdAt = new Date();
  readonly marker: Buffer;
  readonly envMemo = new EnvReportMemo();

  constructor(init: SessionInit) {
    this.id = init.id;
    this.name = init.name;
    this.shell = init.shell;
    this.stateMode = init.stateMode;
    this.timeoutS = init.timeoutS;
    this.limits = init.limits;
    this.cwd = init.cwd;
    this.env = init.env;
    this.marker = Buffer.from(`TRL_SESSION_ID=${init.id}`);
  }

  touch(): void {
    this.lastActivity = Date.now();
  }
}
