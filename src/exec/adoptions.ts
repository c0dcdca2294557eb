import { constants, openSync, readSync } from 'node:fs';
import type { NativeAddon } from '../native/addon';
import { stopThenKill } from '../system/kill';
import { environValue } from '../system/proc';

/** What the sessions need of the adopted: whose they are, and a say when an owner is gone. */
export interface Adopter {
  /** The live adopted processes that may belong to `owner` (a session id). */
  of(owner: string): number[];
  /** Stop-then-kill of every adopted process and what descends from it (shutdown). */
  killAll(): Promise<void>;
  /** `owner` is gone: what it left is killed (resolves once that is gone), what it leaves from now on on sight. */
  close(owner: string): Promise<void>;
}

/** Closed owners remembered (the newest): a leader that ends during its session's teardown leaves orphans a moment later. */
const CLOSED_KEPT = 256;

/**
 * The orphans the daemon adopts as child subreaper (native/adopt.c): what a
 * command's tree leaves running when its leader, or an adopted process, ends.
 * The leaders are the daemon's children as well and are left out by pid
 * (told by the spawner from clone to reaping).
 * An adopted process is tagged with the session its marker names; one whose
 * environment cannot be read (non-dumpable, or cleared) with the owners of
 * what ended and handed it over: a leader (told by `ended`) or an adopted
 * process (reaped here, on SIGCHLD). When two owners' processes end in the
 * same turn of the event loop such a process is tagged with both, and dies
 * with either. A child that nothing that ended explains waits, unclaimed,
 * for the next look that does (it is reaped meanwhile if it ends); shutdown
 * kills every child, claimed or not.
 */
export class Adoptions implements Adopter {
  /** pid → the owners it may belong to. */
  private readonly adopted = new Map<number, Set<string>>();
  private pending = new Set<string>();
  private scheduled = false;
  /** SIGCHLD came since the last look: an adopted process may have ended, or a leader (exec made its exit signal SIGCHLD). */
  private childEnded = false;
  private readonly closed = new Set<string>();
  /** The commands' leaders: the daemon's children too (cloned on its main thread), never adopted. */
  private readonly leaders = new Set<number>();
  /** Read again from offset 0 on each look: one pread, no open and close per command. */
  private listing = Buffer.allocUnsafe(4096);

  private constructor(
    private readonly addon: Pick<NativeAddon, 'reapChild' | 'anyChildEnded'>,
    private readonly childrenFd: number,
  ) {}

  /** Makes the daemon a subreaper; null (nothing changed) where the kernel cannot list its children. */
  static start(addon: Pick<NativeAddon, 'becomeSubreaper' | 'reapChild' | 'anyChildEnded'>): Adoptions | null {
    let fd: number;
    try {
      fd = openSync(`/proc/${process.pid}/task/${process.pid}/children`, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return null; // without the list, adopted children could be neither found nor reaped: no subreaper then
    }
    const adoptions = new Adoptions(addon, fd);
    addon.becomeSubreaper();
    process.on('SIGCHLD', () => {
      adoptions.childEnded = true;
      adoptions.ended([]);
    });
    return adoptions;
  }

  /** A leader was cloned; ended once it is reaped (before that it is in the children list, after it no more). */
  leaderStarted(pid: number): void {
    this.leaders.add(pid);
  }

  leaderEnded(pid: number): void {
    this.leaders.delete(pid);
  }

  /** A process of these owners has ended: what it left is looked at once this turn of the event loop is done. */
  ended(owners: Iterable<string>): void {
    for (const owner of owners) this.pending.add(owner);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.scan();
    });
  }

  of(owner: string): number[] {
    const pids: number[] = [];
    for (const [pid, owners] of this.adopted) if (owners.has(owner)) pids.push(pid);
    return pids;
  }

  async killAll(): Promise<void> {
    const all = (): number[] => {
      this.scan();
      return this.children();
    };
    if (all().length > 0) await stopThenKill({ extraPids: all });
    this.scan();
  }

  close(owner: string): Promise<void> {
    this.closed.add(owner);
    if (this.closed.size > CLOSED_KEPT) this.closed.delete(this.closed.values().next().value!);
    // What a leader that ended in the owner's kill handed over is claimed now, not a turn later:
    // the owner's destroy answers once it is gone too.
    this.scan();
    const orphaned = [...this.adopted].filter(([, own]) => this.allClosed(own)).map(([pid]) => pid);
    return orphaned.length > 0 ? this.kill(orphaned) : Promise.resolve();
  }

  private allClosed(owners: Set<string>): boolean {
    for (const o of owners) if (!this.closed.has(o)) return false;
    return owners.size > 0;
  }

  private kill(pids: number[]): Promise<void> {
    return stopThenKill({ extraPids: () => pids }).then(
      () => {},
      () => {}, // what survives is taken at shutdown
    );
  }

  /** Reaps the adopted that ended (their owners pass to what they leave), then claims the new children. */
  private scan(): void {
    const owners = this.pending;
    this.pending = new Set();
    // One waitid per adopted process only when a child waits to be reaped: a command's end costs one waitid,
    // however many processes were adopted, unless its leader's pidfd has not been read yet (then each is asked).
    if (this.childEnded && this.adopted.size > 0 && this.addon.anyChildEnded()) {
      for (const [pid, own] of this.adopted) {
        if (!this.addon.reapChild(pid)) continue;
        this.adopted.delete(pid);
        for (const o of own) owners.add(o);
      }
    }
    this.childEnded = false;
    for (const pid of this.children()) {
      if (this.adopted.has(pid)) continue;
      const marked = environValue(pid, 'TRL_SESSION_ID'); // the session its marker names, when readable
      const own = marked !== null ? new Set([marked]) : new Set(owners);
      // Ended already (a hopper's middle generation): what it left is explained by the same owners.
      if (this.addon.reapChild(pid)) continue;
      if (own.size === 0) continue; // unclaimed for now
      this.adopted.set(pid, own);
      if (this.allClosed(own)) void this.kill([pid]);
    }
  }

  private children(): number[] {
    let n: number;
    for (;;) {
      try {
        n = readSync(this.childrenFd, this.listing, 0, this.listing.length, 0);
      } catch {
        return [];
      }
      if (n < this.listing.length) break;
      this.listing = Buffer.allocUnsafe(this.listing.length * 2); // read whole, or a pid could be cut in two
    }
    const pids: number[] = [];
    let pid = 0;
    for (let i = 0; i < n; i++) {
      const c = this.listing[i]!;
      if (c >= 0x30 && c <= 0x39) pid = pid * 10 + (c - 0x30);
      else if (pid > 0) {
        if (!this.leaders.has(pid)) pids.push(pid);
        pid = 0;
      }
    }
    if (pid > 0 && !this.leaders.has(pid)) pids.push(pid);
    return pids;
  }
}
