import { isUtf8 } from 'node:buffer';
import type { ExecRecord, Follower } from '../exec/exec-record';
import type { Chunk } from '../exec/output-buffer';
import { readBuffers } from '../exec/read-buffers';
import type { GapEvent, OutputEvent, StreamName, WaitingInputEvent } from '../protocol/events';
import { JsonBytes, type WithBytes } from '../protocol/json-text';
import type { EventSink } from './event-sink';
import { exitEvent } from './to-wire';

/** How a watcher reads. */
export interface WatchOptions {
  /** Byte offsets to start from; 0 (the default) = from the beginning of what is retained. */
  from?: Partial<Record<StreamName, number>>;
  /** Never skip output: while this reader is behind, the command's output waits in its pipe. */
  lossless?: boolean;
  /** This reader started the exec with output_keep: its exit event carries the collected text. */
  withText?: boolean;
  /** Every output event as base64 (output_encoding "base64"), not only the chunks that are not UTF-8. */
  base64?: boolean;
}

/** Starts following an exec for a client. */
export function watch(record: ExecRecord, sink: EventSink, opts: WatchOptions = {}): Watcher {
  const w = new Watcher(record, sink, opts);
  record.follow(w);
  sink.onClose(() => w.stop());
  return w;
}

/**
 * One reader of one exec's output, on the wire. It pulls from the exec's output buffer at
 * its own pace: while its sink is full it sends nothing and the command is
 * not slowed; when the sink drains it resumes where it stopped, reporting a
 * gap for any bytes that left the window in the meantime.
 */
export class Watcher implements Follower {
  private lastSeq = 0;
  private readonly next: Record<StreamName, number>;
  private blocked = false;
  private done = false;
  private readonly lossless: boolean;
  private readonly base64: boolean;
  readonly withText: boolean;

  constructor(
    private readonly exec: ExecRecord,
    private readonly sink: EventSink,
    opts: WatchOptions,
  ) {
    this.next = { stdout: opts.from?.stdout ?? 0, stderr: opts.from?.stderr ?? 0 };
    this.lossless = opts.lossless ?? false;
    this.withText = opts.withText ?? false;
    this.base64 = opts.base64 ?? false;
    sink.retain();
  }

  /**
   * Sends everything due: retained output from where this watcher stands, then
   * the exit event once the command has ended. Nothing is written while the
   * sink is not ready (its buffer full, or an answer being written): the
   * watcher waits for 'drain' and resumes where it stood.
   */
  pump = (): void => {
    if (this.blocked || this.done) return;
    if (this.sink.closed) return this.stop();
    for (const chunk of this.exec.output.since(this.lastSeq)) {
      if (!this.sink.ready) return this.block();
      this.lastSeq = chunk.seq;
      if (!this.sendChunk(chunk)) return this.block();
    }
    const outcome = this.exec.outcome;
    if (outcome === null) return;
    if (!this.sink.ready) return this.block();
    const exit = exitEvent(this.exec, outcome, this.exec.textFor(this));
    for (const stream of ['stdout', 'stderr'] as const) {
      const total = this.exec.output.totalBytes(stream);
      if (this.next[stream] < total) this.sendGap(stream, total);
    }
    this.sink.send(exit);
    this.stop();
  };

  private block(): void {
    this.blocked = true;
    if (this.lossless) this.exec.holdOutput(1);
    this.sink.onDrain(() => {
      this.blocked = false;
      if (this.lossless && !this.done) this.exec.holdOutput(-1);
      this.pump();
    });
  }

  /** Advisory: skips a watcher that is behind. */
  waitingInput(pid: number, silentMs: number): void {
    const event = { event: 'waiting_input', exec_id: this.exec.id, pid, silent_ms: silentMs } satisfies WaitingInputEvent;
    if (!this.blocked && !this.done && this.sink.ready) this.sink.send(event);
  }

  stop(): void {
    if (this.done) return;
    this.done = true;
    if (this.blocked && this.lossless) this.exec.holdOutput(-1);
    this.exec.unfollow(this);
    this.sink.release();
  }

  private sendChunk(chunk: Chunk): boolean {
    const stream = chunk.stream;
    const end = chunk.offset + chunk.data.length;
    const want = this.next[stream];
    if (end <= want) return true;
    if (chunk.offset > want) this.sendGap(stream, chunk.offset);
    const data = this.next[stream] > chunk.offset ? chunk.data.subarray(this.next[stream] - chunk.offset) : chunk.data;
    const offset = end - data.length;
    this.next[stream] = end;
    if (this.base64 || !isUtf8(data)) return this.sink.send(base64Event(this.exec.id, stream, offset, data));
    // The line refers to the chunk's bytes (no copy), and may wait in the transport's queue after the window drops the chunk.
    return this.sink.send({ event: 'output', exec_id: this.exec.id, stream, offset, data: new JsonBytes([data]) } satisfies WithBytes<OutputEvent>, readBuffers.hold(data));
  }

  private sendGap(stream: StreamName, to: number): void {
    const from = this.next[stream];
    this.next[stream] = to;
    this.sink.send({ event: 'gap', exec_id: this.exec.id, stream, from, to, missed_bytes: to - from } satisfies GapEvent);
  }
}

/** Output that is not UTF-8, or for a reader that asked for base64: as the bytes of the base64 text (no JSON.stringify of it, no UTF-8 encoding of a string), `encoding` saying so. */
function base64Event(execId: string, stream: StreamName, offset: number, data: Buffer): WithBytes<OutputEvent> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += BASE64_PIECE) pieces.push(Buffer.from(data.toString('base64', i, Math.min(data.length, i + BASE64_PIECE)), 'latin1'));
  return { event: 'output', exec_id: execId, stream, offset, data: new JsonBytes(pieces, true), encoding: 'base64' };
}

/**
 * Bytes encoded as one piece of base64: a multiple of 3 (so the pieces join
 * into one base64 text) whose text, 87 380 characters, is below V8's
 * large-object size: a 128 KiB read's text as one string was a mapping of
 * its own, a page fault per page, made and unmapped at every event.
 */
const BASE64_PIECE = 3 * 21845;
