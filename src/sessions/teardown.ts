import type { Adopter } from '../exec/adoptions';
import type { Containment } from '../exec/containment';
import { terminateTree } from '../exec/terminate';
import type { Logger } from '../system/logger';
import type { GroupTracker } from './registry-options';
import type { Session } from './session';

/** What stopping a session's processes needs of the daemon. */
export interface TeardownContext {
  graceMs: number;
  tracker: GroupTracker | null;
  containment: Containment | null;
  /** The orphans the daemon adopted, where it adopts them. */
  adopted: Adopter | null;
  log: Logger;
}

/**
 * Stops a removed session's command and every process it left behind (its
 * lingering groups, its marker's carriers, its cgroup, what the daemon
 * adopted of it), then forgets them.
 */
export async function tearDown(session: Session, force: boolean, ctx: TeardownContext): Promise<void> {
  const signal = force ? 'SIGKILL' : 'SIGTERM';
  const adopted = ctx.adopted ? () => ctx.adopted!.of(session.id) : undefined;
  const sweep = terminateTree({ pgids: [...session.lingering], marker: session.marker, ...(adopted ? { adopted } : {}) }, ctx.graceMs, signal);
  const waits: Promise<unknown>[] = [sweep];
  const run = session.current?.run;
  if (run) waits.push(run.cancel(signal), run.done);
  if (session.cgroup) waits.push(ctx.containment!.closeSession(session.id));
  await Promise.all(waits);
  // Its processes are gone; what a leader that ended in the kill handed over goes too, and what is handed over later dies on sight.
  await ctx.adopted?.close(session.id);
  for (const pgid of session.lingering) ctx.tracker?.remove(pgid);
  session.lingering.clear();
  // Kept while anything carrying the marker is alive, so that a later start-up still sweeps it.
  const { survivors, stable } = await sweep;
  if (survivors === 0 && stable) ctx.tracker?.removeSession(session.id);
  else ctx.log.warn({ session: session.id, survivors, stable }, 'processes of a destroyed session may have survived the kill; the next start-up sweeps them');
}
