import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, errorEnvelope } from '../../protocol/errors';
import type { Logger } from '../../system/logger';
import type { AuthOutcome, FailureLimiter } from './auth';
import { idOfBody, readBody } from './body';
import { reply } from './reply';

/** An unauthenticated request's body is read only this far (to echo its id). */
const UNAUTHENTICATED_BODY_BYTES = 16 * 1024;

const WHY: Record<Exclude<AuthOutcome, 'ok'>, string> = {
  missing: 'no bearer token: send the header Authorization: Bearer <TRL_AUTH_TOKEN>',
  malformed: 'malformed Authorization header: expected "Bearer <token>"',
  wrong: "wrong bearer token: send the daemon's TRL_AUTH_TOKEN",
};

/**
 * A request without the right token: 401, or 429 for an address that failed
 * too often (and no log line of its own). Answered, then the connection is
 * closed, so it holds no slot. Nothing else is looked at but the body's id.
 */
export async function refuseUnauthenticated(
  req: IncomingMessage,
  res: ServerResponse,
  auth: Exclude<AuthOutcome, 'ok'>,
  deps: { logger: Logger; limiter: FailureLimiter; maxRequestBytes: number; headersTimeoutMs: number },
): Promise<void> {
  const { logger, limiter } = deps;
  const remote = req.socket.remoteAddress ?? 'unknown';
  res.setHeader('Connection', 'close');
  const wait = limiter.blockedFor(remote);
  if (wait > 0) {
    logger.debug({ remote, transport: 'http' }, 'HTTP request refused: too many failed authentications');
    res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
    reply(res, 429, errorEnvelope('unknown', ErrorCode.RATE_LIMITED, `too many failed authentications from this address; retry in ${Math.ceil(wait / 1000)} s with the right token`));
    req.resume();
    return;
  }
  const left = limiter.fail(remote);
  logger.warn({ remote, reason: auth, attempts_left: left, transport: 'http' }, 'HTTP authentication failed');
  if (left === 0) logger.warn({ remote, transport: 'http', retry_after_s: Math.ceil(limiter.blockedFor(remote) / 1000) }, 'HTTP address rate-limited after repeated authentication failures');
  const body = await readBody(req, Math.min(UNAUTHENTICATED_BODY_BYTES, deps.maxRequestBytes), deps.headersTimeoutMs);
  res.setHeader('WWW-Authenticate', 'Bearer realm="trl"');
  reply(res, 401, errorEnvelope(idOfBody(body), ErrorCode.AUTH_FAILED, WHY[auth]));
}
