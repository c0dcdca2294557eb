import type { ExitEvent } from '../protocol/events';
import type { ExecResult } from '../protocol/messages';
import type { EventSink } from './event-sink';
import type { CommandRun } from './run';
import { InputProbe, stdinLink } from './input-wait';
import { OutputBuffer, type StreamName } from './output-buffer';
import { Watcher, type Watched } from './watcher';

/** Silence after which a command with open stdin is checked for a pending read. */
const INPUT_PROBE_MS = 300;
/** A probe that finds nothing waits twice as long next time, up to this; output or input resets it. */
const INPUT_PROBE_MAX_MS = 5000;

/**
 * An exec as clients see it: its retained output, its watchers (exec.stream,
 * exec.attach) and, after exit, its result, kept for late attachers.
 */
export class ExecRecord implements Watched {
  readonly log: OutputBuffer;
  execution: CommandRun | null = null;
  result: ExecResult | null = null;
  finishedAt: number | null = null;
  private readonly watchers = new Set<Watcher>();
  private probe: NodeJS.Timeout | undefined;
  /** exec.stream with output_keep: its caller's exit event carries the collected text, held until sent. */
  textForStarter = false;
  private text: Partial<ExecResult> | null = null;
  private probeDelay = INPUT_PROBE_MS / 2;
  private probeTick: (() => void) | null = null;
  private reportedWait = false;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    readonly command: string,
    windowBytes: number,
  ) {
    this.log = new OutputBuffer(windowBytes, () => {
      for (const w of this.watchers) w.pump();
    });
  }

  /** Called once the process runs. */
  started(execution: CommandRun, probeInput: boolean): void {
    this.execution = execution;
    if (probeInput) this.startInputProbe(execution);
  }

  /** The chunk sink the CommandRun feeds. */
  readonly push = (stream: StreamName, chunk: Buffer): void => {
    this.reportedWait = false;
    if (this.probeDelay > INPUT_PROBE_MS / 2) this.resetProbe();
    this.log.push(stream, chunk);
  };

  /** Input went in: a later pending read is news again. */
  inputSent(): void {
    this.reportedWait = false;
    this.resetProbe();
  }

  finish(result: ExecResult): void {
    clearTimeout(this.probe);
    this.log.flush();
    const { stdout, stderr, stdout_tail, stderr_tail, stdout_omitted_bytes, stderr_omitted_bytes, ...fields } = result;
    if (this.textForStarter) this.text = dropUndefined({ stdout, stderr, stdout_tail, stderr_tail, stdout_omitted_bytes, stderr_omitted_bytes });
    // Kept for exit events and listings only: the text went to exec.run's caller and must not stay for minutes.
    this.result = { ...fields, stdout: '', stderr: '' };
    this.finishedAt = Date.now();
    for (const w of [...this.watchers]) w.pump();
  }

  /** What this exec keeps once finished: its output windows and its command text (listed by exec.list). */
  get retainedBytes(): number {
    return this.log.retainedBytes + this.command.length * 2;
  }

  get running(): boolean {
    return this.result === null;
  }

  /** Starts following the exec from the given offsets (0 = from the beginning of what is retained). */
  watch(sink: EventSink, from?: Partial<Record<StreamName, number>>, lossless = false, withText = false): Watcher {
    const w = new Watcher(this, sink, from, lossless, withText);
    this.watchers.add(w);
    sink.onClose(() => w.stop());
    return w;
  }

  removeWatcher(w: Watcher): void {
    this.watchers.delete(w);
    // The starter's watcher is gone (exit sent, or it disconnected): nobody else gets the text.
    if (w.withText) {
      this.textForStarter = false;
      this.text = null;
    }
  }

  private outputHolds = 0;

  holdOutput(delta: 1 | -1): void {
    this.outputHolds += delta;
    if (this.outputHolds === 1 && delta === 1) this.execution?.pauseOutput();
    else if (this.outputHolds === 0) this.execution?.resumeOutput();
  }

  exitEvent(withText = false): object | null {
    if (this.result === null) return null;
    const { stdout: _text, stderr: _errText, ...fields } = this.result;
    // Streams carry no text in their result: "truncated" means the window no longer holds the stream's start.
    const event: ExitEvent = {
      event: 'exit',
      exec_id: this.id,
      ...fields,
      stdout_truncated: this.log.retainedFrom('stdout') > 0,
      stderr_truncated: this.log.retainedFrom('stderr') > 0,
      ...(withText && this.text ? this.text : {}),
    };
    return event;
  }

  summary() {
    const r = this.result;
    return {
      exec_id: this.id,
      session_id: this.sessionId,
      command: this.command,
      state: r === null ? 'running' : 'exited',
      pid: this.execution?.pid ?? null,
      started_at: this.execution?.startedAt.toISOString() ?? null,
      finished_at: this.finishedAt === null ? null : new Date(this.finishedAt).toISOString(),
      exit_code: r?.exit_code ?? null,
      timed_out: r?.timed_out ?? false,
      cancelled: r?.cancelled ?? false,
      stdout_bytes: this.log.totalBytes('stdout'),
      stderr_bytes: this.log.totalBytes('stderr'),
      retained: {
        stdout: { from: this.log.retainedFrom('stdout'), to: this.log.totalBytes('stdout') },
        stderr: { from: this.log.retainedFrom('stderr'), to: this.log.totalBytes('stderr') },
      },
    };
  }

  private startInputProbe(execution: CommandRun): void {
    const pipe = stdinLink(execution.pid);
    if (pipe === null) return;
    const cgroup = execution.tree.cgroup;
    const probe = new InputProbe(execution.pid, pipe, cgroup ? () => cgroup.pids() : undefined);
    const tick = (): void => {
      if (!this.running || !execution.stdinOpen) return;
      if (!this.reportedWait && execution.silentForMs >= INPUT_PROBE_MS) {
        const pid = probe.check();
        if (pid !== null) {
          this.reportedWait = true;
          const event = { event: 'waiting_input', exec_id: this.id, pid, silent_ms: Math.round(execution.silentForMs) };
          for (const w of this.watchers) w.notify(event);
        } else {
          this.probeDelay = Math.min(INPUT_PROBE_MAX_MS, this.probeDelay * 2);
        }
      }
      this.probe = setTimeout(tick, this.probeDelay);
      this.probe.unref();
    };
    this.probeTick = tick;
    this.probe = setTimeout(tick, this.probeDelay);
    this.probe.unref();
  }

  /** Output or input: the next probe comes soon again. */
  private resetProbe(): void {
    this.probeDelay = INPUT_PROBE_MS / 2;
    if (this.probeTick === null || !this.running) return;
    clearTimeout(this.probe);
    this.probe = setTimeout(this.probeTick, this.probeDelay);
    this.probe.unref();
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
