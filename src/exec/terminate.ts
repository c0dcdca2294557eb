import { setTimeout as sleep } from 'node:timers/promises';
import { findMembers, stopThenKill, type KillReport, type KillScope } from '../system/kill';
import { anyAlive, findCommandProcesses, readProcStat, readStartTime, signalGroup, signalProcesses } from '../system/proc';

/** One command's processes as the terminator sees them. */
export interface ProcessTree {
  /** The root of the tree (a command's shell), if it may still be alive. */
  pid?: number;
  /** Process groups whose members all belong to the tree. */
  pgids: number[];
  /** `TRL_EXEC_ID=…` or `TRL_SESSION_ID=…`: found in the environment of descendants that left the tree. */
  marker: Buffer;
  /** The command's cgroup, when there is one: nothing escapes it. */
  cgroup?: CgroupHandle;
  /** The root process itself: signalled through its handle (the native spawner's pidfd), never a pid that may have been reused. */
  leader?: { signal(signal: NodeJS.Signals): boolean };
  /** Processes the daemon adopted from this tree (its children since their parent ended), asked again on each look. */
  adopted?: () => number[];
}

/** One command's cgroup leaf, as the terminator uses it. */
export interface CgroupHandle {
  signal(signal: NodeJS.Signals): void;
  /** Every process in the leaf. */
  pids(): number[];
  /** An escape-proof SIGKILL of every process in it (cgroup.kill); false when it could not be done. */
  kill(): boolean;
  populated(): boolean;
}

const POLL_MS = 25;

/**
 * Stops a command: SIGTERM to its group and to every process of its tree
 * (descendants that called setsid, and those that carry its marker), a grace
 * period that ends early once all of them are gone, then a kill that cannot
 * be outrun: cgroup.kill where there is a cgroup, and in any case
 * stop-then-kill over /proc (system/kill.ts). Resolves only once the tree is
 * gone (or the kill's time budget is spent), so an answer that reports the
 * stop comes after it. Pids are remembered with their start time, so a pid
 * reused by an unrelated process in the meantime is never signalled.
 */
export async function terminateTree(tree: ProcessTree, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<KillReport> {
  // A TERM step that found nothing at all: one more empty look settles it (an idle session's destroy costs two passes).
  let emptyRounds = 2;
  if (signal !== 'SIGKILL') {
    const targets = await findMembers(scopeOf(tree));
    if (targets.size === 0 && !tree.cgroup) emptyRounds = 1;
    const byPid = tree.leader ? new Map([...targets].filter(([pid]) => pid !== tree.pid)) : targets;
    // Frozen while the signal lands: a shell cannot see its child die first and print "Terminated" on the user's stderr.
    const sendAll = (s: NodeJS.Signals): void => {
      for (const pgid of tree.pgids) signalGroup(pgid, s);
      tree.leader?.signal(s);
      signalProcesses(byPid, s);
      tree.cgroup?.signal(s);
    };
    sendAll('SIGSTOP');
    sendAll(signal);
    sendAll('SIGCONT');
    const deadline = Date.now() + graceMs;
    // Zombies stay in the group until reaped by their parent, so only live members count here.
    while (Date.now() < deadline && (anyAlive(targets) || tree.cgroup?.populated())) {
      await sleep(Math.min(POLL_MS, Math.max(1, deadline - Date.now())));
    }
  }
  tree.cgroup?.kill();
  const report = await stopThenKill(scopeOf(tree), emptyRounds);
  if (tree.cgroup) {
    const deadline = Date.now() + 1000;
    while (tree.cgroup.populated() && Date.now() < deadline) await sleep(5);
  }
  return report;
}

/**
 * One signal, delivered once to each process of the tree, with no escalation
 * (exec.cancel with an explicit signal). The command's group gets it in one
 * kill, as a terminal's Ctrl-C does: a child the shell forks this instant is
 * in it too, whereas a shell sent SIGINT waits for a running child that never
 * got it. Then each process outside the group — descendants that left it,
 * marked processes, the cgroup's — gets it once (not twice: a program must
 * see one SIGINT).
 */
export function signalTree(tree: ProcessTree, signal: NodeJS.Signals): void {
  const targets = snapshot(tree);
  for (const pid of tree.cgroup?.pids() ?? []) {
    if (targets.has(pid)) continue;
    const start = readStartTime(pid);
    if (start !== null) targets.set(pid, start);
  }
  for (const pid of targets.keys()) {
    const pgrp = readProcStat(pid)?.pgrp;
    if (pgrp !== undefined && tree.pgids.includes(pgrp)) targets.delete(pid);
  }
  for (const pgid of tree.pgids) signalGroup(pgid, signal);
  signalProcesses(targets, signal);
}

function scopeOf(tree: ProcessTree): KillScope {
  const { cgroup, adopted } = tree;
  const extraPids = cgroup || adopted ? () => [...(cgroup?.pids() ?? []), ...(adopted?.() ?? [])] : undefined;
  return { rootPid: tree.pid, pgids: tree.pgids, markers: [tree.marker], extraPids };
}

function snapshot(tree: ProcessTree): Map<number, string> {
  const targets = new Map<number, string>();
  for (const pid of findCommandProcesses({ rootPid: tree.pid, pgids: tree.pgids, marker: tree.marker })) {
    const start = readStartTime(pid);
    if (start !== null) targets.set(pid, start);
  }
  return targets;
}
