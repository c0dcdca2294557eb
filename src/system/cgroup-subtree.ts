import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isSafeCgroupName, parseKeyValues } from './cgroup-paths';
import { enableControllers, errCode, isDir, killCgroup, mkdirIfMissing, pidsInTree, populated, readText, removeTree, tryWrite, type KillMode } from './cgroup-files';
import { writeLimits, type CgroupLimits } from './cgroup-limits';


export interface CgroupStats {
  cpuUsageUs: number | null;
  memoryPeakBytes: number | null;
  oomKilled: boolean;
}

/** What detect() needs of a logger (pino's Logger fits). */
export interface CgroupLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** The controllers sessions may use, in the order they are enabled. */
export const WANTED_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
/** How long destroySession waits for the session to empty. */
const DESTROY_WAIT_MS = 5000;
export const POLL_MS = 10;

/**
 * Containment with a delegated cgroup v2 subtree (systemd `Delegate=yes`).
 *
 *   <own>/                 the cgroup systemd gave the service (delegated to the daemon's user)
 *   <own>/daemon/          the daemon itself (no process may stay in <own>: no-internal-processes rule)
 *   <own>/sessions/<sid>/  one per session: memory.max, memory.swap.max, pids.max, cpu.max
 *   <own>/sessions/<sid>/<execId>/   one leaf per command; the command's shell moves itself here
 *                                    (`echo $$ > …/cgroup.procs`) before any user code runs
 *
 * Kills use cgroup.kill (Linux 5.14+), which reaches every process of the
 * subtree, setsid and double-fork escapees included; on 5.2–5.13 a
 * freeze + SIGKILL-every-member loop stands in for it.
 *
 * Everything here is synchronous except destroySession (which waits for the
 * kernel to empty the cgroup); the calls are a handful of small writes to
 * cgroupfs, which does not block on disk.
 */
export class DelegatedCgroup {
  /** Controllers enabled for sessions: a subset of memory, pids, cpu (possibly empty: kill-only containment). */
  readonly controllers: string[];
  /** The delegated cgroup directory (`<own>`). */
  readonly root: string;
  /** `<own>/sessions`. */
  readonly sessionsDir: string;
  /** cgroup.kill, or the freezer loop on kernels without it. */
  readonly killMode: KillMode;

  /** memory.events oom_kill of the session when an exec started, for kernels/setups where the leaf has no memory files. */
  private readonly oomBaseline = new Map<string, number>();

  constructor(root: string, controllers: string[], killMode: KillMode) {
    this.root = root;
    this.controllers = controllers;
    this.killMode = killMode;
    this.sessionsDir = join(root, 'sessions');
  }

  private sessionDir(sessionId: string): string {
    if (!isSafeCgroupName(sessionId)) throw new Error(`session id ${JSON.stringify(sessionId)} cannot name a cgroup`);
    return join(this.sessionsDir, sessionId);
  }

  private leafDir(sessionId: string, execId: string): string {
    if (!isSafeCgroupName(execId)) throw new Error(`exec id ${JSON.stringify(execId)} cannot name a cgroup`);
    return join(this.sessionDir(sessionId), execId);
  }

  /**
   * mkdir sessions/<sid> and writes the limits its controllers support.
   * `applied` names the files written (memory.max, memory.swap.max, pids.max,
   * cpu.max); a limit whose controller is not enabled, whose file does not
   * exist (memory.swap.max without swap accounting) or that the kernel
   * refused is left out (and refusals are not thrown). Throws only when the
   * cgroup itself cannot be created.
   */
  createSession(sessionId: string, limits: CgroupLimits): { applied: string[] } {
    const dir = this.sessionDir(sessionId);
    try {
      mkdirIfMissing(dir);
    } catch (err) {
      throw new Error(`cannot create the session cgroup ${dir} (${errCode(err)})`);
    }
    // Controllers in the session's subtree: each command's leaf gets memory.peak, memory.events, pids.current.
    enableControllers(dir, this.controllers);
    return { applied: writeLimits(dir, this.controllers, limits) };
  }

