import type { StreamName } from '../protocol/events';
import type { CapturedText } from './capture';
import { InputProbe, stdinLink } from './input-wait';
import type { CommandOutcome } from './outcome';
import { OutputBuffer } from './output-buffer';
import type { TerminalScreen } from './pty/screen';
import type { CommandRun } from './run';

/** Silence after which a command with open stdin is checked for a pending read. */
const INPUT_PROBE_MS = 300;
/** A probe that finds nothing waits twice as long next time, up to this; output or input resets it. */
const INPUT_PROBE_MAX_MS = 5000;

/** Someone following an exec (exec.stream, exec.attach): told when there is news, reads at its own pace. */
export interface Follower {
  /** New output, or the end: take what is due. */
  pump(): void;
  /** The command has been silent for `silentMs` and `pid` is blocked reading its stdin. */
  waitingInput(pid: number, silentMs: number): void;
  /** This follower started the exec with output_keep: its exit carries the collected text. */
  readonly withText: boolean;
}

/**
 * An exec as clients see it: its retained output, its followers and, after
 * exit, its outcome, kept for late attachers.
 */
export class ExecRecord {
  readonly output: OutputBuffer;
  /** The running command; null before it starts and once it has finished (its settled `done` holds the result's text). */
  run: CommandRun | null = null;
  /** A terminal command's screen, kept (as text once the command ends) while the record is retained. */
  screen: TerminalScreen | null = null;
  /** The process id and start time, kept after the run is let go (exec.list shows them). */
  pid: number | null = null;
  startedAt: Date | null = null;
  /** The outcome without its text: that went to its caller and must not stay for minutes. */
  outcome: CommandOutcome | null = null;
  finishedAt: number | null = null;
  /** exec.stream with output_keep: its caller's exit carries the collected text, held until sent. */
  textForStarter = false;
  private text: { stdout: CapturedText; stderr: CapturedText } | null = null;
  private readonly followers = new Set<Follower>();
  private outputHolds = 0;
  private probe: NodeJS.Timeout | undefined;
  private probeDelay = INPUT_PROBE_MS / 2;
  private probeTick: (() => void) | null = null;
  private reportedWait = false;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    readonly command: string,
    windowBytes: number,
  ) {
    this.output = new OutputBuffer(windowBytes, () => {
      for (const f of this.followers) f.pump();
    });
  }

  /** Called once the process runs. */
  started(run: CommandRun, probeInput: boolean): void {
    this.run = run;
    this.screen = run.screen;
    this.pid = run.pid;
    this.startedAt = run.startedAt;
    if (probeInput) this.startInputProbe(run);
  }

  /** The chunk sink the run feeds. */
  readonly push = (stream: StreamName, chunk: Buffer): void => {
    this.reportedWait = false;
    if (this.probeDelay > INPUT_PROBE_MS / 2) this.resetProbe();
    this.output.push(stream, chunk);
  };

  /** Input went in: a later pending read is news again. */
  inputSent(): void {
    this.reportedWait = false;
    this.resetProbe();
  }

  finish(outcome: CommandOutcome): void {
    clearTimeout(this.probe);
    this.output.flush();
    if (this.textForStarter) this.text = { stdout: outcome.stdout, stderr: outcome.stderr };
    const textless = (c: CapturedText): CapturedText => ({ text: '', truncated: c.truncated, bytes: c.bytes });
    this.outcome = { ...outcome, stdout: textless(outcome.stdout), stderr: textless(outcome.stderr) };
    this.finishedAt = Date.now();
    this.run = null;
    this.probeTick = null;
    for (const f of [...this.followers]) f.pump();
  }

  /** The collected text, for the follower that started the exec with output_keep. */
  textFor(follower: Follower): { stdout: CapturedText; stderr: CapturedText } | null {
    return follower.withText ? this.text : null;
  }

  /** What this exec keeps once finished: its output windows, its command text (listed by exec.list) and a terminal's last screen. */
  get retainedBytes(): number {
    return this.output.retainedBytes + this.command.length * 2 + (this.screen?.retainedBytes ?? 0);
  }

  get running(): boolean {
    return this.outcome === null;
  }

  follow(f: Follower): void {
    this.followers.add(f);
  }

  unfollow(f: Follower): void {
    this.followers.delete(f);
    // The starter's follower is gone (exit sent, or it disconnected): nobody else gets the text.
    if (f.withText) {
      this.textForStarter = false;
      this.text = null;
    }
  }

  /** A lossless reader fell behind (+1) or caught up (-1): the command's output is not read meanwhile. */
  holdOutput(delta: 1 | -1): void {
    this.outputHolds += delta;
    if (this.outputHolds === 1 && delta === 1) this.run?.pauseOutput();
    else if (this.outputHolds === 0) this.run?.resumeOutput();
  }

  private startInputProbe(run: CommandRun): void {
    const pipe = stdinLink(run.pid);
    if (pipe === null) return;
    const cgroup = run.tree.cgroup;
    const probe = new InputProbe(run.pid, pipe, cgroup ? () => cgroup.pids() : undefined);
    const tick = (): void => {
      if (!this.running || !run.stdinOpen) return;
      if (!this.reportedWait && run.silentForMs >= INPUT_PROBE_MS) {
        const pid = probe.check();
        if (pid !== null) {
          this.reportedWait = true;
          const silentMs = Math.round(run.silentForMs);
          for (const f of this.followers) f.waitingInput(pid, silentMs);
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
