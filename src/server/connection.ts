import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../protocol/errors';
import { RequestEnvelope } from '../protocol/messages';
import { LineSplitter, encodeLine } from '../protocol/ndjson';
import type { Logger } from '../system/logger';
import type { EventSink } from '../exec/event-sink';
import { failure, type RequestContext, type Router } from './router';

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

/** Stream events stop (and wait for 'drain') once this much is queued on the socket. */
const EVENT_HIGH_WATER = 1024 * 1024;
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
 * (matched by id, so a slow exec.run never holds back a ping). Reading pauses
 * while `maxInflight` requests are open or while the socket's write buffer is
 * full, so a client that stops reading cannot grow the daemon's memory.
 */
export class Connection implements EventSink {
  private inflight = 0;
  private drainListeners: (() => void)[] = [];
  private closeListeners: (() => void)[] = [];
  private writeBlocked = false;
  private inputEnded = false;
  private shut = false;
  /** Watchers streaming to this connection; it stays open for them after the client stops sending. */
  private holds = 0;
  private readonly splitter: LineSplitter;

  constructor(
    private readonly socket: ConnectionTransport,
    private readonly router: Router,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    onClose: () => void,
  ) {
    this.splitter = new LineSplitter(limits.maxRequestBytes, (line) => this.handleLine(line), () => this.handleOverflow());
    socket.on('data', (chunk: Buffer) => {
      if (!this.splitter.push(chunk)) socket.removeAllListeners('data');
    });
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.updateFlow();
      const listeners = this.drainListeners;
      this.drainListeners = [];
      for (const l of listeners) l();
    });
    socket.on('end', () => {
      this.inputEnded = true;
      this.updateKeepalive();
      this.endIfDone();
    });
    socket.on('error', (err) => log.debug({ err: err.message }, 'connection error'));
    socket.on('close', () => {
      this.shut = true;
      this.updateKeepalive();
      this.drainListeners = [];
      const listeners = this.closeListeners;
      this.closeListeners = [];
      for (const l of listeners) l();
      onClose();
    });
  }

  // EventSink: stream events share the socket with responses.
  get closed(): boolean {
    return this.shut;
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
        if (!this.shut && this.socket.writable) this.socket.write('\n');
      }, KEEPALIVE_MS);
      this.keepalive.unref();
    } else if (!wanted && this.keepalive) {
      clearInterval(this.keepalive);
      this.keepalive = undefined;
    }
  }

  send(event: object): boolean {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(encodeLine(event));
    return this.socket.writableLength < EVENT_HIGH_WATER;
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
    this.socket.pause();
    this.endIfDone();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private handleLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (err) {
      this.reply(failure('unknown', ErrorCode.INVALID_PARAMS, `request is not valid JSON (${(err as Error).message}); send one JSON object per line`));
      return;
    }
    // The common case, checked by hand: zod is there for the message when something is off.
    if (isPlainEnvelope(message)) {
      void this.dispatch(message.id, message.method, message.params);
      return;
    }
    const envelope = RequestEnvelope.safeParse(message);
    if (!envelope.success) {
      const id = idOf(message);
      const what = envelope.error.issues.map((i) => (i.path.length ? i.path.join('.') : 'request')).join(', ');
      this.reply(failure(id, ErrorCode.INVALID_PARAMS, `malformed request: ${what} missing or of the wrong type; expected {"id": string, "method": string, "params": object}`));
      return;
    }
    void this.dispatch(envelope.data.id, envelope.data.method, envelope.data.params);
  }

  private async dispatch(id: Id, method: string, params: unknown): Promise<void> {
    if (this.inflight >= this.limits.maxInflight) {
      this.reply(
        failure(id, ErrorCode.RESOURCE_PRESSURE, `${this.inflight} requests are open on this connection, the limit (TRL_MAX_INFLIGHT_PER_CONNECTION); wait for answers before sending more`),
      );
      return;
    }
    this.inflight++;
    this.updateFlow();
    const t0 = performance.now();
    let after: (() => void) | null = null;
    const ctx: RequestContext = { sink: this, afterResponse: (fn) => (after = fn) };
    const { response, code } = await this.router.answer(id, method, params, ctx, this.log);
    this.inflight--;
    this.reply(response);
    this.log.info({ method, id, ok: code === undefined, code, ms: Math.round((performance.now() - t0) * 100) / 100 }, 'request');
    if (after !== null && code === undefined) (after as () => void)();
    this.updateFlow();
    this.endIfDone();
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

  private reply(message: object): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    if (!this.socket.write(encodeLine(message))) this.writeBlocked = true;
  }

  private updateFlow(): void {
    if (this.inputEnded || this.closed) return;
    if (this.writeBlocked) this.socket.pause();
    else this.socket.resume();
  }

  private endIfDone(): void {
    if (this.inputEnded && this.inflight === 0 && this.holds === 0 && !this.shut) this.socket.end();
  }
}


export function idOf(message: unknown): Id {
  if (message && typeof message === 'object' && 'id' in message) {
    const id = (message as { id: unknown }).id;
    if ((typeof id === 'string' && id.length <= 256) || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return 'unknown';
}

/** What RequestEnvelope accepts, for the usual request: a short string id, a method, params an object or absent. */
function isPlainEnvelope(m: unknown): m is { id: string; method: string; params?: Record<string, unknown> | null } {
  if (typeof m !== 'object' || m === null) return false;
  const { id, method, params } = m as Record<string, unknown>;
  return (
    typeof id === 'string' &&
    id.length <= 256 &&
    typeof method === 'string' &&
    method.length <= 128 &&
    (params === undefined || params === null || (typeof params === 'object' && !Array.isArray(params)))
  );
}
