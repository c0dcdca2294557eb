import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../protocol/errors';
import { LineSplitter, encodeLine } from '../protocol/ndjson';
import type { Logger } from '../system/logger';
import type { EventSink } from './event-sink';
import { Outbox, SEND_HIGH_WATER } from './outbox';
import { failure, type RequestContext, type Router } from './router';
import { parseRequestLine } from './request-line';

export { idOf } from './request-line';

export interface ConnectionLimits {
  maxRequestBytes: number;
  maxInflight: number;
}

type Id = string | number;

/**
 * What a Connection needs of its transport: a net.Socket satisfies it; stdio
 * mode joins stdin and stdout into one (src/server/stdio.ts).
 */
export interface ConnectionTransport {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeAllListeners(event: 'data'): unknown;
  write(data: string): boolean;
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  readonly writableLength: number;
  readonly writable: boolean;
  readonly destroyed: boolean;
}

/** After an oversized line, how long the rest of it may keep arriving before the connection is cut. */
const OVERFLOW_LINGER_MS = 5000;
/**
 * After the client stops sending while streams still use the connection, a
 * blank line (ignored by readers: blank lines are keep-alives) goes out this
 * often: a client that is really gone then shows up as a failed write, which
 * is how kill_on_disconnect notices it even while the command is silent.
 */
const KEEPALIVE_MS = 1000;

/**
 * One client connection: NDJSON in, responses out as each request finishes
 * (matched by id, so a slow exec.run never holds back a ping). One rule
 * bounds what a client can make the daemon hold: requests are read only while
 * fewer than `maxInflight` are open and nothing waits for the client to read
 * (lines already read wait, unparsed, in the one chunk they came in);
 * answers and stream events are written only while the socket holds less
 * than SEND_HIGH_WATER unsent (src/server/outbox.ts).
 */
export class Connection implements EventSink {
  private inflight = 0;
  private drainListeners: (() => void)[] = [];
  private closeListeners: (() => void)[] = [];
  private inputEnded = false;
  private shut = false;
  private gotRequest = false;
  /** Complete lines read but not yet dispatched (at most one chunk's worth, plus one long line). */
  private lines: string[] = [];
  private lineHead = 0;
  /** Watchers streaming to this connection; it stays open for them after the client stops sending. */
  private holds = 0;
  private readonly splitter: LineSplitter;
  private readonly outbox: Outbox;
  private readonly openedAt = Date.now();

  constructor(
    private readonly socket: ConnectionTransport,
    private readonly router: Router,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    onClose: () => void,
  ) {
    this.outbox = new Outbox(
      {
        write: (data) => socket.write(data),
        get writableLength() {
          return socket.writableLength;
        },
        get open() {
          return !socket.destroyed && socket.writable;
        },
        drained: () => new Promise<void>((resolve) => this.onDrainOrClose(resolve)),
        abort: () => socket.destroy(),
      },
      (err) => log.error({ err }, 'an answer could not be written'),
      () => this.wake(),
    );
    const onLine = (line: string) => {
      this.gotRequest = true;
      this.lines.push(line);
    };
    this.splitter = new LineSplitter(limits.maxRequestBytes, onLine, () => this.handleOverflow());
    socket.on('data', (chunk: Buffer) => {
      if (!this.splitter.push(chunk)) socket.removeAllListeners('data');
      this.processLines();
    });
    socket.on('drain', () => this.wake());
    socket.on('end', () => {
      this.inputEnded = true;
      this.updateKeepalive();
      this.endIfDone();
    });
    socket.on('error', (err) => log.debug({ err: err.message }, 'connection error'));
    socket.on('close', () => {
      this.shut = true;
      this.updateKeepalive();
      const waiting = this.drainListeners;
      this.drainListeners = [];
      for (const l of waiting) l();
      const listeners = this.closeListeners;
      this.closeListeners = [];
      for (const l of listeners) l();
      onClose();
    });
  }

  /** How long this connection has been open without sending one complete request; null once it has. */
  get silentForMs(): number | null {
    return this.gotRequest ? null : Date.now() - this.openedAt;
  }

  // EventSink: stream events share the socket with responses.
  get closed(): boolean {
    return this.shut;
  }

  /** An event line may go out now: no answer is half-written and the socket is not full. */
  get ready(): boolean {
    return !this.shut && this.socket.writable && this.outbox.idle && this.socket.writableLength < SEND_HIGH_WATER;
  }

