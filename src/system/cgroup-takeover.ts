import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parentDir, parseCgroup2Mounts, parseControllerList, parseProcCgroup, resolveCgroupDir } from './cgroup-paths';
import { enableControllers, errCode, isDir, killCgroup, mkdirIfMissing, populated, readPids, readText, removeTree, sleepSync, subdirs, tryRmdir, type KillMode } from './cgroup-files';
import { DelegatedCgroup, POLL_MS, WANTED_CONTROLLERS, type CgroupLog } from './cgroup-subtree';

/**
 * Finds the daemon's own cgroup v2 and, when it is delegated to us, takes
 * it over (see DelegatedCgroup). Never throws: returns null and the
 * reason when cgroups cannot be used. Call once per process, before any
 * command is started (a second call sweeps the sessions of the first).
 */
export function detectCgroup(log: CgroupLog): { containment: DelegatedCgroup | null; reason: string } {
  try {
    return detectOrThrow(log);
  } catch (err) {
    return { containment: null, reason: `cgroup set-up failed unexpectedly: ${(err as Error).message}` };
  }
}

function detectOrThrow(log: CgroupLog): { containment: DelegatedCgroup | null; reason: string } {
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

  const cg = new DelegatedCgroup(base, enabled, killMode);
  const swept = sweepLeftovers(cg, log);
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

/** How long the start-up sweep waits for one leftover session to empty after cgroup.kill. */
const SWEEP_WAIT_MS = 3000;

/** Kills and removes every session cgroup left by a previous run. Returns how many were removed. */
function sweepLeftovers(cg: DelegatedCgroup, log: CgroupLog): number {
  let removed = 0;
  for (const name of subdirs(cg.sessionsDir)) {
    const dir = join(cg.sessionsDir, name);
    const hadProcesses = populated(dir);
    if (hadProcesses) {
      killCgroup(cg.killMode, dir);
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
