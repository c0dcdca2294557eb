// First: replaces Node's SIGUSR1 handler (the inspector) before anything else runs.
import { inspectorProblem, onSigusr1 } from './system/no-inspector';
import { hardenSelf } from './native/harden';
// Then, before any secret is read: commands (same uid) cannot read this process's memory or environ.
const hardening = hardenSelf();

import { validateHttpConfig } from './config/http';
import { ConfigError, loadConfig } from './config/load';
import { renderHelp } from './config/help';
import { CommandUserError, selectSpawner } from './exec/spawner-select';
import { ConnectionSet } from './server/connections';
import { createRouter } from './server/handlers';
import { listenHttp } from './server/http';
import { ListenError, listenOnFd, listenOnPath, type Listener } from './server/listener';
import { serveStdio } from './server/stdio';
import { SessionRegistry } from './sessions/registry';
import { CgroupContainment } from './system/cgroup-containment';
import { detectCgroup } from './system/cgroup-takeover';
import { takeActivatedSockets } from './system/activation';
import { buildRuntimeEnv } from './system/env';
import { OrphanLedger } from './system/ledger';
import { createLogger } from './system/logger';
import { createNotifier } from './system/notify';
import { PressureGauge } from './system/pressure';
import { runtimeDir, UnsafePathError } from './system/runtime-dir';
import { supervise } from './system/lifecycle';
import { VERSION } from './system/version';

/**
 * trld: config → logger → orphan sweep → listen (activated fd or bind) →
 * READY; on SIGTERM: STOPPING → stop accepting → stop commands → exit 0.
 */
async function main(): Promise<void> {
  const startedAt = Date.now();
  const uid = process.getuid?.() ?? -1;
  const loaded = loadConfig(process.argv.slice(2), process.env, uid);
  if (loaded.help) return void process.stdout.write(renderHelp(VERSION));
  if (loaded.version) return void process.stdout.write(`${VERSION}\n`);
  const { config } = loaded;
  const inspector = inspectorProblem(process.execArgv, process.env);
  if (inspector !== null) fail(`trld refuses to start: ${inspector}`, 2);
  if (uid === 0 && !config.allow_root) {
    fail(
      'trld refuses to run as root: every command an agent sends would run with full privileges. ' +
        'Run it as an unprivileged user (the package uses the trl user), or set TRL_ALLOW_ROOT=1 to accept that risk.',
      1,
    );
  }
  // Until the daemon serves, a stop request just exits: nothing has been started yet.
  const exitEarly = () => process.exit(0);
  process.on('SIGTERM', exitEarly).on('SIGINT', exitEarly);
  const activated = takeActivatedSockets();
  validateHttpConfig(config, { activated: activated.some((s) => s.name === 'http') });

  const log = createLogger(config.log_level, config.stdio ? 2 : 1);
  onSigusr1(() => log.warn('SIGUSR1 ignored: the daemon never opens the Node inspector'));
  if (loaded.unknownKeys.length) log.warn({ keys: loaded.unknownKeys }, 'unknown TRL_* settings ignored');
  if (uid === 0) log.warn('running as root because TRL_ALLOW_ROOT is set: commands run as root');
  const notifier = createNotifier(log);
  let spawn: ReturnType<typeof selectSpawner>;
  try {
    spawn = selectSpawner(config, uid, hardening, log);
  } catch (err) {
    if (err instanceof CommandUserError) fail(`trld: ${err.message}`, 2);
    throw err;
  }

  // Before anything is spawned: the daemon moves itself into a leaf of its delegated cgroup.
  const cgroup = detectCgroup(log);
  const containment = cgroup.containment ? `cgroup (${cgroup.containment.controllers.join(', ') || 'no controllers'})` : 'process-group';
  log.info({ containment, reason: cgroup.reason }, cgroup.containment ? 'containment: cgroup per session' : 'containment: process groups (no usable cgroup)');

  const ledger = OrphanLedger.open(runtimeDir(config.runtime_dir, process.env, uid), log);
  const swept = await ledger.sweep(config.kill_grace_ms);
  if (swept.recorded > 0 || swept.strays > 0) log.info(swept, 'orphan sweep done');

  const runtimeEnv = buildRuntimeEnv(process.env, loaded.envFileVars);
  const pressure = new PressureGauge(config.max_rss_bytes, 0.9, log);
  const cgroups = cgroup.containment ? new CgroupContainment(cgroup.containment, log) : null;
  const pool = new SessionRegistry({ settings: config, runtimeEnv, spawner: spawn.spawner, log, tracker: ledger, pressure, containment: cgroups });
  let connections: ConnectionSet | null = null;
  const router = createRouter(
    pool,
    { startedAt, connections: () => connections?.size ?? 0, containment, spawner: spawn.name, pressure: () => pressure.underPressure },
    { maxStdinBytes: config.max_stdin_bytes },
  );
  const limits = { maxRequestBytes: config.max_request_bytes, maxInflight: config.max_inflight_per_connection };
  // A bug must never pass silently: tests fail on these lines (test/helpers/daemon.ts).
  process.on('unhandledRejection', (err) => log.fatal({ err }, 'unhandled rejection'));
  process.on('uncaughtExceptionMonitor', (err) => log.fatal({ err }, 'uncaught exception'));

  if (config.stdio) {
    process.off('SIGTERM', exitEarly).off('SIGINT', exitEarly);
    const stop = () => void pool.destroyAll('signal').then(() => process.exit(0));
    process.on('SIGTERM', stop).on('SIGINT', stop);
    await serveStdio({ router, log, ...limits });
    await pool.destroyAll('end of input');
    process.exit(0);
  }

  connections = new ConnectionSet(router, { ...limits, firstRequestMs: config.first_request_timeout_s * 1000, maxConnections: config.max_connections }, log);
  const listeners: Listener[] = [];
  try {
    const httpFd = activated.find((s) => s.name === 'http');
    for (const s of activated) if (s !== httpFd) listeners.push(await listenOnFd(s.fd, s.name, connections.accept));
    if (activated.length === 0) listeners.push(await listenOnPath(config.socket_path, connections.accept));
    const http = await listenHttp({ config, router, log, ...(httpFd ? { fd: httpFd.fd } : {}) });
    if (http) listeners.push(http);
  } catch (err) {
    if (err instanceof ListenError) fail(`trld: ${err.message}`, 1);
    throw err;
  }

  // A failed accept (EMFILE when the daemon is out of descriptors) is reported on the server; it keeps listening.
  for (const l of listeners) l.server.on('error', (err) => log.warn({ err: err.message, listen: l.where }, 'accepting a connection failed'));
  process.off('SIGTERM', exitEarly).off('SIGINT', exitEarly);
  supervise({ pool, connections, listeners, router, notifier, log, idleExitS: activated.length > 0 ? config.idle_exit_s : 0 });
  log.info(
    { listen: listeners.map((l) => l.where), spawner: spawn.name, activated: activated.length > 0, version: VERSION, node: process.version, max_sessions: config.max_sessions },
    'trld ready',
  );
}

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(`trld: ${err.message}`, 2);
  if (err instanceof UnsafePathError) fail(`trld: ${err.message}`, 1);
  process.stderr.write(`trld: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});
