import type { ServerResponse } from 'node:http';
import type { EventSink } from '../event-sink';
import { encodeEvent, writeLine } from '../../protocol/encode';
import { encodeLine } from '../../protocol/ndjson';
import { SEND_HIGH_WATER } from '../outbox';
import { Waiters } from '../waiters';

/**
 * The EventSink of one streaming HTTP response: chunked NDJSON, the response
 * envelope first. The response ends once no watcher holds it (after `exit`).
 * `send` returns false while the response's buffer is full; 'drain' resumes.
 */
export class ResponseSink implements EventSink {
  /** The request itself holds the response until its answer is written. */
  private holds = 1;
  private readonly drained = new Waiters();
  private readonly closes = new Waiters();
  private shut = false;
  private started = false;

  constructor(private readonly res: ServerResponse) {
    res.on('drain', () => this.drained.fire());
    res.on('close', () => {
      // 'close' after end() is a finished response; before, the client went away.
      this.shut = true;
      this.drained.clear();
      this.closes.fire();
    });
  }

  get closed(): boolean {
    return this.shut || this.res.destroyed || this.res.writableEnded;
  }

  get ready(): boolean {
    return !this.closed && this.started && this.res.writableLength < SEND_HIGH_WATER;
  }

  /** Writes the head and the answer's line, starts the request's events, and lets the response end when they do. */
  answer(response: object, events: () => void): void {
    if (!this.closed) {
      this.started = true;
      this.res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
      this.res.write(encodeLine(response));
    }
    events();
    this.release();
  }

  retain(): void {
    this.holds++;
  }

  release(): void {
    this.holds--;
    if (this.holds === 0 && this.started && !this.closed) this.res.end();
  }

  send(event: object, written?: () => void): boolean {
    if (this.closed || !this.started) {
      written?.();
      return false;
    }
    return writeLine(this.res, encodeEvent(event), written);
  }

  onDrain(listener: () => void): void {
    if (!this.closed) this.drained.add(listener);
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closes.add(listener);
  }
}
