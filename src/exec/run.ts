import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { ExecResult, OutputKeep } from '../protocol/messages';
import { ErrorCode, TrlError } from '../protocol/errors';
import type { CapturedText, StreamCapture } from './capture';
import { captureFor } from './capture-tail';
import type { StreamName } from './output-buffer';
import { parseStateReport, wrapCommand, type ShellState, type StateMode } from './shell-state';
import type { SpawnedProcess, Spawner } from './spawn';
import { signalTree, terminateTree, type CgroupHandle, type ProcessTree } from './terminate';

export interface RunSpec {
  shell: string;
  command: string;
  cwd: string;
  /** The complete environment of the command (runtime < session < command), markers included. */
  env: Record<string, string>;
  /** How the wrapped command reports cwd and env back (null: not wrapped, no carry-over). */
  stateMode: StateMode;
  /** POSIX shell lines run before the user's command (ulimits, entering a cgroup); a failing line ends the command. */
  prologue?: string;
  /** RLIMIT_CPU is set: SIGXCPU then means the limit ended the command. */
  cpuLimited?: boolean;
  /** The cgroup the prologue puts the command in. */
  cgroup?: CgroupHandle | undefined;
  /** Written to stdin first. */
  stdin?: string | undefined;
  /** Keep stdin open after `stdin` for later input (exec.input); otherwise it is closed at once. */
  stdinOpen?: boolean;
  /** 0 = no timeout. */
  timeoutMs: number;
  /** Stop the command after this long without output; 0 = never. */
  idleTimeoutMs?: number;
  graceMs: number;
  /** Keep the first `maxOutputBytes` of each stream for the result (exec.run); 0 = keep nothing. */
  collectBytes: number;
  /** Which part of a stream over `collectBytes` the result keeps; default its head. */
  outputKeep?: OutputKeep;
  execId?: string;
  /** Every chunk read from stdout or stderr, as it arrives. */
  onOutput?: (stream: StreamName, chunk: Buffer) => void;
}

export interface RunEnd {
  result: ExecResult;
  /** The shell's final cwd and env; null when the command did not end normally through the wrapper. */
  state: ShellState | null;
}

/** After the shell exits, how long its background children may keep our stdout/stderr open before we stop reading. */
const DRAIN_AFTER_EXIT_MS = 100;
/** The state report is a cwd and an environment; anything bigger is not ours. */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** One running command: spawn, capture, timeouts, input, cancel, result. */
export class CommandRun {
  readonly id: string;
  readonly pid: number;
  readonly tree: ProcessTree;
  readonly done: Promise<RunEnd>;
  readonly startedAt = new Date();

  private readonly t0: number;
  private readonly stdout: StreamCapture;
  private readonly stderr: StreamCapture;
  private stateChunks: Buffer[] = [];
  private stateBytes = 0;
  private openStreams = 3;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private timeoutKind: 'wall' | 'idle' | null = null;
  private cancelSignal: NodeJS.Signals | null = null;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | null = null;
  /** The latest stop has finished: the tree it was sent to is gone. */
  private stopped = false;
  private settle!: (outcome: RunEnd) => void;
  private finished = false;
  private outputPaused = false;
  private resumeStdout!: () => Readable;
  private resumeStderr!: () => Readable;
  private lastOutputAt: number;

  private constructor(
    private readonly spec: RunSpec,
    private readonly child: SpawnedProcess,
    id: string,
    t0: number,
  ) {
    this.id = id;
    this.pid = child.pid;
    this.t0 = t0;
    this.lastOutputAt = t0;
    this.tree = { pid: child.pid, pgids: [child.pid], marker: Buffer.from(`TRL_EXEC_ID=${id}`), cgroup: spec.cgroup };
    this.stdout = captureFor(spec.outputKeep ?? 'head', spec.collectBytes);
    this.stderr = captureFor(spec.outputKeep ?? 'head', spec.collectBytes);
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.wire();
  }

