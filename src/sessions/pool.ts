import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema';
import { ErrorCode, TrlError } from '../protocol/errors';
import type { ExecResult, ExecRunParams, SessionCreateParams } from '../protocol/messages';
import { Execution } from '../exec/execution';
import { carriesState, mergeAfterCommand } from '../exec/shell-state';
import type { Spawner } from '../exec/spawn';
import { groupExists, terminateTree } from '../exec/terminate';
import { readStartTime } from '../system/proc';
import type { Logger } from '../system/logger';
import { Session } from './session';
import { checkWorkingDir, resolveShell } from './validate';

/** Where started process groups are recorded so a later start-up can sweep them (the orphan ledger). */
export interface GroupTracker {
  add(entry: { pgid: number; pid: number; startTime: string; sessionId: string }): void;
  remove(pgid: number): void;
}

export type PoolSettings = Pick<
  Config,
  'max_sessions' | 'default_timeout_s' | 'kill_grace_ms' | 'max_output_bytes' | 'max_idle_sec' | 'session_ttl_sec' | 'max_stdin_bytes'
>;

/** All sessions: limits, state machine, command execution and housekeeping. */
export class SessionPool {
  private readonly sessions = new Map<string, Session>();
  /** Sessions being created: they count against the limit before their checks finish. */
  private reserved = 0;
  private commandsRun = 0;
  private commandsRunning = 0;
  private readonly housekeeping: NodeJS.Timeout;
  /** Called whenever sessions or running commands change (readiness STATUS, idle exit). */
  onChange: () => void = () => {};

  constructor(
    private readonly settings: PoolSettings,
    private readonly runtimeEnv: Record<string, string>,
    private readonly spawner: Spawner,
    private readonly log: Logger,
    private readonly tracker: GroupTracker | null = null,
  ) {
    this.housekeeping = setInterval(() => this.sweep(), housekeepingIntervalMs(settings));
    this.housekeeping.unref();
  }

  get activeSessions(): number {
    return this.sessions.size;
  }
  get totalCommandsRun(): number {
    return this.commandsRun;
  }
  get runningCommands(): number {
    return this.commandsRunning;
  }

  async create(params: SessionCreateParams): Promise<Session> {
    if (this.sessions.size + this.reserved >= this.settings.max_sessions) {
      throw new TrlError(
        ErrorCode.MAX_SESSIONS_REACHED,
        `session limit reached: ${this.settings.max_sessions} sessions are open (TRL_MAX_SESSIONS); destroy one first`,
      );
    }
    this.reserved++;
    try {
      const shell = await resolveShell(params.shell ?? '/bin/sh', this.runtimeEnv.PATH);
      const cwd = await checkWorkingDir(params.working_dir ?? '/tmp');
      const env = params.env ? { ...this.runtimeEnv, ...params.env } : { ...this.runtimeEnv };
      const session = new Session(randomUUID(), params.name ?? null, shell, carriesState(shell), cwd, env, params.timeout_s ?? null);
      this.sessions.set(session.id, session);
      this.log.info({ session: session.id, shell, env_keys: Object.keys(params.env ?? {}) }, 'session created');
      this.onChange();
      return session;
    } finally {
      this.reserved--;
    }
  }

