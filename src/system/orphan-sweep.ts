import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopThenKill } from './kill';
import type { LedgerEntry } from './ledger-file';
import { anyAlive, findMarkedProcesses, listPids, readProcStat, signalGroup, signalProcesses } from './proc';

/** What the start-up sweep found and did. */
export interface SweepResult {
  recorded: number;
  killed: number;
  strays: number;
  ms: number;
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
 * the same TERM, grace, then a stop-then-kill. `killed`: recorded groups ended; `strays`: processes outside them.
 */
export async function sweepOrphans(previous: { entries: LedgerEntry[]; sessions: string[] }, selfPid: number, graceMs: number): Promise<SweepResult> {
  const started = Date.now();
  const recorded = previous.entries.length;
  const targets = previous.entries.filter((e) => stillOurs(e, selfPid));
  const sessionIds = new Set([...previous.sessions, ...previous.entries.map((e) => e.sessionId)]);
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
    remaining = remaining.filter((e) => stillOurs(e, selfPid));
  }
  const pgids = remaining.filter((e) => stillOurs(e, selfPid)).map((e) => e.pgid);
  if (pgids.length > 0 || markers.length > 0) await stopThenKill({ pgids, markers });
  return { recorded, killed: targets.length, strays: strays.size, ms: Date.now() - started };
}

/** True when the group recorded in `e` still exists and is the one we started. */
function stillOurs(e: LedgerEntry, selfPid: number): boolean {
  if (e.pgid === selfPid || e.pid === selfPid) return false;
  const leader = readProcStat(e.pid);
  // A live process under the recorded pid with another start time means the
  // pid was reused, which the kernel allows only once the old group is gone.
  if (leader) return leader.startTime === e.startTime && (leader.pgrp === e.pgid || hasMembers(e, selfPid));
  return hasMembers(e, selfPid);
}

/** Processes still in the recorded pgid, of our uid, started no earlier than the recorded leader. */
function hasMembers(e: LedgerEntry, selfPid: number): boolean {
  const uid = process.getuid?.() ?? -1;
  const since = BigInt(e.startTime);
  for (const pid of listPids()) {
    if (pid === selfPid) continue;
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
