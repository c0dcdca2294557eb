import type { Containment } from '../exec/containment';
import { groupExists } from '../system/proc';
import type { ExecTable } from './exec-table';
import type { GroupTracker, RegistrySettings } from './registry-options';
import type { Session } from './session';

/** Often enough that a session expires within a quarter of its limit, at most every 10 s. */
export function housekeepingIntervalMs(s: RegistrySettings): number {
  const limits = [s.max_idle_sec, s.session_ttl_sec].filter((v) => v > 0);
  if (limits.length === 0) return 10_000;
  return Math.min(10_000, Math.max(200, (Math.min(...limits) * 1000) / 4));
}

/** A finished command's process group, forgotten once its background jobs have ended. */
export function forgetIfGone(session: Session, pgid: number, tracker: GroupTracker | null): void {
  if (groupExists(pgid)) return;
  session.lingering.delete(pgid);
  tracker?.remove(pgid);
}

/**
 * One housekeeping pass: old results dropped, background groups and cgroup
 * leaves that have ended forgotten. Returns the sessions to expire, with why.
 */
export function sweep(
  sessions: Iterable<Session>,
  execs: ExecTable,
  ctx: { settings: RegistrySettings; tracker: GroupTracker | null; containment: Containment | null },
  now = Date.now(),
): { session: Session; reason: 'ttl' | 'idle' }[] {
  execs.expire(now);
  const { max_idle_sec: idle, session_ttl_sec: ttl } = ctx.settings;
  const expired: { session: Session; reason: 'ttl' | 'idle' }[] = [];
  for (const session of sessions) {
    if (session.cgroup) ctx.containment?.sweepSession(session.id);
    for (const pgid of session.lingering) forgetIfGone(session, pgid, ctx.tracker);
    if (ttl > 0 && now - session.createdAt.getTime() >= ttl * 1000) expired.push({ session, reason: 'ttl' });
    else if (idle > 0 && session.state === 'idle' && now - session.lastActivity >= idle * 1000) expired.push({ session, reason: 'idle' });
  }
  return expired;
}
