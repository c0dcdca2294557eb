import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  isSafeCgroupName,
  parentDir,
  parseCgroup2Mounts,
  parseControllerList,
  parseKeyValues,
  parseProcCgroup,
  resolveCgroupDir,
} from './cgroup-detect';

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

export interface CgroupLimits {
  memoryMax?: number;
  memorySwapMax?: number;
  pidsMax?: number;
  cpuMax?: { quotaUs: number; periodUs: number };
}

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
const WANTED_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
/** How long detect()'s start-up sweep waits for one leftover session to empty after cgroup.kill. */
const SWEEP_WAIT_MS = 3000;
/** How long destroySession waits for the session to empty. */
const DESTROY_WAIT_MS = 5000;
const POLL_MS = 10;

type KillMode = 'kill' | 'freeze';

export class CgroupContainment {
  /** Controllers enabled for sessions: a subset of memory, pids, cpu (possibly empty: kill-only containment). */
  readonly controllers: string[];
  /** The delegated cgroup directory (`<own>`). */
  readonly root: string;
  /** `<own>/daemon`: where the daemon (and a command's shell until it moves itself) lives. */
  readonly daemonDir: string;
  /** `<own>/sessions`. */
  readonly sessionsDir: string;
  /** cgroup.kill, or the freezer loop on kernels without it. */
  readonly killMode: KillMode;

  /** memory.events oom_kill of the session when an exec started, for kernels/setups where the leaf has no memory files. */
  private readonly oomBaseline = new Map<string, number>();

  private constructor(root: string, controllers: string[], killMode: KillMode) {
    this.root = root;
    this.controllers = controllers;
    this.killMode = killMode;
    this.daemonDir = join(root, 'daemon');
    this.sessionsDir = join(root, 'sessions');
  }

  /**
   * Finds the daemon's own cgroup v2 and, when it is delegated to us, takes
   * it over (see the class comment). Never throws: returns null and the
   * reason when cgroups cannot be used. Call once per process, before any
   * command is started (a second call sweeps the sessions of the first).
   */
  static detect(log: CgroupLog): { containment: CgroupContainment | null; reason: string } {
    try {
      return CgroupContainment.detectOrThrow(log);
    } catch (err) {
      return { containment: null, reason: `cgroup set-up failed unexpectedly: ${(err as Error).message}` };
    }
  }

