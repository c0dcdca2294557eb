import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema';
import { ErrorCode, TrlError } from '../protocol/errors';
import type { ExecResult, ExecStreamParams, SessionCreateParams } from '../protocol/messages';
import { CommandRun } from '../exec/run';
import { ExecRecord } from '../exec/exec-record';
import { mergeAfterCommand, stateModeOf } from '../exec/shell-state';
import { sessionLimits, ulimitLines } from '../exec/limits';
import type { SessionCgroups } from './cgroups';
import type { PressureGauge } from '../system/pressure';
import type { Spawner } from '../exec/spawn';
import { terminateTree } from '../exec/terminate';
import { groupExists } from '../system/proc';
import type { Logger } from '../system/logger';
import { ExecTable } from './exec-table';
import { Session } from './session';
import { checkWorkingDir, resolveShell } from './validate';

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
  | 'max_sessions'
  | 'default_timeout_s'
  | 'kill_grace_ms'
  | 'max_output_bytes'
  | 'max_idle_sec'
  | 'session_ttl_sec'
  | 'max_stdin_bytes'
  | 'stream_window_bytes'
  | 'exec_retain_s'
  | 'max_retained_execs'
  | 'max_retained_bytes'
  | 'max_running_commands'
  | 'rlimit_cpu_s'
  | 'rlimit_nofile'
  | 'rlimit_core_bytes'
  | 'rlimit_as_bytes'
  | 'memory_max_bytes'
  | 'pids_max'
  | 'cpu_max_percent'
>;

/** How a command's output is consumed: collected into the result (exec.run) or only streamed. */
export interface StartMode {
  collect: boolean;
}

