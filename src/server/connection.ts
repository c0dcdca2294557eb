import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ErrorCode, TrlError } from '../protocol/errors';
import { RequestEnvelope } from '../protocol/messages';
import { LineSplitter, encodeLine } from '../protocol/ndjson';
import type { Logger } from '../system/logger';
import type { Router } from './router';

export interface ConnectionLimits {
  maxRequestBytes: number;
  maxInflight: number;
}

type Id = string | number;

/**
 * One client connection: NDJSON in, responses out as each request finishes
 * (matched by id, so a slow exec.run never holds back a ping). Reading pauses
 * while `maxInflight` requests are open or while the socket's write buffer is
 * full, so a client that stops reading cannot grow the daemon's memory.
 */
export class Connection {
  private inflight = 0;
  private writeBlocked = false;
  private inputEnded = false;
  private closed = false;
  private readonly splitter: LineSplitter;

  constructor(
    private readonly socket: Socket,
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
    });
    socket.on('end', () => {
      this.inputEnded = true;
      this.endIfDone();
    });
    socket.on('error', (err) => log.debug({ err: err.message }, 'connection error'));
    socket.on('close', () => {
      this.closed = true;
      onClose();
    });
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
      this.send(failure('unknown', ErrorCode.INVALID_PARAMS, `request is not valid JSON (${(err as Error).message}); send one JSON object per line`));
      return;
    }
    const envelope = RequestEnvelope.safeParse(message);
    if (!envelope.success) {
      const id = idOf(message);
      const what = envelope.error.issues.map((i) => (i.path.length ? i.path.join('.') : 'request')).join(', ');
      this.send(failure(id, ErrorCode.INVALID_PARAMS, `malformed request: ${what} missing or of the wrong type; expected {"id": string, "method": string, "params": object}`));
      return;
    }
    void this.dispatch(envelope.data.id, envelope.data.method, envelope.data.params);
  }

  private async dispatch(id: Id, method: string, params: unknown): Promise<void> {
    this.inflight++;
    this.updateFlow();
    const t0 = performance.now();
    let response: object;
    let code: string | undefined;
    try {
      response = { id, ok: true, data: await this.router.dispatch(method, params) };
    } catch (err) {
      if (err instanceof TrlError) {
        code = err.code;
        response = failure(id, err.code, err.message);
      } else {
        code = ErrorCode.INTERNAL_ERROR;
        this.log.error({ err, method }, 'request failed unexpectedly');
        response = failure(id, ErrorCode.INTERNAL_ERROR, `internal error while handling ${method}; the daemon logged the details`);
      }
    }
    this.log.info({ method, id, ok: code === undefined, code, ms: Math.round((performance.now() - t0) * 100) / 100 }, 'request');
    this.inflight--;
    this.send(response);
    this.updateFlow();
    this.endIfDone();
  }

  private handleOverflow(): void {
    this.send(
      failure('unknown', ErrorCode.INVALID_PARAMS, `request line longer than ${this.limits.maxRequestBytes} bytes (TRL_MAX_REQUEST_BYTES); connection closed`),
    );
    this.inputEnded = true;
    this.socket.pause();
    this.endIfDone();
  }

  private send(message: object): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    if (!this.socket.write(encodeLine(message))) this.writeBlocked = true;
  }

  private updateFlow(): void {
    if (this.inputEnded || this.closed) return;
    if (this.writeBlocked || this.inflight >= this.limits.maxInflight) this.socket.pause();
    else this.socket.resume();
  }

  private endIfDone(): void {
    if (this.inputEnded && this.inflight === 0 && !this.closed) this.socket.end();
  }
}

function failure(id: Id, code: string, message: string) {
  return { id, ok: false, error: { code, message } };
}

function idOf(message: unknown): Id {
  if (message && typeof message === 'object' && 'id' in message) {
    const id = (message as { id: unknown }).id;
    if ((typeof id === 'string' && id.length <= 256) || typeof id === 'number') return id;
  }
  return 'unknown';
}