  private static detectOrThrow(log: CgroupLog): { containment: CgroupContainment | null; reason: string } {
    const no = (reason: string) => ({ containment: null, reason });
    let procCgroup: string;
    let mountinfo: string;
    try {
      procCgroup = readFileSync('/proc/self/cgroup', 'utf8');
      mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch (err) {
      return no(`cannot read /proc/self/cgroup or /proc/self/mountinfo (${errCode(err)})`);
    }
    const path = parseProcCgroup(procCgroup);
    if (path === null) return no('the daemon has no cgroup v2 membership (no "0::" line in /proc/self/cgroup): cgroup v1 only');
    const mounts = parseCgroup2Mounts(mountinfo);
    if (mounts.length === 0) return no('no cgroup2 filesystem is mounted');
    const own = resolveCgroupDir(path, mounts);
    if (own === null || !isDir(own)) return no(`the daemon's cgroup ${path} is not visible under any cgroup2 mount`);
    if (path === '/') {
      return no(`the daemon runs in the root cgroup of the v2 hierarchy (${own}), which is never delegated; run it under systemd with Delegate=yes`);
    }

    // Our own cgroup is `<base>/daemon` when a previous detect() of this process
    // (or systemd's DelegateSubgroup=daemon) put us there: take the parent as the base.
    let base = own;
    if (basename(own) === 'daemon' && delegationProblem(parentDir(own)) === null) base = parentDir(own);

    const problem = delegationProblem(base);
    if (problem !== null) return no(`cgroup ${base} is not delegated to the daemon's user (uid ${process.getuid?.()}): ${problem}; run under systemd with Delegate=yes`);

    const killMode: KillMode | null = existsSync(join(base, 'cgroup.kill')) ? 'kill' : existsSync(join(base, 'cgroup.freeze')) ? 'freeze' : null;
    if (killMode === null) return no('this kernel has neither cgroup.kill (Linux 5.14+) nor cgroup.freeze (Linux 5.2+): no escape-proof kill');

    // The daemon into a leaf of its own.
    const daemonDir = join(base, 'daemon');
    const createdDaemonDir = mkdirIfMissing(daemonDir);
    try {
      writeFileSync(join(daemonDir, 'cgroup.procs'), String(process.pid));
    } catch (err) {
      if (createdDaemonDir) tryRmdir(daemonDir);
      return no(`cannot move the daemon into ${daemonDir} (${errCode(err)})`);
    }
    // Anything else of the service still in <base> would keep us from enabling controllers.
    const others = readPids(join(base, 'cgroup.procs'));
    let moved = 0;
    for (const pid of others) {
      try {
        writeFileSync(join(daemonDir, 'cgroup.procs'), String(pid));
        moved++;
      } catch {
        /* gone, or not ours */
      }
    }
    if (others.length > 0) log.info({ cgroup: base, processes: others.length, moved }, 'moved the service\'s other processes into the daemon leaf');

    // Controllers: <base> → sessions → each session (so that every command's leaf has its own stats).
    const sessionsDir = join(base, 'sessions');
    mkdirIfMissing(sessionsDir);
    const available = parseControllerList(readText(join(base, 'cgroup.controllers')) ?? '');
    let enabled = enableControllers(base, WANTED_CONTROLLERS.filter((c) => available.includes(c)));
    enabled = enableControllers(sessionsDir, enabled);

    const cg = new CgroupContainment(base, enabled, killMode);
    const swept = cg.sweepLeftovers(log);
    const missing = WANTED_CONTROLLERS.filter((c) => !enabled.includes(c));
    return {
      containment: cg,
      reason:
        `cgroup v2 delegated at ${base}; controllers for sessions: ${enabled.length > 0 ? enabled.join(', ') : 'none'}` +
        (missing.length > 0 ? ` (not available in v2 here: ${missing.join(', ')})` : '') +
        `; kill via ${killMode === 'kill' ? 'cgroup.kill' : 'cgroup.freeze + SIGKILL'}` +
        (swept > 0 ? `; removed ${swept} leftover session cgroup(s)` : ''),
    };
  }

  /** Kills and removes every session cgroup left by a previous run. Returns how many were removed. */
  private sweepLeftovers(log: CgroupLog): number {
    let removed = 0;
    for (const name of subdirs(this.sessionsDir)) {
      const dir = join(this.sessionsDir, name);
      const hadProcesses = populated(dir);
      if (hadProcesses) {
        this.killTree(dir);
        const deadline = Date.now() + SWEEP_WAIT_MS;
        while (populated(dir) && Date.now() < deadline) sleepSync(POLL_MS);
      }
      if (removeTree(dir)) {
        removed++;
        log.info({ cgroup: dir, had_processes: hadProcesses }, 'removed a leftover session cgroup');
      } else {
        log.warn({ cgroup: dir }, 'a leftover session cgroup could not be emptied and removed');
      }
    }
    return removed;
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
    const applied: string[] = [];
    const put = (controller: string, file: string, value: string | null) => {
      if (value === null || !this.controllers.includes(controller)) return;
      const target = join(dir, file);
      if (!existsSync(target)) return;
      try {
        writeFileSync(target, value);
        applied.push(file);
      } catch {
        /* refused by the kernel (EINVAL, EBUSY): not applied */
      }
    };
    put('memory', 'memory.max', intLimit(limits.memoryMax));
    put('memory', 'memory.swap.max', intLimit(limits.memorySwapMax));
    put('pids', 'pids.max', intLimit(limits.pidsMax));
    if (limits.cpuMax) {
      const { quotaUs, periodUs } = limits.cpuMax;
      const ok = Number.isInteger(quotaUs) && Number.isInteger(periodUs) && quotaUs >= 1000 && periodUs >= 1000 && periodUs <= 1_000_000;
      put('cpu', 'cpu.max', ok ? `${quotaUs} ${periodUs}` : null);
    }
    return { applied };
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
    return this.killTree(this.leafDir(sessionId, execId));
  }

  /**
   * Sends `signal` to every process in the command's leaf (for the TERM step
   * of TERM → grace → KILL, and exec.cancel with an explicit signal). Returns
   * how many processes were signalled. Not part of the original interface.
   */
  /** Every process in the command's leaf. */
  execPids(sessionId: string, execId: string): number[] {
    return pidsInTree(this.leafDir(sessionId, execId));
  }

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
      this.killTree(dir);
      const deadline = Date.now() + DESTROY_WAIT_MS;
      while (populated(dir) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    removeTree(dir);
    for (const key of this.oomBaseline.keys()) if (key.startsWith(dir + '/')) this.oomBaseline.delete(key);
  }

  /** Escape-proof SIGKILL of a cgroup and its descendants. */
  private killTree(dir: string): boolean {
    if (this.killMode === 'kill') return tryWrite(join(dir, 'cgroup.kill'), '1');
    // Freezer fallback: frozen tasks cannot fork, and SIGKILL still reaches them.
    if (!isDir(dir)) return false;
    const freezes = [dir, ...descendants(dir)];
    for (const d of freezes) tryWrite(join(d, 'cgroup.freeze'), '1');
    for (let round = 0; round < 20; round++) {
      const pids = pidsInTree(dir);
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      sleepSync(2);
    }
    for (const d of freezes) tryWrite(join(d, 'cgroup.freeze'), '0');
    return true;
  }
}

// ---- small filesystem helpers (cgroupfs) ----

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? String(err);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readText(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function tryWrite(p: string, value: string): boolean {
  try {
    writeFileSync(p, value);
    return true;
  } catch {
    return false;
  }
}

function tryRmdir(p: string): void {
  try {
    rmdirSync(p);
  } catch {
    /* best effort */
  }
}

/** mkdir; true if we created it, false if it existed. Other errors throw. */
function mkdirIfMissing(p: string): boolean {
  try {
    mkdirSync(p);
    return true;
  } catch (err) {
    if (errCode(err) === 'EEXIST' && isDir(p)) return false;
    throw err;
  }
}

/** null when `dir` can be taken over by this process: our cgroup.procs, cgroup.subtree_control and mkdir rights. Otherwise what is missing. */
function delegationProblem(dir: string): string | null {
  const checks: Array<[string, number]> = [
    [dir, constants.W_OK | constants.X_OK],
    [join(dir, 'cgroup.procs'), constants.W_OK],
    [join(dir, 'cgroup.subtree_control'), constants.W_OK],
  ];
  for (const [p, mode] of checks) {
    try {
      accessSync(p, mode);
    } catch (err) {
      let owner = '';
      try {
        owner = ` (owner uid ${statSync(p).uid})`;
      } catch {
        /* no stat */
      }
      return `${p} is not writable${owner}: ${errCode(err)}`;
    }
  }
  return null;
}

/** Enables each controller in dir/cgroup.subtree_control (one write each, so one refusal does not block the others); returns those enabled. */
function enableControllers(dir: string, controllers: readonly string[]): string[] {
  const file = join(dir, 'cgroup.subtree_control');
  const already = parseControllerList(readText(file) ?? '');
  const enabled: string[] = [];
  for (const c of controllers) {
    if (already.includes(c) || tryWrite(file, `+${c}`)) enabled.push(c);
  }
  return enabled;
}

function readPids(procsFile: string): number[] {
  return (readText(procsFile) ?? '')
    .split('\n')
    .map((s) => Number(s))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Every cgroup below dir, deepest first. */
function descendants(dir: string): string[] {
  const out: string[] = [];
  for (const name of subdirs(dir)) {
    const child = join(dir, name);
    out.push(...descendants(child), child);
  }
  return out;
}

function pidsInTree(dir: string): number[] {
  const pids: number[] = [];
  for (const d of [dir, ...descendants(dir)]) pids.push(...readPids(join(d, 'cgroup.procs')));
  return pids;
}

/** cgroup.events populated 1. A missing cgroup is not populated. */
function populated(dir: string): boolean {
  const events = readText(join(dir, 'cgroup.events'));
  if (events === null) return false;
  return parseKeyValues(events).get('populated') === 1;
}

/** rmdir bottom-up. true when dir is gone afterwards; false when something is still in use (EBUSY) or refused. */
function removeTree(dir: string): boolean {
  if (!isDir(dir)) return true;
  for (const d of [...descendants(dir), dir]) {
    try {
      rmdirSync(d);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') return false;
    }
  }
  return true;
}

function intLimit(v: number | undefined): string | null {
  if (v === undefined || !Number.isFinite(v) || v < 0) return null;
  return String(Math.floor(v));
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for ms (used only by the bounded start-up sweep and the freezer fallback). */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
