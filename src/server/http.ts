import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { isLoopback, type HttpSettings } from '../config/http';
import type { Config } from '../config/schema';
import { ErrorCode, errorEnvelope } from '../protocol/errors';
import type { Logger } from '../system/logger';
import { AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_MS, FailureLimiter, digest } from './http/auth';
import { reply } from './http/reply';
import { handleHttp, type HttpDoor } from './http/request';
import { HttpSlots } from './http/slots';
import { ListenError, type Listener } from './listener';
import type { Router } from './router';

/** How often Node checks its connections for the headers and request timeouts. */
const TIMEOUT_CHECK_MS = 1000;
/** A request whose body is not complete this long after its headers is answered 408 and closed. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * The HTTP door: the socket's envelope over `POST /`, behind a bearer token,
 * through the same exchange (src/server/http/request.ts), with the settings
 * main.ts validated. Streaming methods answer with chunked NDJSON: the
 * response envelope, then the exec's events, ending after `exit`.
 */
export async function listenHttp(opts: { config: Config; settings: HttpSettings; router: Router; logger: Logger; fd?: number }): Promise<Listener> {
  const { config, settings, logger } = opts;

  const headersTimeoutMs = Math.max(1, Math.round(config.http_headers_timeout_s * 1000));
  const door: HttpDoor = {
    router: opts.router,
    logger,
    expected: digest(settings.token),
    limiter: new FailureLimiter(AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_MS),
    slots: new HttpSlots(config.max_connections),
    headersTimeoutMs,
    maxRequestBytes: config.max_request_bytes,
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void handleHttp(req, res, door).catch((err: unknown) => {
      logger.error({ err, transport: 'http' }, 'HTTP request failed unexpectedly');
      if (!res.headersSent) reply(res, 500, errorEnvelope('unknown', ErrorCode.INTERNAL_ERROR, 'internal error; the daemon logged the details'));
      else res.destroy();
    });
  };
  // A connection that sends no complete request head within the headers timeout is answered 408 and closed.
  const timeouts = { connectionsCheckingInterval: TIMEOUT_CHECK_MS, headersTimeout: headersTimeoutMs, requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeoutMs) };
  const server: Server = settings.tls
    ? createHttpsServer({ ...timeouts, cert: settings.tls.cert, key: settings.tls.key, handshakeTimeout: headersTimeoutMs }, handler)
    : createHttpServer(timeouts, handler);
  server.on('connection', (socket: Socket) => door.slots.admit(socket));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Written, then destroyed: the server allows half-open sockets, so end() alone would
    // leave a peer that never closes its side holding the slot (FIN-WAIT-2) for ever.
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const done = () => {
        server.off('error', reject);
        resolve();
      };
      if (opts.fd !== undefined) server.listen({ fd: opts.fd }, done);
      else server.listen({ host: settings.bind!.host, port: settings.bind!.port, exclusive: true }, done);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ListenError(`cannot listen for HTTP on ${settings.where}: ${code}; choose another TRL_HTTP_LISTEN address or port, or stop what is using it`);
  }

  const address = server.address();
  const where = opts.fd !== undefined ? `${settings.where} (fd ${opts.fd})` : typeof address === 'object' && address ? urlOf(address, settings.tls !== null) : settings.where;
  const loopback = typeof address === 'object' && address ? isLoopback(address.address) : settings.loopback;
  if (loopback === false && settings.tls === null) {
    logger.warn(
      { listen: where },
      'HTTP is listening on a non-loopback address without TLS: the bearer token and all traffic travel in clear text; ' +
        'set TRL_HTTP_TLS_CERT and TRL_HTTP_TLS_KEY, or put a TLS-terminating proxy in front and bind loopback',
    );
  }
  return {
    server,
    where,
    close: () => {
      server.close();
      server.closeIdleConnections();
    },
  };
}

function urlOf(a: AddressInfo, tls: boolean): string {
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${tls ? 'https' : 'http'}://${host}:${a.port}`;
}
