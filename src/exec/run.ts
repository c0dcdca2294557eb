import { performance } from 'node:perf_hooks';
import { memoryTrim } from '../system/memory-trim';
import type { StreamCapture } from './capture';
import { captureFor } from './capture-tail';
import type { CommandContainer } from './containment';
import { buildOutcome, type CommandOutcome } from './outcome';
import { OutputPause } from './output-pause';
import type { TerminalSize } from './pty/master';
import { TerminalScreen } from './pty/screen';
import type { RunSpec } from './run-spec';
import type { ShellState } from './shell-state';
import type { SpawnedProcess } from './spawn';
import { StatePipe } from './state-pipe';
import { StopRecord } from './stop-record';
import { Timeouts } from './timeouts';
import type { ProcessTree } from './terminate';

/** How a run ended: its outcome, and the shell's final cwd and env (null unless it ended normally through the wrapper). */
export interface RunEnd {
  outcome: CommandOutcome;
  state: ShellState | null;
}

/** After the shell exits, how long its background children may keep our stdout/stderr open before we stop reading. */
const DRAIN_AFTER_EXIT_MS = 100;
/**
 * A terminal's output can be still flowing then: its emulator paces the
 * reading, and a resume may come just before the drain check. It is read on
 * while bytes move, for at most this long after the exit.
 */
const TERMINAL_DRAIN_MAX_MS = 2000;

/** One command from spawn to finish: capture, timeouts, input, stops, and its outcome, built once. */
export class CommandRun {
  readonly pid: number;
  readonly tree: ProcessTree;
  readonly done: Promise<RunEnd>;
  readonly startedAt = new Date();
  readonly stops: StopRecord;
  /** A command on a terminal: its screen, kept while the exec is retained. */
  readonly screen: TerminalScreen | null;

  private readonly stdout: StreamCapture;
  private readonly stderr: StreamCapture;
  private readonly state: StatePipe;
  private openStreams = 3;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private timeouts!: Timeouts;
  private drainTimer: NodeJS.Timeout | undefined;
  private settle!: (end: RunEnd) => void;
  private finished = false;
  private readonly output: OutputPause;
  private lastOutputAt: number;
  /** Who holds the output: a lossless reader behind, the screen's emulator behind. */
  private readerHeld = false;
  private screenHeld = false;
  /** Last output read or reading resumed (terminals: see TERMINAL_DRAIN_MAX_MS). */
  private outputMovedAt = 0;
  private exitAt = 0;

  /** Watches a spawned command (see startCommand) to its end. */
  constructor(
    private readonly spec: RunSpec,
    private readonly child: SpawnedProcess,
    private readonly container: CommandContainer | null,
    /** When the spawn was asked for: the duration counts from here. */
    private readonly t0: number,
  ) {
    this.lastOutputAt = t0;
    this.pid = child.pid;
    const marker = Buffer.from(`TRL_EXEC_ID=${spec.execId}`);
    this.tree = { pid: child.pid, pgids: [child.pid], marker, cgroup: container ?? undefined, leader: child };
    this.stops = new StopRecord(this.tree, spec.graceMs);
    this.stdout = captureFor(spec.outputKeep, spec.collectBytes);
    this.stderr = captureFor(spec.outputKeep, spec.collectBytes);
    this.output = new OutputPause([child.stdout, child.stderr]);
    this.state = new StatePipe(child.state);
    this.screen = spec.pty ? new TerminalScreen(spec.pty, spec.pty.scrollback, (stop) => this.holdForScreen(stop)) : null;
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.wire();
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
    this.readerHeld = true;
    this.output.pause();
    this.timeouts.stopIdle();
  }

  resumeOutput(): void {
    if (this.finished) return;
    this.readerHeld = false;
    if (this.screenHeld) return;
    this.output.resume();
    if (this.exit === null) this.timeouts.startIdle();
  }

  /** Writes to the command's stdin; `eof` closes it afterwards. */
  writeInput(data: string, eof: boolean): void {
    if (data.length > 0) this.child.stdin.write(data);
    if (eof) this.child.stdin.end();
  }

  /** A command on a terminal: sets its window size (the foreground group gets SIGWINCH). False when it has none or it has ended. */
  resize(size: TerminalSize): boolean {
    if (this.finished || !this.child.terminal?.resize(size)) return false;
    this.screen?.resize(size);
    return true;
  }

