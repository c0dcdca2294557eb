import { ConfigError, loadConfig } from './config/load';
import { renderHelp } from './config/help';
import { spawnWithNode } from './exec/spawn';
import { ConnectionSet } from './server/connections';
import { createRouter } from './server/handlers';
import { ListenError, listenOnPath, type Listener } from './server/listener';
import { SessionPool } from './sessions/pool';
import { buildRuntimeEnv } from './system/env';
import { createLogger } from './system/logger';
import { VERSION } from './system/version';

/** trld: wires config, logger, sessions and the listener together, and owns shutdown. */
async function main(): Promise<void> {
  const startedAt = Date.now();
  const uid = process.getuid?.() ?? -1;
  const loaded = loadConfig(process.argv.slice(2), process.env, uid);
  if (loaded.help) return void process.stdout.write(renderHelp(VERSION));
  if (loaded.version) return void process.stdout.write(`${VERSION}\n`);
  const { config } = loaded;
  if (uid === 0 && !config.allow_root) {
    fail(
      'trld refuses to run as root: every command an agent sends would run with full privileges. ' +
        'Run it as an unprivileged user (the package uses the trl user), or set TRL_ALLOW_ROOT=1 to accept that risk.',
      1,
    );
  }

  const log = createLogger(config.log_level);
  if (loaded.unknownKeys.length) log.warn({ keys: loaded.unknownKeys }, 'unknown TRL_* settings ignored');
  if (uid === 0) log.warn('running as root because TRL_ALLOW_ROOT is set: commands run as root');

  const runtimeEnv = buildRuntimeEnv(process.env, loaded.envFileVars);
  const pool = new SessionPool(config, runtimeEnv, spawnWithNode, log);
  let connections: ConnectionSet | null = null;
  const router = createRouter(pool, { startedAt, connections: () => connections?.size ?? 0, containment: 'process-group' }, {
    maxStdinBytes: config.max_stdin_bytes,
  });
  connections = new ConnectionSet(
    router,
    {
      maxRequestBytes: config.max_request_bytes,
      maxInflight: config.max_inflight_per_connection,
      maxConnections: config.max_connections,
    },
    log,
  );

  let listener: Listener;
  try {
    listener = await listenOnPath(config.socket_path, connections.accept);
  } catch (err) {
    if (err instanceof ListenError) fail(`trld: ${err.message}`, 1);
    throw err;
  }
  log.info(
    { socket: listener.where, version: VERSION, node: process.version, env_keys: Object.keys(runtimeEnv).length, max_sessions: config.max_sessions },
    'trld ready',
  );

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, sessions: pool.activeSessions, running: pool.runningCommands }, 'shutting down');
    listener.close();
    router.refuseAll('the daemon is shutting down; reconnect when it is back');
    await pool.destroyAll('shutdown');
    await connections!.closeAll(1000);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => log.info('SIGHUP ignored: restart the daemon to change settings'));
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) fail(`trld: ${err.message}`, 2);
  process.stderr.write(`trld: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
});