  /**
   * mkdir sessions/<sid>/<execId> (a leaf per command) and returns the
   * absolute path of its cgroup.procs, for the command's shell to write its
   * own pid to before anything else. Throws when the leaf cannot be created
   * (no such session cgroup, cgroup.max.descendants reached…).
   */
  prepareExec(sessionId: string, execId: string): string {
    const dir = this.leafDir(sessionId, execId);
    try {
      mkdirSync(dir);
    } catch (err) {
      if (errCode(err) !== 'EEXIST') throw new Error(`cannot create the command cgroup ${dir} (${errCode(err)})`);
    }
    if (this.controllers.includes('memory')) {
      // An OOM kill inside the command takes the whole command, not one random process of it.
      tryWrite(join(dir, 'memory.oom.group'), '1');
    }
    if (!existsSync(join(dir, 'memory.events'))) {
      const sessionOoms = parseKeyValues(readText(join(this.sessionDir(sessionId), 'memory.events')) ?? '').get('oom_kill');
      if (sessionOoms !== undefined) this.oomBaseline.set(dir, sessionOoms);
    }
    return join(dir, 'cgroup.procs');
  }

  /** SIGKILL to every process in the command's leaf, escapees included. false if that is not possible (no such leaf, write refused). */
  killExec(sessionId: string, execId: string): boolean {
    return killCgroup(this.killMode, this.leafDir(sessionId, execId));
  }

  /** Every process in the command's leaf. */
  execPids(sessionId: string, execId: string): number[] {
    return pidsInTree(this.leafDir(sessionId, execId));
  }

  /**
   * Sends `signal` to every process in the command's leaf (for the TERM step
   * of TERM → grace → KILL, and exec.cancel with an explicit signal). Returns
   * how many processes were signalled.
   */
  signalExec(sessionId: string, execId: string, signal: NodeJS.Signals): number {
    let n = 0;
    for (const pid of pidsInTree(this.leafDir(sessionId, execId))) {
      try {
        process.kill(pid, signal);
        n++;
      } catch {
        /* gone */
      }
    }
    return n;
  }

  /**
   * What the kernel accounted to the command's leaf: cpu.stat usage_usec,
   * memory.peak (Linux 5.19+, with the memory controller), memory.events
   * oom_kill. A figure whose file does not exist is null. Read it before
   * releaseExec: the numbers go with the directory.
   */
  execStats(sessionId: string, execId: string): CgroupStats {
    const dir = this.leafDir(sessionId, execId);
    const cpu = parseKeyValues(readText(join(dir, 'cpu.stat')) ?? '').get('usage_usec');
    const peakText = readText(join(dir, 'memory.peak'));
    const peak = peakText === null ? NaN : Number(peakText.trim());
    let oomKilled = false;
    const events = readText(join(dir, 'memory.events'));
    if (events !== null) {
      oomKilled = (parseKeyValues(events).get('oom_kill') ?? 0) > 0;
    } else {
      const before = this.oomBaseline.get(dir);
      const now = parseKeyValues(readText(join(this.sessionDir(sessionId), 'memory.events')) ?? '').get('oom_kill');
      if (before !== undefined && now !== undefined) oomKilled = now > before;
    }
    return { cpuUsageUs: cpu ?? null, memoryPeakBytes: Number.isFinite(peak) ? peak : null, oomKilled };
  }

  /** True while any process is in the command's leaf (cgroup.events populated 1). Zombies do not count. */
  execPopulated(sessionId: string, execId: string): boolean {
    return populated(this.leafDir(sessionId, execId));
  }

  /** rmdir the command's leaf if it is empty (true, also when it is already gone); false while processes remain. */
  releaseExec(sessionId: string, execId: string): boolean {
    const dir = this.leafDir(sessionId, execId);
    const ok = removeTree(dir);
    if (ok) this.oomBaseline.delete(dir);
    return ok;
  }

  /**
   * Kills everything in the session's cgroup, waits (up to 5 s) for the
   * kernel to empty it, then removes the leaves and the session cgroup. Never
   * rejects: a cgroup that cannot be removed is left for the next start-up
   * sweep (and a later call may retry).
   */
  async destroySession(sessionId: string): Promise<void> {
    const dir = this.sessionDir(sessionId);
    if (!isDir(dir)) return;
    if (populated(dir)) {
      killCgroup(this.killMode, dir);
      const deadline = Date.now() + DESTROY_WAIT_MS;
      while (populated(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    removeTree(dir);
    for (const key of this.oomBaseline.keys()) if (key.startsWith(dir + '/')) this.oomBaseline.delete(key);
  }
}
