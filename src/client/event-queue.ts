import { outputDataLength, type StreamEvent } from '../protocol/events';

/** Events buffered (by approximate size) before the client stops reading its socket. */
export const HIGH_WATER = 8 * 1024 * 1024;
export const LOW_WATER = 2 * 1024 * 1024;

const eventSize = (ev: StreamEvent): number => (ev.event === 'output' ? outputDataLength(ev) : 0) + 128;

/** The single-consumer queue behind one ExecStream's `events`. */
export class EventQueue implements AsyncIterableIterator<StreamEvent> {
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
