import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync, statSync } from 'node:fs';
import { anyAlive, findMarkedProcesses, listPids, readProcStat, readStartTime, signalGroup, signalProcesses } from './proc';
import { stopThenKill } from './kill';
import { ensurePrivateDir } from './runtime-dir';
import { readLedgerFile, writeLedgerFile, type LedgerEntry, type LedgerFile } from './ledger-file';
import type { ReportLogger } from './logger';

export type { LedgerEntry } from './ledger-file';

const FILE = 'orphans.json';

function readBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return '';
  }
}

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
 * event-loop turn). Start times are read at write time, not on the spawn
 * path. The window: a daemon killed within WRITE_DELAY_MS of a spawn leaves
 * that group unrecorded; its processes still carry the session's marker,
 * and the session is recorded from its creation. A session stays recorded
 * until it is destroyed and no process carrying its marker is left, so the
 * sweep also finds what an already finished command daemonized. There is no
 * fsync on purpose: a crash of the daemon keeps the page cache, and a crash
 * of the machine ends every recorded process anyway.
 *
 * The directory must be the daemon user's own (runtime-dir.ts) and the file
 * too (ledger-file.ts): a ledger planted by someone else is refused, never
 * swept. Two daemons must not share one: a ledger whose writer is still
 * alive is left alone.
 */
/** How long a change waits before the ledger is written. */
export const WRITE_DELAY_MS = 50;

export class OrphanLedger {
  private readonly live = new Map<number, LedgerEntry>();
  private readonly sessions = new Set<string>();
  /** Entries of a previous run not yet swept; kept in the file until sweep() so a crash before it loses none. */
  private previous: LedgerEntry[] = [];
  private previousSessions: string[] = [];
  private scheduled = false;
  /** Entries removed since the last write, or previous-run entries cleared: the file is out of date. */
  private dirty = false;
  /** Groups added since the last write: removing one of them needs no write. */
  private readonly unwritten = new Set<number>();
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
    this.unwritten.add(entry.pgid);
    this.schedule();
  }

  /** The group is gone. */
  remove(pgid: number): void {
    if (!this.live.delete(pgid)) return;
    if (!this.unwritten.delete(pgid)) this.dirty = true;
    this.schedule();
  }

  /** A session exists: the sweep after a crash searches for its marker. */
  addSession(id: string): void {
    this.sessions.add(id);
    this.dirty = true;
    this.schedule();
  }

  /** The session is destroyed and nothing carrying its marker is left. */
  removeSession(id: string): void {
    if (!this.sessions.delete(id)) return;
    this.dirty = true;
    this.schedule();
  }

  /**
   * Start-up sweep, before READY: every group of the previous run that is
   * still alive is sent SIGTERM (to -pgid), then after `graceMs` SIGKILL.
   * A group counts as still alive when its leader has the recorded start
   * time, or, with the leader gone, when processes of our uid that started no
   * earlier than it are still in that pgid (the kernel keeps a pid number
   * allocated while it names a live group, so those members are the original
   * group's). A pid held by a process with another start time was reused: it
   * is never touched. Processes outside the groups that carry the marker of
   * a recorded session (setsid children, daemons of finished commands) get
   * the same TERM, grace, then a stop-then-kill. Clears the previous run's
   * entries. `killed`: recorded groups ended; `strays`: processes outside them.
   */
  async sweep(graceMs: number): Promise<{ recorded: number; killed: number; strays: number; ms: number }> {
    const started = Date.now();
    const recorded = this.previous.length;
    const targets = this.previous.filter((e) => this.stillOurs(e));
    const sessionIds = new Set([...this.previousSessions, ...this.previous.map((e) => e.sessionId)]);
    const markers = [...sessionIds].map((sid) => Buffer.from(`TRL_SESSION_ID=${sid}`));
    const strays = findMarkedProcesses(markers);
    const groups = new Set(targets.map((e) => e.pgid));
    for (const pid of strays.keys()) if (groups.has(readProcStat(pid)?.pgrp ?? -1)) strays.delete(pid);
    for (const e of targets) signalGroup(e.pgid, 'SIGTERM');
    signalProcesses(strays, 'SIGTERM');
    const deadline = Date.now() + Math.max(0, graceMs);
    let remaining = targets;
    while ((remaining.length > 0 || anyAlive(strays)) && Date.now() < deadline) {
      await sleep(Math.min(50, Math.max(1, deadline - Date.now())));
      remaining = remaining.filter((e) => this.stillOurs(e));
    }
    const pgids = remaining.filter((e) => this.stillOurs(e)).map((e) => e.pgid);
    if (pgids.length > 0 || markers.length > 0) await stopThenKill({ pgids, markers });
    this.previous = [];
    this.previousSessions = [];
    this.dirty = true;
    this.flush();
    return { recorded, killed: targets.length, strays: strays.size, ms: Date.now() - started };
  }

  /** True when the group recorded in `e` still exists and is the one we started. */
  private stillOurs(e: LedgerEntry): boolean {
    if (e.pgid === this.self.pid || e.pid === this.self.pid) return false;
    const leader = readProcStat(e.pid);
    // A live process under the recorded pid with another start time means the
    // pid was reused, which the kernel allows only once the old group is gone.
    if (leader) return leader.startTime === e.startTime && (leader.pgrp === e.pgid || this.hasMembers(e));
    return this.hasMembers(e);
  }

  /** Processes still in the recorded pgid, of our uid, started no earlier than the recorded leader. */
  private hasMembers(e: LedgerEntry): boolean {
    const uid = process.getuid?.() ?? -1;
    const since = BigInt(e.startTime);
    for (const pid of listPids()) {
      if (pid === this.self.pid) continue;
      const st = readProcStat(pid);
      if (!st || st.pgrp !== e.pgid || BigInt(st.startTime || '0') < since) continue;
      try {
        if (statSync(`/proc/${pid}`).uid === uid) return true;
      } catch {
        // gone meanwhile
      }
    }
    return false;
  }

  private schedule(): void {
    if (this.scheduled || this.path === null || (!this.dirty && this.unwritten.size === 0)) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.flush();
    }, WRITE_DELAY_MS);
  }

  /** Writes the file now (fresh temp file + rename: a reader never sees half a ledger). */
  private flush(): void {
    if (this.path === null || (!this.dirty && this.unwritten.size === 0)) return;
    for (const e of this.live.values()) {
      // A leader already gone leaves members (or not): '0' lets the sweep judge by the group alone.
      if (e.startTime === '') e.startTime = readStartTime(e.pid) ?? '0';
    }
    this.dirty = false;
    this.unwritten.clear();
    const data: LedgerFile = {
      v: 1,
      bootId: this.bootId,
      owner: this.self,
      entries: [...this.previous, ...this.live.values()],
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