  /** Starts the command. Rejects with a TrlError that says what could not be started and why. */
  static async start(spec: RunSpec, spawner: Spawner): Promise<CommandRun> {
    const id = spec.execId ?? randomUUID();
    const env = { ...spec.env, TRL_EXEC_ID: id };
    const t0 = performance.now();
    let child: SpawnedProcess;
    try {
      child = await spawner({ ...invocation(spec), cwd: spec.cwd, env });
    } catch (err) {
      throw await describeSpawnError(err as NodeJS.ErrnoException, spec);
    }
    return new CommandRun(spec, child, id, t0);
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get stdinOpen(): boolean {
    return !this.finished && this.child.stdin.writable;
  }

  /** Bytes written to stdin that the command has not read yet (bounded by the caller). */
  get pendingInputBytes(): number {
    return this.child.stdin.writableLength;
  }

  /** Milliseconds since the last output (or since the start). */
  get silentForMs(): number {
    return performance.now() - this.lastOutputAt;
  }

  /**
   * Stops reading stdout and stderr (a lossless reader is behind): the
   * command blocks once its pipe is full, as it would on a slow terminal.
   * The idle timeout does not run meanwhile: the silence is ours.
   */
  pauseOutput(): void {
    if (this.finished) return;
    this.outputPaused = true;
    this.child.stdout.pause();
    this.child.stderr.pause();
    clearTimeout(this.idleTimer);
  }

  resumeOutput(): void {
    if (this.finished) return;
    this.outputPaused = false;
    this.resumeStdout();
    this.resumeStderr();
    const idle = this.spec.idleTimeoutMs ?? 0;
    if (idle > 0 && this.exit === null) this.idleTimer = setTimeout(() => this.timeOut('idle'), idle);
  }

  /** Writes to the command's stdin; `eof` closes it afterwards. */
  writeInput(data: string, eof: boolean): void {
    if (data.length > 0) this.child.stdin.write(data);
    if (eof) this.child.stdin.end();
  }

  /**
   * Stops the command's whole tree. With no signal: TERM → grace → KILL. With
   * an explicit signal: that signal alone, to the group and the tree.
   */
  cancel(signal?: NodeJS.Signals): Promise<void> {
    if (this.finished) return Promise.resolve();
    // The latest cancel is the one that ends the command (SIGUSR1 may be survived, then SIGKILL is not).
    this.cancelSignal = signal ?? 'SIGTERM';
    if (signal && signal !== 'SIGTERM' && signal !== 'SIGKILL') {
      signalTree(this.tree, signal);
      return Promise.resolve();
    }
    return this.terminate(signal ?? 'SIGTERM');
  }

  /** TERM → grace → KILL (or KILL at once); resolves once the tree is gone or the grace is over. */
  terminate(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (this.stopping && signal !== 'SIGKILL') return this.stopping;
    this.stopping = terminateTree(this.tree, this.spec.graceMs, signal).then(() => undefined);
    return this.stopping;
  }

  private wire(): void {
    const { child, spec } = this;
    const onOutput = spec.onOutput;
    // Node resumes a child's stdio streams when the child exits (child_process's flushStdio), which
    // would release a pause held for a lossless reader and flood the window: while paused, resume()
    // from anyone but resumeOutput is ignored.
    this.resumeStdout = child.stdout.resume.bind(child.stdout);
    this.resumeStderr = child.stderr.resume.bind(child.stderr);
    child.stdout.resume = () => (this.outputPaused ? child.stdout : this.resumeStdout());
    child.stderr.resume = () => (this.outputPaused ? child.stderr : this.resumeStderr());
    const idle = spec.idleTimeoutMs ?? 0;
    child.stdout.on('data', (c: Buffer) => {
      this.lastOutputAt = performance.now();
      this.idleTimer?.refresh();
      this.stdout.push(c);
      onOutput?.('stdout', c);
    });
    child.stderr.on('data', (c: Buffer) => {
      this.lastOutputAt = performance.now();
      this.idleTimer?.refresh();
      this.stderr.push(c);
      onOutput?.('stderr', c);
    });
    child.state.on('data', (c: Buffer) => {
      this.stateBytes += c.length;
      if (this.stateBytes <= MAX_STATE_BYTES) this.stateChunks.push(c);
    });
    for (const s of [child.stdout, child.stderr, child.state]) {
      s.once('close', () => {
        this.openStreams--;
        this.maybeFinish();
      });
      s.on('error', () => {});
    }
    child.stdin.on('error', () => {}); // EPIPE when the command never reads its input
    if (spec.stdin) child.stdin.write(spec.stdin);
    if (!spec.stdinOpen) child.stdin.end();

    if (spec.timeoutMs > 0) this.timeoutTimer = setTimeout(() => this.timeOut('wall'), spec.timeoutMs);
    if (idle > 0) this.idleTimer = setTimeout(() => this.timeOut('idle'), idle);
    child.onExit((code, signal) => {
      this.exit = { code, signal };
      clearTimeout(this.idleTimer);
      if (this.openStreams > 0) {
        this.drainTimer = setTimeout(() => this.abandonStreams(), DRAIN_AFTER_EXIT_MS);
      }
      this.maybeFinish();
    });
  }

  private timeOut(kind: 'wall' | 'idle'): void {
    if (this.finished || this.timeoutKind) return;
    this.timeoutKind = kind;
    void this.terminate();
  }

  /** Background children still hold the pipes: stop reading, keep what arrived. */
  private abandonStreams(): void {
    const stopped = this.timeoutKind !== null || this.cancelSignal !== null || this.stopping !== null;
    if (this.outputPaused && !stopped) {
      // A lossless reader is behind: what is still in the pipes is owed to it; wait for it to catch up.
      // A reader may hold output, never the end: once the command is timed out, cancelled or
      // destroyed, the pipes are let go and the exec ends.
      this.drainTimer = setTimeout(() => this.abandonStreams(), DRAIN_AFTER_EXIT_MS);
      return;
    }
    for (const s of [this.child.stdout, this.child.stderr, this.child.state]) s.destroy();
  }

  private maybeFinish(): void {
    if (this.finished || this.exit === null || this.openStreams > 0) return;
    // A timeout, cancel or destroy is answered once the whole tree is gone, not when the shell is.
    if (this.stopping && !this.stopped) {
      const stop = this.stopping;
      void stop.then(() => {
        if (this.stopping === stop) this.stopped = true;
        this.maybeFinish();
      });
      return;
    }
    this.finished = true;
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.idleTimer);
    clearTimeout(this.drainTimer);
    this.child.stdin.destroy();
    const { code, signal } = this.exit;
    // The head (exit code, cwd) comes from the shell; env's part counts only if env itself succeeded.
    const mode = this.spec.stateMode;
    // With `exec env`, env's own success says the report is whole; export -p ends it with a NUL.
    const report = mode !== null && signal === null ? parseStateReport(Buffer.concat(this.stateChunks), mode === 'export-p' || code === 0, mode) : null;
    this.stateChunks = [];
    const out = this.stdout.finish();
    const err = this.stderr.finish();
    const exitCode = signal !== null ? 128 + (constants.signals[signal] ?? 0) : report ? report.exitCode : (code ?? 0);
    const interrupted = this.timeoutKind !== null || this.cancelSignal !== null;
    const xcpu = signal === 'SIGXCPU' || (signal === null && exitCode === 128 + constants.signals.SIGXCPU);
    this.settle({
      result: {
        stdout: out.text,
        stderr: err.text,
        exit_code: exitCode,
        signal,
        duration_ms: Math.round(performance.now() - this.t0),
        timed_out: this.timeoutKind !== null,
        timeout: this.timeoutKind,
        cancelled: this.cancelSignal !== null,
        cancel_signal: this.cancelSignal,
        killed_by: this.timeoutKind ? 'timeout' : this.cancelSignal ? 'cancel' : xcpu && this.spec.cpuLimited ? 'cpu_limit' : null,
        cpu_time_ms: null,
        memory_peak_bytes: null,
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        stdout_bytes: out.bytes,
        stderr_bytes: err.bytes,
        ...keptParts(out, err),
      },
      state: report && !interrupted ? report.state : null,
    });
  }
}

