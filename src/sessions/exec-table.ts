import { ErrorCode, TrlError } from '../protocol/errors';
import type { ExecRecord } from '../exec/exec-record';

/**
 * Every exec by id: running ones, and finished ones for `retainMs` (at most
 * `maxFinished` of them), so that a client that reconnects late still gets
 * the true exit status.
 */
export class ExecTable {
  private readonly execs = new Map<string, ExecRecord>();
  private finished = 0;
  private finishedBytes = 0;

  constructor(
    private readonly retainMs: number,
    private readonly maxFinished: number,
    /** Output and command text retained by finished execs, all together; the oldest go first past it. */
    private readonly maxFinishedBytes: number,
  ) {}

  add(record: ExecRecord): void {
    this.execs.set(record.id, record);
  }

  /** A command ended: it now counts against the retention bounds. */
  ended(record: ExecRecord): void {
    this.finished++;
    this.finishedBytes += record.retainedBytes;
    if (this.overBounds) this.evict(Date.now(), true);
  }

  get(id: string): ExecRecord {
    const record = this.execs.get(id);
    if (!record) throw new TrlError(ErrorCode.EXEC_NOT_FOUND, `exec ${id} does not exist (finished execs are kept for TRL_EXEC_RETAIN_S)`);
    return record;
  }

  /** Every exec (of one session), oldest first, one at a time: a listing is written as it is produced. */
  *list(sessionId?: string | null): Generator<ExecRecord> {
    for (const e of this.execs.values()) if (!sessionId || e.sessionId === sessionId) yield e;
  }

  /** Drops finished execs older than the retention time (housekeeping). */
  expire(now = Date.now()): void {
    this.evict(now - this.retainMs, false);
  }

  private get overBounds(): boolean {
    return this.finished > this.maxFinished || this.finishedBytes > this.maxFinishedBytes;
  }

  /** Removes finished execs that ended by `before`, oldest first (Map order is start order); `whileOver`: only until within the bounds. */
  private evict(before: number, whileOver: boolean): void {
    for (const [id, record] of this.execs) {
      if (whileOver && !this.overBounds) break;
      if (record.finishedAt !== null && record.finishedAt <= before) {
        this.execs.delete(id);
        this.finished--;
        this.finishedBytes -= record.retainedBytes;
      }
    }
  }
}
