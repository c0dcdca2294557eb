// First: replaces Node's SIGUSR1 handler (the inspector) before anything else runs.
import { inspectorProblem, onSigusr1 } from './system/no-inspector';
import { hardenSelf } from './native/harden';
// Then, before any secret is read: commands (same uid) cannot read this process's memory or environ.
const hardening = hardenSelf();

import { nativeAddon } from './native/addon';
import { setNativeRunEnd } from './protocol/json-escape';
// The JSON encoder's scan of long runs in C (a quarter of the daemon's CPU while output streams), when the addon is there.
setNativeRunEnd(nativeAddon().addon?.jsonRunEnd ?? null);

import { validateHttpConfig } from './config/http';
import { ConfigError, loadConfig } from './config/load';
import { renderHelp } from './config/help';
import { CommandUserError } from './exec/spawner-select';
import { ConnectionSet } from './server/connections';
import { ListenError } from './server/listener';
import { codeCacheReport } from './system/code-cache-report';
import { createLogger } from './system/logger';
import { createNotifier } from './system/systemd-notify';
import { UnsafePathError } from './system/runtime-dir';
import { takeActivatedSockets } from './system/socket-activation';
import { VERSION } from './system/version';
import { openListeners } from './listen';
import { assemble } from './startup';
import { serveStdioUntilEnd, supervise } from './supervisor';

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
  // Checked (and its PEM files read) once, before anything binds: a bad setting must stop start-up.
  const http = validateHttpConfig(config, { activated: activated.some((s) => s.name === 'http') });

  const logger = createLogger(config.log_level, config.stdio ? 2 : 1);
  onSigusr1(() => logger.warn('SIGUSR1 ignored: the daemon never opens the Node inspector'));
  if (loaded.unknownKeys.length) logger.warn({ keys: loaded.unknownKeys }, 'unknown TRL_* settings ignored');
  if (uid === 0) logger.warn('running as root because TRL_ALLOW_ROOT is set: commands run as root');
  const codeCache = codeCacheReport();
  if (codeCache?.reason) logger.warn({ path: codeCache.path, state: codeCache.state }, `V8 code cache not used: ${codeCache.reason}; \`dpkg-reconfigure trl\` makes a new one (start-up is slower without it)`);
  const notifier = createNotifier(logger);
  const { registry, router, spawnerName, connections: current } = await assemble(loaded, { uid, hardening, startedAt, logger });
  const limits = { maxRequestBytes: config.max_request_bytes, maxInflight: config.max_inflight_per_connection };
  // A bug must never pass silently: tests fail on these lines (test/helpers/daemon.ts).
  process.on('unhandledRejection', (err) => logger.fatal({ err }, 'unhandled rejection'));
  process.on('uncaughtExceptionMonitor', (err) => logger.fatal({ err }, 'uncaught exception'));

  if (config.stdio) {
    process.off('SIGTERM', exitEarly).off('SIGINT', exitEarly);
    return serveStdioUntilEnd({ registry, router, logger, limits });
  }

  const connections = new ConnectionSet(router, { ...limits, firstRequestMs: config.first_request_timeout_s * 1000, maxConnections: config.max_connections }, logger);
  current.current = connections;
  const listeners = await openListeners({ config, http, activated, connections, router, logger });
  process.off('SIGTERM', exitEarly).off('SIGINT', exitEarly);
  supervise({ registry, connections, listeners, router, notifier, logger, idleExitS: activated.length > 0 ? config.idle_exit_s : 0 });
  logger.info(
    { listen: listeners.map((l) => l.where), spawner: spawnerName, activated: activated.length > 0, version: VERSION, node: process.version, max_sessions: config.max_sessions, startup_ms: Math.round(performance.now()), ...(codeCache ? { code_cache: codeCache.state } : {}) },
    'trld ready',
  );
}

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(`trld: ${err.message}`, 2);
  if (err instanceof CommandUserError) fail(`trld: ${err.message}`, 2);
  if (err instanceof UnsafePathError || err instanceof ListenError) fail(`trld: ${err.message}`, 1);
  process.stderr.write(`trld: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});