  retain(): void {
    this.holds++;
    this.updateKeepalive();
  }

  release(): void {
    this.holds--;
    this.updateKeepalive();
    this.endIfDone();
  }

  private keepalive: NodeJS.Timeout | undefined;

  private updateKeepalive(): void {
    const wanted = this.inputEnded && this.holds > 0 && !this.shut;
    if (wanted && !this.keepalive) {
      this.keepalive = setInterval(() => {
        if (!this.shut && this.socket.writable && this.outbox.idle) this.socket.write('\n');
      }, KEEPALIVE_MS);
      this.keepalive.unref();
    } else if (!wanted && this.keepalive) {
      clearInterval(this.keepalive);
      this.keepalive = undefined;
    }
  }

  send(event: object): boolean {
    // Never inside an answer that is being written in pieces: the line would be corrupted.
    if (this.shut || this.socket.destroyed || !this.socket.writable || !this.outbox.idle) return false;
    this.socket.write(encodeLine(event));
    return this.socket.writableLength < SEND_HIGH_WATER;
  }

  onDrain(listener: () => void): void {
    if (this.closed) return;
    this.drainListeners.push(listener);
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Stops reading and closes once the open requests are answered. */
  drainAndClose(): void {
    this.inputEnded = true;
    this.lines = [];
    this.lineHead = 0;
    this.socket.pause();
    this.endIfDone();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onDrainOrClose(resolve: () => void): void {
    if (this.shut) resolve();
    else this.drainListeners.push(resolve);
  }

  /** The socket drained or the outbox emptied: writers waiting may go on, reading may resume. */
  private wake(): void {
    const listeners = this.drainListeners;
    this.drainListeners = [];
    for (const l of listeners) l();
    this.processLines();
    this.endIfDone();
  }

  /** Dispatches lines read while the connection may take more; reads more only once they are all dispatched. */
  private processLines(): void {
    while (this.lineHead < this.lines.length && !this.shut) {
      if (this.inflight >= this.limits.maxInflight || this.outbox.blocked) break;
      const line = this.lines[this.lineHead]!;
      this.lines[this.lineHead++] = '';
      this.handleLine(line);
    }
    if (this.lineHead >= this.lines.length) {
      this.lines = [];
      this.lineHead = 0;
    }
    this.updateFlow();
  }

  private handleLine(line: string): void {
    const request = parseRequestLine(line);
    if (request.ok) this.dispatch(request.id, request.method, request.params);
    else this.reply(request.response);
  }

  private dispatch(id: Id, method: string, params: unknown): void {
    this.inflight++;
    const t0 = performance.now();
    let after: (() => void) | null = null;
    const ctx: RequestContext = { sink: this, connection: this, afterResponse: (fn) => (after = fn) };
    this.router
      .answer(id, method, params, ctx, this.log)
      .then(({ response, code }) => {
        this.inflight--;
        this.log.info({ method, id, ok: code === undefined, code, ms: Math.round((performance.now() - t0) * 100) / 100 }, 'request');
        this.reply(response, after !== null && code === undefined ? after : undefined);
        this.processLines();
        this.endIfDone();
      })
      .catch((err: unknown) => {
        this.log.error({ err, method }, 'answering a request failed');
        this.socket.destroy();
      });
  }

  private handleOverflow(): void {
    this.reply(
      failure('unknown', ErrorCode.INVALID_PARAMS, `request line longer than ${this.limits.maxRequestBytes} bytes (TRL_MAX_REQUEST_BYTES); connection closed`),
    );
    this.inputEnded = true;
    // Keep reading (and dropping) so the client's EOF arrives and the socket closes; a client that
    // never stops sending is cut off after a few seconds.
    this.socket.on('data', () => {});
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), OVERFLOW_LINGER_MS).unref();
    this.endIfDone();
  }

  private reply(message: object, after?: () => void): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    this.outbox.push(message, after);
  }

  private updateFlow(): void {
    if (this.inputEnded || this.closed) return;
    const full = this.lineHead < this.lines.length || this.inflight >= this.limits.maxInflight || this.outbox.blocked;
    if (full) this.socket.pause();
    else this.socket.resume();
  }

  private endIfDone(): void {
    if (this.inputEnded && this.inflight === 0 && this.holds === 0 && !this.shut && this.outbox.idle && this.lineHead >= this.lines.length) {
      this.socket.end();
    }
  }
}
