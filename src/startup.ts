import type { LoadedConfig } from './config/load';
import { selectSpawner } from './exec/spawner-select';
import type { Hardening } from './native/harden';
import type { ConnectionSet } from './server/connections';
import { createRouter } from './server/handlers';
import type { Router } from './server/router';
import { SessionRegistry } from './sessions/registry';
import { CgroupContainment } from './system/cgroup-containment';
import { detectCgroup } from './system/cgroup-takeover';
import { OrphanLedger } from './system/ledger';
import type { Logger } from './system/logger';
import { PressureGauge } from './system/pressure';
import { runtimeDir } from './system/runtime-dir';
import { buildRuntimeEnv } from './system/runtime-env';

/** The daemon's parts before anything listens. */
export interface Assembled {
  registry: SessionRegistry;
  router: Router;
  spawnerName: string;
  /** The socket connections, for system.stats; set once they exist (never in stdio mode). */
  connections: { current: ConnectionSet | null };
}

/**
 * Spawner → containment → orphan sweep → sessions → router, in that order:
 * the daemon moves into its own cgroup leaf before anything is spawned, and
 * what a crashed daemon left is stopped before a new command can start.
 * Throws CommandUserError when TRL_COMMAND_USER cannot be used.
 */
export async function assemble(loaded: LoadedConfig, opts: { uid: number; hardening: Hardening; startedAt: number; logger: Logger }): Promise<Assembled> {
  const { config } = loaded;
  const { uid, logger } = opts;
  const spawn = selectSpawner(config, uid, opts.hardening, logger);

  const cgroup = detectCgroup(logger);
  const containment = cgroup.containment ? `cgroup (${cgroup.containment.controllers.join(', ') || 'no controllers'})` : 'process-group';
  logger.info({ containment, reason: cgroup.reason }, cgroup.containment ? 'containment: cgroup per session' : 'containment: process groups (no usable cgroup)');

  const ledger = OrphanLedger.open(runtimeDir(config.runtime_dir, process.env, uid), logger);
  const swept = await ledger.sweep(config.kill_grace_ms);
  if (swept.recorded > 0 || swept.strays > 0) logger.info(swept, 'orphan sweep done');

  const runtimeEnv = buildRuntimeEnv(process.env, loaded.envFileVars);
  const pressure = new PressureGauge(config.max_rss_bytes, logger);
  const cgroups = cgroup.containment ? new CgroupContainment(cgroup.containment, logger) : null;
  const registry = new SessionRegistry({ settings: config, runtimeEnv, spawner: spawn.spawner, log: logger, tracker: ledger, pressure, containment: cgroups });
  const connections: Assembled['connections'] = { current: null };
  const router = createRouter(
    registry,
    { startedAt: opts.startedAt, connections: () => connections.current?.size ?? 0, containment, spawner: spawn.name, pressure: () => pressure.underPressure },
    { maxStdinBytes: config.max_stdin_bytes, pty: { maxPtys: config.max_ptys, maxCols: config.pty_max_cols, maxRows: config.pty_max_rows } },
  );
  return { registry, router, spawnerName: spawn.name, connections };
}
