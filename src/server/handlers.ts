import {
  ExecRunParams,
  NoParams,
  SessionCreateParams,
  SessionDestroyParams,
  SessionRefParams,
} from '../protocol/messages';
import type { SessionPool } from '../sessions/pool';
import { openFdCount, residentBytes } from '../system/stats';
import { VERSION } from '../system/version';
import { Router } from './router';

export interface DaemonInfo {
  startedAt: number;
  connections(): number;
  containment: string;
}

const uptimeS = (info: DaemonInfo) => Math.floor((Date.now() - info.startedAt) / 1000);

/** The v1 methods, wired to the session pool. */
export function createRouter(pool: SessionPool, info: DaemonInfo): Router {
  return new Router()
    .register('system.ping', NoParams, () => ({ uptime_s: uptimeS(info), version: VERSION }))
    .register('system.stats', NoParams, () => ({
      active_sessions: pool.activeSessions,
      total_commands_run: pool.totalCommandsRun,
      uptime_s: uptimeS(info),
      memory_rss_bytes: residentBytes(),
      open_fds: openFdCount(),
      running_commands: pool.runningCommands,
      connections: info.connections(),
      containment: info.containment,
      version: VERSION,
    }))
    .register('session.create', SessionCreateParams, async (p) => {
      const s = await pool.create(p);
      return { ...s.summary(), timeout_s: pool.effectiveTimeoutS(s) };
    })
    .register('session.list', NoParams, () => ({ sessions: pool.list().map((s) => s.summary()) }))
    .register('session.info', SessionRefParams, (p) => {
      const s = pool.get(p.session_id);
      return {
        ...s.summary(),
        env_keys: pool.envKeys(s),
        last_activity: new Date(s.lastActivity).toISOString(),
        command_count: s.commandCount,
        timeout_s: pool.effectiveTimeoutS(s),
      };
    })
    .register('session.destroy', SessionDestroyParams, async (p) => {
      await pool.destroy(p.session_id, p.force ?? false);
      return { session_id: p.session_id, state: 'terminated' };
    })
    .register('exec.run', ExecRunParams, (p) => pool.run(p));
}
