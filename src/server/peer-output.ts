import type { EventSink } from './event-sink';
import { encodeEvent, writeLine } from '../protocol/encode';
import type { Logger } from '../system/logger';
import { Keepalive } from './keepalive';
import { Outbox, SEND_HIGH_WATER } from './outbox';
import type { Transport } from './transport';
import { Waiters } from './waiters';

/** What the conversation hears back from its output. */
export interface OutputHooks {
  /** The transport drained or the outbox emptied: reading and dispatching may go on. */
  drained(): void;
  /** A stream let go of the connection: it may end now. */
  released(): void;
}

/**
 * What one conversation writes: answers through the outbox (whole lines, a
 * piece at a time, each request's events only after its answer), and stream
 * events in between, only while no answer is half-written and the transport
 * holds less than SEND_HIGH_WATER unsent. It is the EventSink of every stream
 * started on the connection.
 */
export class PeerOutput implements EventSink {
  private shut = false;
  private inputEnded = false;
  /** Watchers streaming to this connection; it stays open for them after the client stops sending. */
  private holds = 0;
  private readonly drained = new Waiters();
  private readonly closes = new Waiters();
  private readonly outbox: Outbox;
  private readonly keepalive: Keepalive;

  constructor(
    private readonly transport: Transport,
    logger: Logger,
    private readonly hooks: OutputHooks,
  ) {
    this.outbox = new Outbox(
      {
        write: (data, done) => transport.write(data, done),
        get writableLength() {
          return transport.writableLength;
        },
        get open() {
          return !transport.destroyed && transport.writable;
        },
        drained: () => new Promise<void>((resolve) => (this.shut ? resolve() : this.drained.add(resolve))),
        abort: () => transport.destroy(),
      },
      (err) => logger.error({ err }, 'an answer could not be written'),
      () => this.onDrained(),
    );
    this.keepalive = new Keepalive(() => {
      if (!this.shut && transport.writable && this.outbox.idle) transport.write('\n');
    });
  }

  /** Nothing is being written or waits to be: the conversation may end. */
  get idle(): boolean {
    return this.outbox.idle && this.holds === 0;
  }

  /** Waiting for the client to read: stop reading its requests meanwhile. */
  get blocked(): boolean {
    return this.outbox.blocked;
  }

  get closed(): boolean {
    return this.shut;
  }

  /** An event line may go out now: no answer is half-written and the transport is not full. */
  get ready(): boolean {
    return !this.shut && this.transport.writable && this.outbox.idle && this.transport.writableLength < SEND_HIGH_WATER;
  }

  /** Queues an answer; `events` start once its last byte is handed to the transport. */
  answer(message: object, events?: () => void): void {
    if (this.shut || this.transport.destroyed || !this.transport.writable) return;
    this.outbox.push(message, events);
  }

  send(event: object, written?: () => void): boolean {
    // Never inside an answer that is being written in pieces: the line would be corrupted.
    if (this.shut || this.transport.destroyed || !this.transport.writable || !this.outbox.idle) {
      written?.();
      return false;
    }
    writeLine(this.transport, encodeEvent(event), written);
    return this.transport.writableLength < SEND_HIGH_WATER;
  }

  retain(): void {
    this.holds++;
    this.updateKeepalive();
  }

  release(): void {
    this.holds--;
    this.updateKeepalive();
    this.hooks.released();
  }

  onDrain(listener: () => void): void {
    if (!this.shut) this.drained.add(listener);
  }

  onClose(listener: () => void): void {
    if (this.shut) listener();
    else this.closes.add(listener);
  }

  /** The client sent EOF: keep-alives go out while streams hold the connection. */
  endOfInput(): void {
    this.noMoreInput();
    this.updateKeepalive();
  }

  /** The daemon stopped reading (shutdown, an oversized line): keep-alives start with the next stream change. */
  noMoreInput(): void {
    this.inputEnded = true;
  }

  /** The transport drained or the outbox emptied: writers waiting may go on. */
  onDrained(): void {
    this.drained.fire();
    this.hooks.drained();
  }

  /** The transport closed: every waiter is let go, then every close listener runs. */
  onClosed(): void {
    this.shut = true;
    this.updateKeepalive();
    this.drained.fire();
    this.closes.fire();
  }

  private updateKeepalive(): void {
    this.keepalive.set(this.inputEnded && this.holds > 0 && !this.shut);
  }
}