  get(id: string): Session {
    const session = this.sessions.get(id);
    if (!session) throw new TrlError(ErrorCode.SESSION_NOT_FOUND, `session ${id} does not exist (it may have been destroyed or expired)`);
    return session;
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** The names a session adds or changes over the runtime-level environment. */
  envKeys(session: Session): string[] {
    const keys: string[] = [];
    for (const [name, value] of Object.entries(session.env)) if (this.runtimeEnv[name] !== value) keys.push(name);
    return keys.sort();
  }

  effectiveTimeoutS(session: Session): number {
    return session.timeoutS ?? this.settings.default_timeout_s;
  }

  async run(params: ExecRunParams): Promise<ExecResult> {
    const session = this.get(params.session_id);
    if (session.state !== 'idle') {
      throw new TrlError(ErrorCode.SESSION_BUSY, `session ${session.id} is already running a command; wait for it or destroy the session`);
    }
    if (params.stdin && Buffer.byteLength(params.stdin) > this.settings.max_stdin_bytes) {
      throw new TrlError(ErrorCode.INVALID_PARAMS, `params.stdin: larger than ${this.settings.max_stdin_bytes} bytes (TRL_MAX_STDIN_BYTES)`);
    }
    session.state = 'running';
    session.touch();
    const before = session.env;
    const env = { ...before, ...params.env, TRL_SESSION_ID: session.id };
    const timeoutS = params.timeout_s ?? this.effectiveTimeoutS(session);
    let execution: Execution;
    try {
      execution = await Execution.start(
        {
          shell: session.shell,
          command: params.command,
          cwd: session.cwd,
          env,
          reportState: session.reportsState,
          stdin: params.stdin ?? undefined,
          timeoutMs: Math.round(timeoutS * 1000),
          graceMs: this.settings.kill_grace_ms,
          maxOutputBytes: this.settings.max_output_bytes,
        },
        this.spawner,
      );
    } catch (err) {
      if (session.state === 'running') session.state = 'idle';
      throw err;
    }
    session.current = execution;
    this.commandsRunning++;
    this.tracker?.add({ pgid: execution.pid, pid: execution.pid, startTime: readStartTime(execution.pid) ?? '', sessionId: session.id });
    this.onChange();

    const { result, state } = await execution.done;

    session.current = null;
    this.commandsRunning--;
    this.commandsRun++;
    session.commandCount++;
    if (groupExists(execution.pid)) session.lingering.add(execution.pid);
    else this.tracker?.remove(execution.pid);
    if (session.state === 'running') {
      session.state = 'idle';
      session.touch();
      if (state) {
        session.cwd = state.cwd;
        session.env = mergeAfterCommand(before, state.env, params.env ?? undefined);
      }
    }
    this.log.info(
      { session: session.id, exec: execution.id, exit_code: result.exit_code, signal: result.signal, timed_out: result.timed_out, duration_ms: result.duration_ms },
      'command ended',
    );
    this.onChange();
    return result;
  }

  /** Removes the session at once, then stops its command and every process it left behind. */
  async destroy(id: string, force = false, reason = 'requested'): Promise<void> {
    const session = this.get(id);
    this.sessions.delete(id);
    session.state = 'terminated';
    this.onChange();
    const signal = force ? 'SIGKILL' : 'SIGTERM';
    const waits: Promise<unknown>[] = [terminateTree({ pgids: [...session.lingering], marker: session.marker }, this.settings.kill_grace_ms, signal)];
    if (session.current) waits.push(session.current.terminate(signal), session.current.done);
    await Promise.all(waits);
    for (const pgid of session.lingering) this.tracker?.remove(pgid);
    session.lingering.clear();
    this.log.info({ session: id, reason, force }, 'session destroyed');
  }

  /** Shutdown: every session destroyed, every command stopped (TERM → grace → KILL). */
  async destroyAll(reason: string): Promise<void> {
    clearInterval(this.housekeeping);
    await Promise.all([...this.sessions.keys()].map((id) => this.destroy(id, false, reason)));
  }

  /** Expires idle and over-age sessions and forgets background groups that have ended. */
  private sweep(): void {
    const now = Date.now();
    const { max_idle_sec: idle, session_ttl_sec: ttl } = this.settings;
    for (const session of this.sessions.values()) {
      for (const pgid of session.lingering) {
        if (!groupExists(pgid)) {
          session.lingering.delete(pgid);
          this.tracker?.remove(pgid);
        }
      }
      let reason: string | null = null;
      if (ttl > 0 && now - session.createdAt.getTime() >= ttl * 1000) reason = 'ttl';
      else if (idle > 0 && session.state === 'idle' && now - session.lastActivity >= idle * 1000) reason = 'idle';
      if (reason) {
        this.destroy(session.id, false, reason).catch((err) => this.log.error({ err, session: session.id }, 'expiring a session failed'));
      }
    }
  }
}

/** Often enough that a session expires within a quarter of its limit, at most every 10 s. */
function housekeepingIntervalMs(s: PoolSettings): number {
  const limits = [s.max_idle_sec, s.session_ttl_sec].filter((v) => v > 0);
  if (limits.length === 0) return 10_000;
  return Math.min(10_000, Math.max(200, (Math.min(...limits) * 1000) / 4));
}
