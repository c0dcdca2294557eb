import type { Socket } from 'node:net';
import { isStreamEvent } from '../protocol/events';
import { LineSplitter } from '../protocol/ndjson';
import { readOutputLine } from '../protocol/output-line';
import { EventQueue, HIGH_WATER, LOW_WATER } from './event-queue';

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

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  /** Runs synchronously when the success response is read, before any later line: streams subscribe here. */
  onData?: (data: unknown) => void;
}

/**
 * The wire side of a TrlClient: requests matched to their answers by id,
 * stream events routed by exec id to that exec's queue, and the socket paused
 * while too many events wait unread.
 */
export class ClientConnection {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly streams = new Map<string, EventQueue>();
  private closedError: Error | null = null;
  private bufferedBytes = 0;
  private paused = false;

  constructor(private readonly socket: Socket) {
    const splitter = new LineSplitter(
      1024 * 1024 * 1024,
      (line) => this.handle(line),
      () => {},
    );
    socket.on('data', (c: Buffer) => splitter.push(c));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('connection to trld closed')));
  }

  /** Whether this connection delivers `execId`'s events to a reader. */
  follows(execId: string): boolean {
    return this.streams.has(execId);
  }

  close(): void {
    this.socket.end();
  }

  onClose(fn: () => void): void {
    if (this.socket.destroyed) fn();
    else this.socket.once('close', () => fn());
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Sends one request; `onData` runs when its success answer is read, before any later line. */
  send<T>(method: string, params: object, onData?: (data: unknown) => void): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, ...(onData ? { onData } : {}) });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  /** Routes `execId`'s events to a new queue; an older reader of it on this connection fails. */
  subscribe(execId: string): EventQueue {
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

  /** A line that is no JSON is dropped: nothing waits for it that its id could name. */
  private handle(line: Buffer): void {
    let msg: { id?: unknown; ok?: boolean; data?: unknown; error?: { code: string; message: string } };
    try {
      // Output events, most of what a streaming reader gets, are read from their bytes.
      msg = readOutputLine(line) ?? JSON.parse(line.toString('utf8'));
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
