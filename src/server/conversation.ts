import { ErrorCode, errorEnvelope } from '../protocol/errors';
import type { Logger } from '../system/logger';
import { LINE_WORDING, parseEnvelope, type Envelope } from './envelope';
import { exchange } from './exchange';
import { Inbox } from './inbox';
import { PeerOutput } from './peer-output';
import type { Router } from './router';
import type { Transport } from './transport';

export interface ConversationLimits {
  maxRequestBytes: number;
  maxInflight: number;
}

/** After an oversized line, how long the rest of it may keep arriving before the connection is cut. */
const OVERFLOW_LINGER_MS = 5000;

/**
 * One client's conversation over a stream transport (a socket connection, or
 * stdin and stdout): NDJSON in, answers out as each request finishes (matched
 * by id, so a slow exec.run never holds back a ping). One rule bounds what a
 * client can make the daemon hold: requests are read only while fewer than
 * `maxInflight` are open and nothing waits for the client to read (lines
 * already read wait, unparsed, in the inbox); answers and stream events are
 * written only while the transport holds less than SEND_HIGH_WATER unsent
 * (src/server/peer-output.ts).
 */
export class Conversation {
  private inflight = 0;
  private inputEnded = false;
  private readonly openedAt = Date.now();
  private readonly transport: Transport;
  private readonly router: Router;
  private readonly limits: ConversationLimits;
  private readonly logger: Logger;
  private readonly inbox: Inbox;
  /** The EventSink of every stream started here. */
  private readonly output: PeerOutput;

  constructor(opts: { transport: Transport; router: Router; limits: ConversationLimits; logger: Logger; onClose: () => void }) {
    const { transport, logger } = opts;
    this.transport = transport;
    this.router = opts.router;
    this.limits = opts.limits;
    this.logger = logger;
    this.output = new PeerOutput(transport, logger, { drained: () => this.dispatchAndEnd(), released: () => this.endIfDone() });
    this.inbox = new Inbox(opts.limits.maxRequestBytes, () => this.handleOverflow());
    transport.on('data', (chunk: Buffer) => {
      if (!this.inbox.push(chunk)) transport.removeAllListeners('data');
      this.dispatchLines();
    });
    transport.on('drain', () => this.output.onDrained());
    transport.on('end', () => {
      this.inputEnded = true;
      this.output.endOfInput();
      this.endIfDone();
    });
    transport.on('error', (err) => logger.debug({ err: err.message }, 'connection error'));
    transport.on('close', () => {
      this.output.onClosed();
      opts.onClose();
    });
  }

  /** How long this connection has been open without sending one complete request; null once it has. */
  get silentForMs(): number | null {
    return this.inbox.heardRequest ? null : Date.now() - this.openedAt;
  }

  /** Stops reading and closes once the open requests are answered. */
  drainAndClose(): void {
    this.stopReading();
    this.inbox.clear();
    this.transport.pause();
    this.endIfDone();
  }

  destroy(): void {
    this.transport.destroy();
  }

  private dispatchAndEnd(): void {
    this.dispatchLines();
    this.endIfDone();
  }

  /** Dispatches lines read while the connection may take more; reads more only once they are all dispatched. */
  private dispatchLines(): void {
    while (!this.inbox.empty && !this.output.closed) {
      if (this.inflight >= this.limits.maxInflight || this.output.blocked) break;
      const parsed = parseEnvelope(this.inbox.take()!, LINE_WORDING);
      if (parsed.ok) this.dispatch(parsed);
      else this.output.answer(parsed.response);
    }
    this.updateFlow();
  }

  private dispatch(request: Envelope): void {
    this.inflight++;
    exchange(request, { router: this.router, logger: this.logger, sink: this.output, connection: this.output })
      .then(({ response, events }) => {
        this.inflight--;
        this.output.answer(response, events ?? undefined);
        this.dispatchAndEnd();
      })
      .catch((err: unknown) => {
        this.logger.error({ err, method: request.method }, 'answering a request failed');
        this.transport.destroy();
      });
  }

  private handleOverflow(): void {
    const max = this.limits.maxRequestBytes;
    this.output.answer(errorEnvelope('unknown', ErrorCode.INVALID_PARAMS, `request line longer than ${max} bytes (TRL_MAX_REQUEST_BYTES); connection closed`));
    this.stopReading();
    // Keep reading (and dropping) so the client's EOF arrives and the socket closes; a client that
    // never stops sending is cut off after a few seconds.
    this.transport.on('data', () => {});
    this.transport.resume();
    setTimeout(() => this.transport.destroy(), OVERFLOW_LINGER_MS).unref();
    this.endIfDone();
  }

  private stopReading(): void {
    this.inputEnded = true;
    this.output.noMoreInput();
  }

  private updateFlow(): void {
    if (this.inputEnded || this.output.closed) return;
    const full = !this.inbox.empty || this.inflight >= this.limits.maxInflight || this.output.blocked;
    if (full) this.transport.pause();
    else this.transport.resume();
  }

  private endIfDone(): void {
    if (this.inputEnded && this.inflight === 0 && !this.output.closed && this.output.idle && this.inbox.empty) this.transport.end();
  }
}
