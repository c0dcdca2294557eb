import { ErrorCode, errorEnvelope } from '../protocol/errors';
import { encodeLinePieces } from '../protocol/encode';
import type { JsonBytes } from '../protocol/json-text';
import { readBuffers } from '../exec/read-buffers';

/** Bytes a transport may hold unsent before answers and events wait for 'drain'. */
export const SEND_HIGH_WATER = 1024 * 1024;

/**
 * Bytes of one answer encoded and written in one turn of the event loop; then
 * it lets the loop go round. A client that reads as fast as the daemon
 * writes never makes it wait for 'drain', and a 4 MiB result encoded in one
 * go held every other connection (a ping included) for 10–15 ms.
 */
const TURN_BYTES = 256 * 1024;

/** What the outbox needs of a transport. */
export interface OutboxTarget {
  /** `done` runs once the transport is done with `data` (handed to the kernel, or failed). */
  write(data: string | Buffer, done?: () => void): boolean;
  readonly writableLength: number;
  /** False once the transport can no longer be written. */
  readonly open: boolean;
  /** Resolves on the next 'drain', or at once when the transport closes. */
  drained(): Promise<void>;
  /** A line was cut short (its encoding failed half-way): nothing after it could be read; close. */
  abort(): void;
}

interface Item {
  message: object;
  after: (() => void) | undefined;
}

/**
 * The answers of one connection, written one at a time and a piece at a
 * time: nothing is written while the transport holds `SEND_HIGH_WATER`
 * unsent bytes, so a client that stops reading costs the daemon at most that
 * much plus one piece, and the answers still waiting (one per open request,
 * a bounded number). An answer whose encoding fails (a string too long for
 * V8) is replaced by INTERNAL_ERROR.
 */
export class Outbox {
  private readonly queue: Item[] = [];
  private running = false;

  constructor(
    private readonly target: OutboxTarget,
    private readonly onError: (err: unknown) => void,
    /** Called whenever the outbox has written everything: stream events may go again. */
    private readonly onIdle: () => void,
  ) {}

  /** Nothing queued or half-written: an event line may go out now. */
  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  /** Waiting for the client to read: stop reading its requests meanwhile. */
  get blocked(): boolean {
    return !this.idle && this.target.writableLength >= SEND_HIGH_WATER;
  }

  /** Queues an answer; `after` runs once its last byte is handed to the transport. */
  push(message: object, after?: () => void): void {
    this.queue.push({ message, after });
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && this.target.open) {
        const item = this.queue.shift()!;
        if (await this.writeOne(item.message)) item.after?.();
      }
    } catch (err) {
      this.onError(err);
      this.target.abort();
    } finally {
      this.queue.length = 0;
      this.running = false;
    }
    if (this.target.open) this.onIdle();
  }

  /**
   * True when the whole line went out. A piece that is a read buffer's bytes
   * (a result's output) is held until its write is done, and the result's
   * captured chunks are released once the last piece is handed over: their
   * buffers go back to the reads only when no write still needs them.
   */
  private async writeOne(message: object): Promise<boolean> {
    let written = 0;
    let turn = 0;
    const encoded: JsonBytes[] = [];
    const pieces = encodeLinePieces(message, encoded);
    for (;;) {
      let next: IteratorResult<string | Buffer>;
      try {
        next = pieces.next();
      } catch (err) {
        if (written > 0) throw err;
        this.onError(err);
        return this.writeOne(internalError(message));
      }
      if (next.done) {
        for (const bytes of encoded) bytes.release?.();
        return true;
      }
      while (this.target.writableLength >= SEND_HIGH_WATER) {
        if (!this.target.open) return false;
        await this.target.drained();
      }
      if (turn >= TURN_BYTES) {
        turn = 0;
        await nextTurn();
      }
      if (!this.target.open) return false;
      const piece = next.value;
      this.target.write(piece, typeof piece === 'string' ? undefined : readBuffers.hold(piece));
      turn += piece.length;
      written++;
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function internalError(message: object): object {
  const id = (message as { id?: unknown }).id;
  return errorEnvelope(
    typeof id === 'string' || typeof id === 'number' ? id : 'unknown',
    ErrorCode.INTERNAL_ERROR,
    'internal error: the answer could not be encoded (too large?); the daemon logged the details',
  );
}
