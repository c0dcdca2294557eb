import { createConnection, type Socket } from 'node:net';
import { defaultSocketPath } from './socket-path';
import { LineSplitter } from '../protocol/ndjson';
import type { ExecResult, ExecRunRequest, SessionCreateRequest } from '../protocol/messages';
import {
  isStreamEvent,
  outputBytes,
  type ExecCancelled,
  type ExecStreamRequest,
  type ExecStreamStarted,
  type ExecSummary,
  type ExitEvent,
  type GapEvent,
  type StreamEvent,
  type StreamName,
  type WaitingInputEvent,
} from '../protocol/events';

export type {
  ExecCancelled,
  ExecStreamRequest,
  ExecStreamStarted,
  ExecSummary,
  ExitEvent,
  GapEvent,
  OutputEvent,
  StreamEvent,
  StreamName,
  WaitingInputEvent,
} from '../protocol/events';
export { isStreamEvent, outputBytes } from '../protocol/events';
export type { ExecResult, ExecRunRequest, SessionCreateRequest, OutputKeep } from '../protocol/messages';

/** An `ok: false` answer: the daemon's code and message. */
export class TrlRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TrlRequestError';
  }
}

export { defaultSocketPath } from './socket-path';

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  /** Runs synchronously when the success response is read, before any later line: streams subscribe here. */
  onData?: (data: unknown) => void;
}

/** A followed exec: the daemon's answer and its events, in order, ending with `exit`. */
export interface ExecStream<D = ExecStreamStarted> {
  execId: string;
  /** The response's data (exec.stream: exec_id, session_id, pid; exec.attach: the exec's summary and state). */
  response: D;
  /**
   * Output, gap and waiting_input events, then one exit event, then the end.
   * If the connection closes first, iteration throws: the command's fate is
   * then unknown (it may still run) and `exec.attach` on a new connection tells.
   * Breaking out of the loop stops delivering this exec's events (the daemon
   * keeps sending them until the connection closes; they are dropped).
   */
  events: AsyncIterable<StreamEvent>;
}

export type ExecAttached = ExecSummary;

/** Per-stream byte offsets to resume from. */
export type Offsets = Partial<Record<StreamName, number>>;

/** Events buffered (by approximate size) before the client stops reading its socket. */
const HIGH_WATER = 8 * 1024 * 1024;
const LOW_WATER = 2 * 1024 * 1024;

const eventSize = (ev: StreamEvent): number => (ev.event === 'output' ? ev.data.length : 0) + 128;

/** The single-consumer queue behind one ExecStream's `events`. */
class EventQueue implements AsyncIterableIterator<StreamEvent> {
  private readonly buf: StreamEvent[] = [];
  private head = 0;
  private waiter: { resolve: (r: IteratorResult<StreamEvent>) => void; reject: (e: Error) => void } | null = null;
  private ended = false;
  private error: Error | null = null;

  constructor(
    readonly execId: string,
    private readonly owner: { buffered(delta: number): void; unsubscribe(q: EventQueue): void },
  ) {}

  /** Not yet at its exit event nor failed. */
  get open(): boolean {
    return !this.ended && this.error === null;
  }

