import { HeadTailCapture } from '../exec/capture-tail';
import { outputBytes, type ExitEvent, type StreamEvent, type StreamName } from '../client/client';

/** What one read_output returns of a stream. */
export interface StreamSince {
  head: string;
  tail: string;
  /** Bytes that arrived since the previous read. */
  bytes: number;
  /** Bytes trld no longer had when this server asked (it attached late, or fell behind). */
  missed: number;
}

/**
 * Output of one exec held between two read_output calls. At most
 * `PENDING_BYTES` per stream are kept (its first and last halves); the rest
 * is counted, so a command printing gigabytes costs this server nothing more.
 */
const PENDING_BYTES = 1024 * 1024;

/**
 * Follows one exec's events (from exec.stream or exec.attach) for the whole
 * MCP connection, so that output, the prompt hint and the exit are there when
 * the model asks.
 */
export class Follower {
  private pending: Record<StreamName, HeadTailCapture> = { stdout: new HeadTailCapture(PENDING_BYTES), stderr: new HeadTailCapture(PENDING_BYTES) };
  private missed: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  exit: ExitEvent | null = null;
  /** Why the events stopped without an exit (the connection to trld was lost). */
  lost: string | null = null;
  /** The pid reading stdin when the daemon last said the command waits for input; cleared by new output or input. */
  waitingPid: number | null = null;
  /** When output last arrived or input was last sent (ms since the epoch): read_screen waits for the screen to settle after it. */
  lastActivity = Date.now();
  private wake: (() => void) | null = null;
  readonly ended: Promise<void>;

  constructor(
    readonly execId: string,
    readonly command: string,
    events: AsyncIterable<StreamEvent>,
    /** The session started for this command alone (destroyed when it ends), if any. */
    readonly ownSession: string | null,
    /** Started on a terminal by this connection: a prompt is then answered with keys, and read on the screen. */
    readonly terminal = false,
  ) {
    this.ended = this.consume(events);
  }

  get running(): boolean {
    return this.exit === null && this.lost === null;
  }

  /** Something new is there to read (or the exec ended). */
  get hasNews(): boolean {
    return !this.running || this.pending.stdout.totalBytes > 0 || this.pending.stderr.totalBytes > 0 || this.waitingPid !== null;
  }

  /** Resolves when something arrives or after `ms`. */
  waitForNews(ms: number): Promise<void> {
    if (this.hasNews) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      this.wake = done;
    });
  }

  /** Something was done to the command (a resize) that should make it print: read_screen waits for that. */
  touched(): void {
    this.lastActivity = Date.now();
  }

  inputSent(): void {
    this.waitingPid = null;
    this.lastActivity = Date.now();
  }

  /** Everything since the previous take, per stream; resets the pending output. */
  take(): Record<StreamName, StreamSince> {
    const out = {} as Record<StreamName, StreamSince>;
    for (const s of ['stdout', 'stderr'] as const) {
      const r = this.pending[s].finish();
      out[s] = { head: r.text, tail: r.tail ?? '', bytes: r.bytes, missed: this.missed[s] };
      this.pending[s] = new HeadTailCapture(PENDING_BYTES);
      this.missed[s] = 0;
    }
    return out;
  }

  private async consume(events: AsyncIterable<StreamEvent>): Promise<void> {
    try {
      for await (const ev of events) {
        if (ev.event === 'output') {
          this.pending[ev.stream].push(outputBytes(ev));
          this.waitingPid = null;
          this.lastActivity = Date.now();
        } else if (ev.event === 'gap') {
          this.missed[ev.stream] += ev.missed_bytes;
        } else if (ev.event === 'waiting_input') {
          this.waitingPid = ev.pid;
        } else {
          this.exit = ev;
          this.waitingPid = null;
        }
        this.wake?.();
      }
    } catch (err) {
      this.lost = (err as Error).message;
    }
    if (this.exit === null && this.lost === null) this.lost = 'the event stream ended without an exit event';
    this.wake?.();
  }
}