/** All sessions and their commands: limits, state machine, execution, housekeeping. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  readonly execs: ExecTable;
  /** Sessions being created: they count against the limit before their checks finish. */
  private reserved = 0;
  private commandsRun = 0;
  private commandsRunning = 0;
  private readonly housekeeping: NodeJS.Timeout;
  /** Called whenever sessions or running commands change (readiness STATUS, idle exit). */
  onChange: () => void = () => {};

  constructor(
    private readonly settings: RegistrySettings,
    private readonly runtimeEnv: Record<string, string>,
    private readonly spawner: Spawner,
    private readonly log: Logger,
    private readonly tracker: GroupTracker | null = null,
    private readonly pressure: Pick<PressureGauge, 'check'> | null = null,
    private readonly cgroups: SessionCgroups | null = null,
  ) {
    this.execs = new ExecTable(settings.exec_retain_s * 1000, settings.max_retained_execs, settings.max_retained_bytes);
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
    this.pressure?.check();
    const limits = sessionLimits(params.limits as Parameters<typeof sessionLimits>[0], this.settings);
    this.reserved++;
    try {
      const shell = await resolveShell(params.shell ?? '/bin/sh', this.runtimeEnv.PATH);
      const cwd = await checkWorkingDir(params.working_dir ?? '/tmp');
      const env = params.env ? { ...this.runtimeEnv, ...params.env } : { ...this.runtimeEnv };
      const session = new Session(
        randomUUID(),
        params.name ?? null,
        shell,
        stateModeOf(shell),
        cwd,
        env,
        params.timeout_s ?? null,
        limits,
        ulimitLines(limits),
      );
      this.cgroups?.join(session);
      this.sessions.set(session.id, session);
      this.tracker?.addSession(session.id);
      this.log.info({ session: session.id, shell, env_keys: Object.keys(params.env ?? {}), cgroup: session.cgroup }, 'session created');
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

  /** exec.run: the command's collected result. */
  async run(params: ExecStreamParams): Promise<ExecResult> {
    const { done } = await this.start(params, { collect: true });
    return done;
  }

  /**
   * Starts a command in its session. Resolves once the process runs, with
   * the exec (for streaming) and its result to come; the session's state is
   * brought up to date when the command ends, whether or not anyone waits.
   */
  async start(params: ExecStreamParams, mode: StartMode): Promise<{ live: ExecRecord; done: Promise<ExecResult> }> {
    const session = this.get(params.session_id);
    if (session.state !== 'idle') {
      throw new TrlError(ErrorCode.SESSION_BUSY, `session ${session.id} is already running a command; wait for it, cancel it, or destroy the session`);
    }
    if (this.commandsRunning >= this.settings.max_running_commands) {
      throw new TrlError(
        ErrorCode.RESOURCE_PRESSURE,
        `${this.commandsRunning} commands are running, the limit (TRL_MAX_RUNNING_COMMANDS); retry when one has ended`,
      );
    }
    this.pressure?.check();
    if (params.stdin && Buffer.byteLength(params.stdin) > this.settings.max_stdin_bytes) {
      throw new TrlError(ErrorCode.INVALID_PARAMS, `params.stdin: larger than ${this.settings.max_stdin_bytes} bytes (TRL_MAX_STDIN_BYTES)`);
    }
    session.state = 'running';
    session.touch();
    const before = session.env;
    const live = new ExecRecord(randomUUID(), session.id, params.command, this.settings.stream_window_bytes);
    const timeoutS = params.timeout_s ?? this.effectiveTimeoutS(session);
    const { prologue, cgroup } = this.cgroups?.forCommand(session, live.id) ?? { prologue: '', cgroup: undefined };
    let execution: CommandRun;
    try {
      execution = await CommandRun.start(
        {
          shell: session.shell,
          command: params.command,
          cwd: session.cwd,
          env: { ...before, ...params.env, TRL_SESSION_ID: session.id },
          stateMode: session.stateMode,
          prologue: prologue + session.prologue,
          cgroup,
          cpuLimited: session.limits.cpu_s !== undefined,
          stdin: params.stdin ?? undefined,
          stdinOpen: params.stdin_open ?? false,
          timeoutMs: Math.round(timeoutS * 1000),
          idleTimeoutMs: Math.round((params.idle_timeout_s ?? 0) * 1000),
          graceMs: this.settings.kill_grace_ms,
          collectBytes: mode.collect ? this.settings.max_output_bytes : 0,
          outputKeep: params.output_keep ?? 'head',
          execId: live.id,
          onOutput: live.push,
        },
        this.spawner,
      );
    } catch (err) {
      if (session.state === 'running') session.state = 'idle';
      if (cgroup) this.cgroups!.release(session, live.id);
      throw err;
    }
    live.started(execution, params.stdin_open ?? false);
    session.current = execution;
    this.execs.add(live);
    this.commandsRunning++;
    this.tracker?.add({ pgid: execution.pid, pid: execution.pid, startTime: '', sessionId: session.id });
    this.onChange();

    const done = execution.done.then(({ result, state }) => {
      if (cgroup) this.cgroups!.finish(session, live.id, result);
      session.current = null;
      this.commandsRunning--;
      this.commandsRun++;
      session.commandCount++;
      // Background jobs may still be in the group. Checked after the answer has gone out (the check
      // costs an exception per finished command); a live group is rechecked by housekeeping.
      session.lingering.add(execution.pid);
      setImmediate(() => this.forgetIfGone(session, execution.pid));
      if (session.state === 'running') {
        session.state = 'idle';
        session.touch();
        if (state) {
          session.cwd = state.cwd;
          if (state.env) session.env = mergeAfterCommand(before, state.env, params.env ?? undefined);
        }
      }
      live.finish(result);
      this.execs.ended(live);
      this.log.info(
        { session: session.id, exec: live.id, exit_code: result.exit_code, signal: result.signal, timed_out: result.timed_out, cancelled: result.cancelled, duration_ms: result.duration_ms },
        'command ended',
      );
      this.onChange();
      return result;
    });
    return { live, done };
  }

  /** The running exec named by exec_id, or the one running in session_id. */
  runningExec(ref: { exec_id?: string | null; session_id?: string | null }): ExecRecord {
    let live: ExecRecord;
    if (ref.exec_id) live = this.execs.get(ref.exec_id);
    else {
      const session = this.get(ref.session_id!);
      const current = session.current;
      if (!current) throw new TrlError(ErrorCode.EXEC_NOT_RUNNING, `session ${session.id} is not running a command`);
      live = this.execs.get(current.id);
    }
    if (!live.running || !live.execution) {
      throw new TrlError(ErrorCode.EXEC_NOT_RUNNING, `exec ${live.id} has already finished (exit code ${live.result?.exit_code}); nothing to do`);
    }
    return live;
  }

  /** Removes the session at once, then stops its command and every process it left behind. */
  async destroy(id: string, force = false, reason = 'requested'): Promise<void> {
    const session = this.get(id);
    this.sessions.delete(id);
    session.state = 'terminated';
    this.onChange();
    const signal = force ? 'SIGKILL' : 'SIGTERM';
    const sweep = terminateTree({ pgids: [...session.lingering], marker: session.marker }, this.settings.kill_grace_ms, signal);
    const waits: Promise<unknown>[] = [sweep];
    if (session.current) waits.push(session.current.cancel(signal), session.current.done);
    if (session.cgroup) waits.push(this.cgroups!.destroy(session));
    await Promise.all(waits);
    for (const pgid of session.lingering) this.tracker?.remove(pgid);
    session.lingering.clear();
    // Kept while anything carrying the marker is alive, so that a later start-up still sweeps it.
    const { survivors, stable } = await sweep;
    if (survivors === 0 && stable) this.tracker?.removeSession(id);
    else this.log.warn({ session: id, survivors, stable }, 'processes of a destroyed session may have survived the kill; the next start-up sweeps them');
    this.log.info({ session: id, reason, force }, 'session destroyed');
  }

  /** Shutdown: every session destroyed, every command stopped (TERM → grace → KILL). */
  async destroyAll(reason: string): Promise<void> {
    clearInterval(this.housekeeping);
    await Promise.all([...this.sessions.keys()].map((id) => this.destroy(id, false, reason)));
  }

  private forgetIfGone(session: Session, pgid: number): void {
    if (groupExists(pgid)) return;
    session.lingering.delete(pgid);
    this.tracker?.remove(pgid);
  }

  /** Expires idle and over-age sessions and old results, and forgets background groups that have ended. */
  private sweep(): void {
    const now = Date.now();
    this.execs.expire(now);
    const { max_idle_sec: idle, session_ttl_sec: ttl } = this.settings;
    for (const session of this.sessions.values()) {
      this.cgroups?.releaseLingering(session);
      for (const pgid of session.lingering) this.forgetIfGone(session, pgid);
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
function housekeepingIntervalMs(s: RegistrySettings): number {
  const limits = [s.max_idle_sec, s.session_ttl_sec].filter((v) => v > 0);
  if (limits.length === 0) return 10_000;
  return Math.min(10_000, Math.max(200, (Math.min(...limits) * 1000) / 4));
}
