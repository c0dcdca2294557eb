import type { HttpSettings } from './config/http';
import type { Config } from './config/schema';
import type { ConnectionSet } from './server/connections';
import type * as HttpDoor from './server/http';
import { listenOnFd, listenOnPath, type Listener } from './server/listener';
import type { Router } from './server/router';
import type { Logger } from './system/logger';
import type { ActivatedSocket } from './system/socket-activation';

/**
 * Every socket the daemon serves: each one systemd passed (the one named
 * "http" served as HTTP), else the configured socket path; HTTP on its own
 * address when TRL_HTTP_LISTEN is set. Throws ListenError.
 */
export async function openListeners(opts: {
  config: Config;
  /** The HTTP settings main.ts validated; null when HTTP is off. */
  http: HttpSettings | null;
  activated: ActivatedSocket[];
  connections: ConnectionSet;
  router: Router;
  logger: Logger;
}): Promise<Listener[]> {
  const { config, activated, connections } = opts;
  const listeners: Listener[] = [];
  const httpFd = activated.find((s) => s.name === 'http');
  for (const s of activated) if (s !== httpFd) listeners.push(await listenOnFd(s.fd, s.name, connections.accept));
  if (activated.length === 0) listeners.push(await listenOnPath(config.socket_path, connections.accept));
  // The HTTP door (node:http, TLS, its handlers) is loaded only when HTTP is on: most daemons never serve it.
  const http = opts.http && (await (require('./server/http') as typeof HttpDoor).listenHttp({ config, settings: opts.http, router: opts.router, logger: opts.logger, ...(httpFd ? { fd: httpFd.fd } : {}) }));
  if (http) listeners.push(http);
  // A failed accept (EMFILE when the daemon is out of descriptors) is reported on the server; it keeps listening.
  for (const l of listeners) l.server.on('error', (err) => opts.logger.warn({ err: err.message, listen: l.where }, 'accepting a connection failed'));
  return listeners;
}