  push(ev: StreamEvent): void {
    if (!this.open) return;
    if (ev.event === 'exit') {
      this.ended = true;
      this.owner.unsubscribe(this);
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: ev, done: false });
      return;
    }
    this.buf.push(ev);
    this.owner.buffered(eventSize(ev));
  }

  fail(err: Error): void {
    if (!this.open) return;
    this.error = err;
    this.owner.unsubscribe(this);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  next(): Promise<IteratorResult<StreamEvent>> {
    if (this.head < this.buf.length) {
      const ev = this.buf[this.head]!;
      this.buf[this.head++] = undefined as unknown as StreamEvent;
      if (this.head > 1024 && this.head * 2 > this.buf.length) {
        this.buf.splice(0, this.head);
        this.head = 0;
      }
      this.owner.buffered(-eventSize(ev));
      return Promise.resolve({ value: ev, done: false });
    }
    if (this.error) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('stream events are being read by two consumers at once'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The consumer stopped early: drop what is buffered and whatever comes later. */
  return(): Promise<IteratorResult<StreamEvent>> {
    let dropped = 0;
    for (let i = this.head; i < this.buf.length; i++) dropped += eventSize(this.buf[i]!);
    this.buf.length = 0;
    this.head = 0;
    if (dropped) this.owner.buffered(-dropped);
    if (this.open) {
      this.ended = true;
      this.owner.unsubscribe(this);
    }
    if (this.waiter) {
      this.waiter.resolve({ value: undefined, done: true });
      this.waiter = null;
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StreamEvent> {
    return this;
  }
}

/**
 * A kept connection to trld; requests may overlap and are matched by id.
 * Stream events (exec.stream, exec.attach) are routed by exec id to that
 * exec's `events` iterator. One reader per exec per connection.
 *
 * Flow control: when more than a few MiB of events wait unread in the
 * iterators, the client stops reading its socket until they are consumed,
 * so the daemon's retention window (not this process) absorbs a slow
 * consumer, and the consumer learns of what it missed through gap events.
 * While that lasts, responses on this connection wait too: read your events,
 * or use a second connection for requests.
 */
export class TrlClient {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly streams = new Map<string, EventQueue>();
  /** Exec ids with an exec.attach in flight on this connection. */
  private readonly attaching = new Set<string>();
  private closedError: Error | null = null;
  private bufferedBytes = 0;
  private paused = false;

  private constructor(private readonly socket: Socket) {
    const splitter = new LineSplitter(
      1024 * 1024 * 1024,
      (line) => this.handle(line),
      () => {},
    );
    socket.on('data', (c: Buffer) => splitter.push(c));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('connection to trld closed')));
  }

  static connect(path: string = defaultSocketPath()): Promise<TrlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TrlClient(socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        reject(new Error(`cannot connect to trld at ${path}: ${err.code ?? err.message}; is the daemon running?`, { cause: err }));
      });
    });
  }

  /** Sends one request; resolves with `data`, rejects with TrlRequestError on `ok: false`. */
  request<T = Record<string, unknown>>(method: string, params: object = {}): Promise<T> {
    return this.send<T>(method, params);
  }

  /**
   * exec.run: runs a command and waits for its result. `output_keep` says
   * which part of a stream over the cap the result keeps (default its head).
   */
  run(params: ExecRunRequest): Promise<ExecResult> {
    return this.send<ExecResult>('exec.run', params);
  }

  /**
   * exec.stream: starts a command and follows it. Resolves once the daemon
   * answered (the command runs); its output comes through `events`.
   */
  async stream(params: ExecStreamRequest): Promise<ExecStream<ExecStreamStarted>> {
    let queue: EventQueue | null = null;
    const response = await this.send<ExecStreamStarted>('exec.stream', params, (data) => {
      queue = this.subscribe((data as ExecStreamStarted).exec_id);
    });
    return { execId: response.exec_id, response, events: queue! };
  }

  /**
   * exec.attach: follows an exec started elsewhere (or before a disconnect):
   * replays its retained output from `offsets` (default 0 on both streams),
   * reporting a gap for anything no longer retained, then continues live
   * until the exit event. After exit it replays and ends with the real status.
   */
  async attach(execId: string, offsets?: Offsets): Promise<ExecStream<ExecAttached & { state: string }>> {
    if (this.streams.has(execId) || this.attaching.has(execId)) {
      throw new Error(`exec ${execId} is already followed on this connection; use another connection for a second reader`);
    }
    this.attaching.add(execId);
    let queue: EventQueue | null = null;
    try {
      const response = await this.send<ExecAttached & { state: string }>('exec.attach', { exec_id: execId, ...(offsets ? { offsets } : {}) }, () => {
        this.attaching.delete(execId);
        queue = this.subscribe(execId);
      });
      return { execId, response, events: queue! };
    } finally {
      this.attaching.delete(execId);
    }
  }

  /** exec.cancel by exec id (or `{session_id}`); without a signal: TERM → grace → KILL. */
  cancel(ref: string | { exec_id?: string; session_id?: string }, signal?: string): Promise<ExecCancelled> {
    const target = typeof ref === 'string' ? { exec_id: ref } : ref;
    return this.send<ExecCancelled>('exec.cancel', { ...target, ...(signal ? { signal } : {}) });
  }

  /**
   * session.create. With `temporary: true` the daemon destroys the session
   * when this connection closes, however this process ends.
   */
  createSession(params: SessionCreateRequest = {}): Promise<{ session_id: string } & Record<string, unknown>> {
    return this.send('session.create', params);
  }

  /** exec.input: writes `data` to the command's stdin; `eof` closes it afterwards. */
  input(execId: string, data: string, eof = false): Promise<{ exec_id: string; bytes: number; eof: boolean }> {
    return this.send('exec.input', { exec_id: execId, data, eof });
  }

  /** exec.list: running and recently finished execs (of one session, or all). */
  async execs(sessionId?: string): Promise<ExecSummary[]> {
    const r = await this.send<{ execs: ExecSummary[] }>('exec.list', sessionId ? { session_id: sessionId } : {});
    return r.execs;
  }

  close(): void {
    this.socket.end();
  }

  /** Runs `fn` once the connection is closed (at once if it already is). */
  onClose(fn: () => void): void {
    if (this.socket.destroyed) fn();
    else this.socket.once('close', () => fn());
  }

  /** Closes at once, without waiting for anything (a client that vanishes). */
  destroy(): void {
    this.socket.destroy();
  }

  private send<T>(method: string, params: object, onData?: (data: unknown) => void): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, ...(onData ? { onData } : {}) });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  private subscribe(execId: string): EventQueue {
    const queue = new EventQueue(execId, {
      buffered: (delta) => this.buffered(delta),
      unsubscribe: (q) => {
        if (this.streams.get(q.execId) === q) this.streams.delete(q.execId);
      },
    });
    this.streams.get(execId)?.fail(new Error(`exec ${execId} is now followed by a newer reader on this connection`));
    this.streams.set(execId, queue);
    return queue;
  }

  private buffered(delta: number): void {
    this.bufferedBytes += delta;
    if (!this.paused && this.bufferedBytes > HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
    } else if (this.paused && this.bufferedBytes < LOW_WATER) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private handle(line: string): void {
    let msg: { id?: unknown; ok?: boolean; data?: unknown; error?: { code: string; message: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (isStreamEvent(msg)) {
      this.streams.get(msg.exec_id)?.push(msg);
      return;
    }
    const waiter = this.pending.get(String(msg.id));
    if (!waiter) return;
    this.pending.delete(String(msg.id));
    if (msg.ok) {
      waiter.onData?.(msg.data);
      waiter.resolve(msg.data);
    } else waiter.reject(new TrlRequestError(msg.error?.code ?? 'UNKNOWN', msg.error?.message ?? 'request failed'));
  }

  private failAll(err: Error): void {
    this.closedError ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const q of [...this.streams.values()]) q.fail(new Error(`${err.message} before exec ${q.execId} ended; its command may still run (exec.attach tells)`));
    this.streams.clear();
  }
}

/** Everything one reader got from an exec, put back together. */
export interface CollectedStream {
  stdout: Buffer;
  stderr: Buffer;
  /** Null if the events ended without an exit event (never, unless the iteration was cut short). */
  exit: ExitEvent | null;
  gaps: GapEvent[];
  waits: WaitingInputEvent[];
  events: StreamEvent[];
}

/**
 * Reads an exec's events to the end and reassembles each stream from the
 * offsets: a gap leaves its bytes out, and output or a gap at an unexpected
 * offset throws (it would mean bytes lost or repeated without notice).
 * `from`: the offsets the reader asked for (default 0). `onEvent` sees every event as
 * it arrives. Keeps everything in memory: for tests and small outputs.
 */
export async function collectStream(
  events: AsyncIterable<StreamEvent>,
  opts: { from?: Offsets; onEvent?: (ev: StreamEvent) => void } = {},
): Promise<CollectedStream> {
  const onEvent = opts.onEvent;
  const parts: Record<StreamName, Buffer[]> = { stdout: [], stderr: [] };
  const next: Record<StreamName, number> = { stdout: opts.from?.stdout ?? 0, stderr: opts.from?.stderr ?? 0 };
  const out: CollectedStream = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit: null, gaps: [], waits: [], events: [] };
  for await (const ev of events) {
    out.events.push(ev);
    onEvent?.(ev);
    if (ev.event === 'output') {
      const expected = next[ev.stream];
      if (ev.offset !== expected) {
        throw new Error(`${ev.stream} output at offset ${ev.offset}, expected ${expected}`);
      }
      const bytes = outputBytes(ev);
      parts[ev.stream].push(bytes);
      next[ev.stream] = ev.offset + bytes.length;
    } else if (ev.event === 'gap') {
      if (ev.from !== next[ev.stream]) throw new Error(`${ev.stream} gap from ${ev.from}, expected ${next[ev.stream]}`);
      out.gaps.push(ev);
      next[ev.stream] = ev.to;
    } else if (ev.event === 'waiting_input') {
      out.waits.push(ev);
    } else {
      out.exit = ev;
    }
  }
  out.stdout = Buffer.concat(parts.stdout);
  out.stderr = Buffer.concat(parts.stderr);
  return out;
}