  get onTerminal(): boolean {
    return this.child.terminal !== undefined;
  }

  /** The emulator is behind: the terminal is not read meanwhile (the idle timeout keeps running: the command is not silent). */
  private holdForScreen(stop: boolean): void {
    this.screenHeld = stop;
    if (this.finished) return;
    if (stop) this.output.pause();
    else if (!this.readerHeld) {
      this.outputMovedAt = performance.now();
      this.output.resume();
    }
  }

  /** Stops the command's whole tree: TERM → grace → KILL, or the one signal given. */
  cancel(signal?: NodeJS.Signals): Promise<void> {
    return this.finished ? Promise.resolve() : this.stops.cancel(signal);
  }

  private wire(): void {
    const { child, spec } = this;
    child.stdout.on('data', (c: Buffer) => this.onData('stdout', this.stdout, c));
    child.stderr.on('data', (c: Buffer) => this.onData('stderr', this.stderr, c));
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

    this.timeouts = new Timeouts(spec.timeoutMs, spec.idleTimeoutMs, (kind) => {
      if (!this.finished) this.stops.timeOut(kind);
    });
    child.onExit((code, signal) => {
      this.exit = { code, signal };
      this.exitAt = performance.now();
      this.timeouts.stopIdle();
      if (this.openStreams > 0) {
        this.drainTimer = setTimeout(() => this.abandonStreams(), DRAIN_AFTER_EXIT_MS);
      }
      this.maybeFinish();
    });
  }

  private onData(stream: 'stdout' | 'stderr', capture: StreamCapture, chunk: Buffer): void {
    this.lastOutputAt = this.outputMovedAt = performance.now();
    this.timeouts.outputSeen();
    memoryTrim.outputRead(chunk.length);
    capture.push(chunk);
    this.screen?.write(chunk);
    this.spec.onOutput(stream, chunk);
  }

  /** Background children still hold the pipes: stop reading, keep what arrived. */
  private abandonStreams(): void {
    if (this.output.paused && !this.stops.any) {
      // A lossless reader is behind: what is still in the pipes is owed to it; wait for it to catch up.
      // A reader may hold output, never the end: once the command is timed out, cancelled or
      // destroyed, the pipes are let go and the exec ends.
      this.drainTimer = setTimeout(() => this.abandonStreams(), DRAIN_AFTER_EXIT_MS);
      return;
    }
    const now = performance.now();
    if (this.screen && !this.stops.any && now - this.outputMovedAt < DRAIN_AFTER_EXIT_MS && now - this.exitAt < TERMINAL_DRAIN_MAX_MS) {
      this.drainTimer = setTimeout(() => this.abandonStreams(), DRAIN_AFTER_EXIT_MS);
      return;
    }
    for (const s of [this.child.stdout, this.child.stderr, this.child.state]) s.destroy();
  }

  private maybeFinish(): void {
    if (this.finished || this.exit === null || this.openStreams > 0) return;
    // A timeout, cancel or destroy is answered once the whole tree is gone, not when the shell is.
    if (!this.stops.settled) return void this.stops.whenSettled(() => this.maybeFinish());
    this.finished = true;
    memoryTrim.commandEnded();
    this.timeouts.clear();
    clearTimeout(this.drainTimer);
    this.child.stdin.destroy();
    void this.screen?.freeze();
    this.settle(this.end(this.exit));
  }

  private end(exit: { code: number | null; signal: NodeJS.Signals | null }): RunEnd {
    const report = this.state.report(this.spec.stateMode, exit, this.spec.envMemo);
    // What the kernel saw is read before the leaf goes.
    const usage = this.container?.usage() ?? null;
    this.container?.release();
    const outcome = buildOutcome({
      exit,
      reportedCode: report ? report.exitCode : null,
      durationMs: Math.round(performance.now() - this.t0),
      timeout: this.stops.timeout,
      cancelSignal: this.stops.cancelSignal,
      cpuLimited: this.spec.limits.cpu_s !== undefined,
      usage,
      stdout: this.stdout.finishBytes(),
      stderr: this.stderr.finishBytes(),
    });
    return { outcome, state: report && !this.stops.interrupted ? report.state : null };
  }
}
