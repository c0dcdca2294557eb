import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { readStartTime } from './proc';
import { sweepOrphans, type SweepResult } from './orphan-sweep';
import { ensurePrivateDir } from './runtime-dir';
import { readLedgerFile, writeLedgerFile, type LedgerEntry, type LedgerFile } from './ledger-file';
import type { ReportLogger } from './logger';

const FILE = 'orphans.json';

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return '';
  }
}

/** How long a change waits before the ledger is written. */
export const WRITE_DELAY_MS = 50;

/**
 * The orphan ledger (ARCHITECTURE.md decision 3): the process groups this
 * daemon started and the sessions that are open, kept in `orphans.json` in
 * the runtime directory so that the next start can kill what a crashed
 * daemon left behind.
 *
 * Writes are coalesced: add/remove change memory and schedule one write
 * WRITE_DELAY_MS later, written atomically (ledger-file.ts); a group that
 * starts and ends within that time never touches the file, so short commands
 * cost no disk I/O (the benchmark measured ~1 ms per command for a write per
 * event-loop turn). That holds per group: a write due for an older change
 * leaves out groups younger than WRITE_DELAY_MS and writes them when they
 * reach that age, so a stream of short commands causes no writes at all.
 * Start times are read at write time, not on the spawn path. A daemon
 * killed within WRITE_DELAY_MS of a spawn leaves that group unrecorded; its
 * processes still carry the session's marker, and a session is written
 * synchronously at its creation, so the sweep finds them by it. A session
 * stays recorded until it is destroyed and no process carrying its marker is
 * left, so the sweep also finds what an already finished command
 * daemonized. There is no fsync on purpose: a crash of the daemon keeps the
 * page cache, and a crash of the machine ends every recorded process anyway.
 *
 * The directory must be the daemon user's own (runtime-dir.ts) and the file
 * too (ledger-file.ts): a ledger planted by someone else is refused, never
 * swept. Two daemons must not share one: a ledger whose writer is still
 * alive is left alone.
 */
export class OrphanLedger {
  private readonly live = new Map<number, LedgerEntry>();
  private readonly sessions = new Set<string>();
  /** Entries of a previous run not yet swept; kept in the file until sweep() so a crash before it loses none. */
  private previous: LedgerEntry[] = [];
  private previousSessions: string[] = [];
  private scheduled = false;
  /** Entries removed since the last write, or previous-run entries cleared: the file is out of date. */
  private dirty = false;
  /** Groups not in the file yet, with when they were added (ms, monotonic): removing one of them needs no write. */
  private readonly unwritten = new Map<number, number>();
  private failing = false;

  private constructor(
    private readonly path: string | null,
    private readonly logger: ReportLogger,
    private readonly bootId: string,
    private readonly self: { pid: number; startTime: string },
  ) {}

  /**
   * dir = runtime directory (TRL_RUNTIME_DIR, else RUNTIME_DIRECTORY, …); the
   * file `orphans.json` inside it. Throws UnsafePathError when the directory
   * or the file is not the daemon user's alone.
   */
  static open(dir: string, logger: ReportLogger, uid = process.getuid?.() ?? 0): OrphanLedger {
    const bootId = readBootId();
    const self = { pid: process.pid, startTime: readStartTime(process.pid) ?? '' };
    const path = join(ensurePrivateDir(dir, uid), FILE);
    const found = readLedgerFile(path, uid, logger);
    if (found && found.owner.pid !== self.pid && found.owner.startTime !== '' && readStartTime(found.owner.pid) === found.owner.startTime) {
      logger.warn({ path, owner_pid: found.owner.pid }, 'orphan ledger belongs to a running daemon: orphan ledger off');
      return new OrphanLedger(null, logger, bootId, self);
    }
    const ledger = new OrphanLedger(path, logger, bootId, self);
    if (found && found.bootId === bootId) {
      ledger.previous = found.entries;
      ledger.previousSessions = found.sessions;
    } else if (found && found.entries.length + found.sessions.length > 0) {
      logger.info({ path, recorded: found.entries.length }, 'orphan ledger from an earlier boot: nothing to sweep');
    }
    return ledger;
  }

  /** Records a started group; `startTime` may be '' (read when the entry is written). Cheap: one coalesced write. */
  add(entry: { pgid: number; pid: number; startTime: string; sessionId: string }): void {
    this.live.set(entry.pgid, { pgid: entry.pgid, pid: entry.pid, startTime: entry.startTime, sessionId: entry.sessionId });
    this.unwritten.set(entry.pgid, performance.now());
    this.schedule();
  }

  /** The group is gone. */
  remove(pgid: number): void {
    if (!this.live.delete(pgid)) return;
    if (!this.unwritten.delete(pgid)) this.dirty = true;
    this.schedule();
  }

  /**
   * A session exists: the sweep after a crash searches for its marker.
   * Written before this returns, so before any command of the session can
   * start: the marker covers the groups still too young to be in the file.
   */
  addSession(id: string): void {
    this.sessions.add(id);
    this.dirty = true;
    this.flush(false);
  }

  /** The session is destroyed and nothing carrying its marker is left. */
  removeSession(id: string): void {
    if (!this.sessions.delete(id)) return;
    this.dirty = true;
    this.schedule();
  }

  /**
   * Start-up sweep, before READY (orphan-sweep.ts): what the previous run
   * left is stopped, then its entries leave the file.
   */
  async sweep(graceMs: number): Promise<SweepResult> {
    const result = await sweepOrphans({ entries: this.previous, sessions: this.previousSessions }, this.self.pid, graceMs);
    this.previous = [];
    this.previousSessions = [];
    this.dirty = true;
    this.flush();
    return result;
  }

  private schedule(delayMs = WRITE_DELAY_MS): void {
    if (this.scheduled || this.path === null || (!this.dirty && this.unwritten.size === 0)) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.flush(false);
    }, delayMs);
  }

  /**
   * Writes the file (fresh temp file + rename: a reader never sees half a
   * ledger) when something is due: a removal or session change, or a group
   * WRITE_DELAY_MS old. `all` writes every group now, young or not.
   */
  private flush(all = true): void {
    if (this.path === null || (!this.dirty && this.unwritten.size === 0)) return;
    // Timers may fire up to a millisecond early (rounding): a group that old counts as due.
    const dueBefore = all ? Infinity : performance.now() - WRITE_DELAY_MS + 1;
    let due = this.dirty;
    let youngest = Infinity;
    for (const [pgid, at] of this.unwritten) {
      if (at <= dueBefore) {
        due = true;
        this.unwritten.delete(pgid);
      } else youngest = Math.min(youngest, at);
    }
    if (this.unwritten.size > 0) this.schedule(Math.max(1, Math.ceil(youngest + WRITE_DELAY_MS - performance.now())));
    if (!due) return;
    const entries: LedgerEntry[] = [];
    for (const e of this.live.values()) {
      if (this.unwritten.has(e.pgid)) continue;
      // A leader already gone leaves members (or not): '0' lets the sweep judge by the group alone.
      if (e.startTime === '') e.startTime = readStartTime(e.pid) ?? '0';
      entries.push(e);
    }
    this.dirty = false;
    const data: LedgerFile = {
      v: 1,
      bootId: this.bootId,
      owner: this.self,
      entries: [...this.previous, ...entries],
      sessions: [...new Set([...this.previousSessions, ...this.sessions])],
    };
    try {
      writeLedgerFile(this.path, data);
      if (this.failing) this.logger.info({ path: this.path }, 'orphan ledger writable again');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.logger.warn({ path: this.path, err: String(err) }, 'orphan ledger not written');
      this.failing = true;
    }
  }
}
