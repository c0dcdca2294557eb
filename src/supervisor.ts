import type { ConnectionSet } from './server/connections';
import type { Listener } from './server/listener';
import { serveStdio } from './server/stdio';
import type { Router } from './server/router';
import type { SessionRegistry } from './sessions/registry';
import type { Logger } from './system/logger';
import { memoryTrim } from './system/memory-trim';
import type { Notifier } from './system/systemd-notify';

export interface Running {
  registry: SessionRegistry;
  connections: ConnectionSet;
  listeners: Listener[];
  router: Router;
  notifier: Notifier;
  logger: Logger;
  /** Exit after this long with no sessions and no connections; 0 = never. Only when socket-activated. */
  idleExitS: number;
}

/**
 * The daemon from READY to exit: STATUS= kept current, idle exit, and the
 * shutdown on SIGTERM/SIGINT — STOPPING=1, stop accepting, refuse new
 * requests, stop every command (TERM → grace → KILL), close connections
 * once answered, remove the socket file we created, exit 0.
 */
export function supervise(r: Running): void {
  const { registry, connections, notifier, logger } = r;
  const status = () => `${registry.activeSessions} sessions, ${registry.runningCommands} running, ${connections.size} connections`;
  notifier.ready(status());
  memoryTrim.startedUp();

  // STATUS= at most once a second: a datagram per command would tax the hot path.
  let statusDue = false;
  const statusTimer = setInterval(() => {
    if (statusDue) notifier.status(status());
    statusDue = false;
  }, 1000);
  statusTimer.unref();

  let stopping = false;
  const shutdown = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    notifier.stopping();
    logger.info({ reason, sessions: registry.activeSessions, running: registry.runningCommands }, 'shutting down');
    for (const l of r.listeners) l.close();
    r.router.refuseAll('the daemon is shutting down; reconnect when it is back');
    await registry.destroyAll('shutdown');
    await connections.closeAll(1000);
    notifier.close();
    logger.info('stopped');
    process.exit(0);
  };

  // Socket-activated, the daemon may exit when unused: systemd starts it again on the next connection.
  let idleTimer: NodeJS.Timeout | undefined;
  const checkIdle = () => {
    if (r.idleExitS <= 0) return;
    clearTimeout(idleTimer);
    if (registry.activeSessions === 0 && connections.size === 0) {
      idleTimer = setTimeout(() => void shutdown('idle'), r.idleExitS * 1000);
    }
  };
  registry.onChange = connections.onChange = () => {
    statusDue = true;
    checkIdle();
  };
  checkIdle();

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => logger.info('SIGHUP ignored: restart the daemon to change settings'));
}

/** --stdio: requests on stdin until its end, then every command is stopped and the daemon exits 0; so on SIGTERM or SIGINT. */
export async function serveStdioUntilEnd(opts: {
  registry: SessionRegistry;
  router: Router;
  logger: Logger;
  limits: { maxRequestBytes: number; maxInflight: number };
}): Promise<void> {
  const { registry } = opts;
  const stop = () => void registry.destroyAll('signal').then(() => process.exit(0));
  process.on('SIGTERM', stop).on('SIGINT', stop);
  await serveStdio({ router: opts.router, logger: opts.logger, ...opts.limits });
  await registry.destroyAll('end of input');
  process.exit(0);
}
