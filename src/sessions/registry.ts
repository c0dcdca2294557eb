import { randomUUID } from '../system/lazy-builtins';
import { ErrorCode, TrlError } from '../protocol/errors';
import type { ExecStreamParams, SessionCreateParams } from '../protocol/messages';
import type { Containment } from '../exec/containment';
import type { ExecRecord } from '../exec/exec-record';
import { cgroupLimits, sessionLimits } from '../exec/limits';
import type { CommandOutcome } from '../exec/outcome';
import type { CommandRun } from '../exec/run';
import { stateModeOf } from '../exec/shell-state';
import { admitCommand, admitSession } from './admission';
import { endInSession, startInSession } from './command-start';
import { ExecTable } from './exec-table';
import { forgetIfGone, housekeepingIntervalMs, sweep } from './housekeeping';
import type { GroupTracker, RegistryOptions, RegistrySettings } from './registry-options';
import { Session } from './session';
import { tearDown } from './teardown';
import { checkWorkingDir, resolveShell } from './validate';

/** All sessions and their execs: creation, admission, a command's start and end, destruction, housekeeping. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  readonly execs: ExecTable;
  /** Sessions being created: they count against the limit before their checks finish. */
  private reserved = 0;
  private commandsRun = 0;
  private commandsRunning = 0;
  private readonly housekeeping: NodeJS.Timeout;
  private readonly settings: RegistrySettings;
  private readonly tracker: GroupTracker | null;
  private readonly containment: Containment | null;
  /** Called whenever sessions or running commands change (readiness STATUS, idle exit). */
  onChange: () => void = () => {};

  constructor(private readonly o: RegistryOptions) {
    this.settings = o.settings;
    this.tracker = o.tracker ?? null;
    this.containment = o.containment ?? null;
    this.execs = new ExecTable(o.settings.exec_retain_s * 1000, o.settings.max_retained_execs, o.settings.max_retained_bytes);
    this.housekeeping = setInterval(() => this.sweep(), housekeepingIntervalMs(o.settings));
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
    admitSession({ sessions: this.sessions.size + this.reserved, runningCommands: this.commandsRunning, pressure: this.o.pressure ?? null }, this.settings);
    const limits = sessionLimits(params.limits, this.settings);
    this.reserved++;
    try {
      const runtimeEnv = this.o.runtimeEnv;
      const shell = await resolveShell(params.shell ?? '/bin/sh', runtimeEnv.PATH);
      const cwd = await checkWorkingDir(params.working_dir ?? '/tmp');
      const env = params.env ? { ...runtimeEnv, ...params.env } : { ...runtimeEnv };
      const session = new Session({ id: randomUUID(), name: params.name ?? null, shell, stateMode: stateModeOf(shell), cwd, env, timeoutS: params.timeout_s ?? null, limits });
      session.cgroup = this.containment?.openSession(session.id, cgroupLimits(limits)) ?? false;
      this.sessions.set(session.id, session);
      this.tracker?.addSession(session.id);
      this.o.log.info({ session: session.id, shell, env_keys: Object.keys(params.env ?? {}), cgroup: session.cgroup }, 'session created');
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
    for (const [name, value] of Object.entries(session.env)) if (this.o.runtimeEnv[name] !== value) keys.push(name);
    return keys.sort();
  }

  effectiveTimeoutS(session: Session): number {
    return session.timeoutS ?? this.settings.default_timeout_s;
  }

  /**
   * Starts a command in its session. Resolves once the process runs, with
   * the exec (for streaming) and its outcome to come; the session's state is
   * brought up to date when the command ends, whether or not anyone waits.
   */
  async start(params: ExecStreamParams, collect: boolean): Promise<{ record: ExecRecord; done: Promise<CommandOutcome> }> {
    const session = this.get(params.session_id);
    admitCommand(session, params.stdin, { sessions: this.sessions.size, runningCommands: this.commandsRunning, pressure: this.o.pressure ?? null }, this.settings);
    const before = session.env;
    const ctx = { settings: this.settings, spawner: this.o.spawner, containment: this.containment, timeoutS: this.effectiveTimeoutS(session), collect };
    const { record, run } = await startInSession(session, params, ctx);
    this.execs.add(record);
    this.commandsRunning++;
    this.tracker?.add({ pgid: run.pid, pid: run.pid, startTime: '', sessionId: session.id });
    this.onChange();

    const done = run.done.then(({ outcome, state }) => {
      this.commandsRunning--;
      this.commandsRun++;
      // Background jobs may still be in the group: one kill(-pgid, 0), no exception when it is gone
      // (system/proc.ts); a live group is rechecked by housekeeping.
      session.lingering.add(run.pid);
      forgetIfGone(session, run.pid, this.tracker);
      endInSession(session, before, params, state);
      record.finish(outcome);
      this.execs.ended(record);
      this.o.log.info(
        { session: session.id, exec: record.id, exit_code: outcome.exitCode, signal: outcome.signal, timed_out: outcome.timeout !== null, cancelled: outcome.cancelSignal !== null, duration_ms: outcome.durationMs },
        'command ended',
      );
      this.onChange();
      return outcome;
    });
    return { record, done };
  }

  /** The running exec named by exec_id, or the one running in session_id. */
  runningExec(ref: { exec_id?: string | null; session_id?: string | null }): { record: ExecRecord; run: CommandRun } {
    let record: ExecRecord;
    if (ref.exec_id) record = this.execs.get(ref.exec_id);
    else {
      const session = this.get(ref.session_id!);
      if (!session.current) throw new TrlError(ErrorCode.EXEC_NOT_RUNNING, `session ${session.id} is not running a command`);
      record = session.current;
    }
    if (!record.running || !record.run) {
      throw new TrlError(ErrorCode.EXEC_NOT_RUNNING, `exec ${record.id} has already finished (exit code ${record.outcome?.exitCode}); nothing to do`);
    }
    return { record, run: record.run };
  }

  /** Removes the session at once, then stops its command and every process it left behind. */
  async destroy(id: string, force = false, reason = 'requested'): Promise<void> {
    const session = this.get(id);
    this.sessions.delete(id);
    session.state = 'terminated';
    this.onChange();
    await tearDown(session, force, { graceMs: this.settings.kill_grace_ms, tracker: this.tracker, containment: this.containment, adopted: this.o.spawner.adopted ?? null, log: this.o.log });
    this.o.log.info({ session: id, reason, force }, 'session destroyed');
  }

  /** Shutdown: every session destroyed, every command stopped (TERM → grace → KILL). */
  async destroyAll(reason: string): Promise<void> {
    clearInterval(this.housekeeping);
    await Promise.all([...this.sessions.keys()].map((id) => this.destroy(id, false, reason)));
    // Whatever the daemon adopted and could not tie to a session it destroyed (the sessions' kills take the rest).
    await this.o.spawner.adopted?.killAll();
  }

  /** Expires idle and over-age sessions and old results, and forgets background groups that have ended. */
  private sweep(): void {
    for (const { session, reason } of sweep(this.sessions.values(), this.execs, { settings: this.settings, tracker: this.tracker, containment: this.containment })) {
      this.destroy(session.id, false, reason).catch((err) => this.o.log.error({ err, session: session.id }, 'expiring a session failed'));
    }
  }
}