/** The result fields only `output_keep` "tail" and "head_tail" add. */
function keptParts(out: CapturedText, err: CapturedText): Partial<ExecResult> {
  const parts: Partial<ExecResult> = {};
  if (out.tail !== undefined) parts.stdout_tail = out.tail;
  if (err.tail !== undefined) parts.stderr_tail = err.tail;
  if (out.omitted !== undefined) parts.stdout_omitted_bytes = out.omitted;
  if (err.omitted !== undefined) parts.stderr_omitted_bytes = err.omitted;
  return parts;
}

/**
 * The program and arguments: a POSIX shell runs the wrapped command itself;
 * any other shell is started by /bin/sh after the prologue, without carry-over.
 */
function invocation(spec: RunSpec): { file: string; args: string[] } {
  const prologue = spec.prologue ?? '';
  if (spec.stateMode !== null) return { file: spec.shell, args: ['-c', wrapCommand(spec.command, prologue, spec.stateMode)] };
  if (!prologue) return { file: spec.shell, args: ['-c', spec.command] };
  return { file: '/bin/sh', args: ['-c', `${prologue}exec "$0" -c "$1"`, spec.shell, spec.command] };
}

async function describeSpawnError(err: NodeJS.ErrnoException, spec: RunSpec): Promise<TrlError> {
  const code = err.code ?? 'unknown error';
  if (code === 'EAGAIN' || code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM') {
    return new TrlError(ErrorCode.RESOURCE_PRESSURE, `cannot start the command: the system is out of processes, memory or file descriptors (${code}); retry later`);
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const cwdOk = await stat(spec.cwd).then((s) => s.isDirectory(), () => false);
    if (!cwdOk) {
      return new TrlError(
        ErrorCode.COMMAND_FAILED,
        `working directory ${spec.cwd} no longer exists; the session cannot run commands there (destroy it and create a new one)`,
      );
    }
    return new TrlError(ErrorCode.COMMAND_FAILED, `shell ${spec.shell} no longer exists; create a session with an existing shell`);
  }
  if (code === 'EACCES') {
    return new TrlError(ErrorCode.COMMAND_FAILED, `shell ${spec.shell} or working directory ${spec.cwd} is not accessible to the daemon's user (EACCES)`);
  }
  return new TrlError(ErrorCode.COMMAND_FAILED, `cannot start ${spec.shell}: ${code}`);
}
