import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, errorEnvelope } from '../../protocol/errors';
import type { Logger } from '../../system/logger';
import { BODY_WORDING, parseEnvelope } from '../envelope';
import { exchange } from '../exchange';
import type { Router } from '../router';
import { checkAuth, type FailureLimiter } from './auth';
import { readBody } from './body';
import { refuseUnauthenticated } from './refuse';
import { reply, replyAnswer } from './reply';
import type { HttpSlots } from './slots';
import { ResponseSink } from './stream';

/** The one endpoint: `POST /` with a JSON envelope. */
const ENDPOINT = '/';

export interface HttpDoor {
  router: Router;
  logger: Logger;
  /** The SHA-256 digest of TRL_AUTH_TOKEN. */
  expected: Buffer;
  limiter: FailureLimiter;
  slots: HttpSlots;
  headersTimeoutMs: number;
  maxRequestBytes: number;
}

/**
 * One HTTP request, checked in the documented order: the bearer token
 * (nothing else happens without it), then the request line and headers, then
 * the body, capped while it is read; then the envelope goes through the same
 * exchange as a socket line.
 */
export async function handleHttp(req: IncomingMessage, res: ServerResponse, door: HttpDoor): Promise<void> {
  req.on('error', () => {});
  res.on('error', () => {});
  // The right token is never rate-limited: on a loopback bind every local process is 127.0.0.1,
  // so limiting the address would let any of them lock the legitimate client out.
  const auth = checkAuth(req.headers.authorization, door.expected);
  if (auth !== 'ok') return refuseUnauthenticated(req, res, auth, door);
  door.slots.prove(req.socket);

  const refusal = refuseHead(req, door.maxRequestBytes);
  if (refusal !== null) {
    // Too large: the body is left unread and the connection closed. Otherwise it is drained, so the connection can be kept alive.
    if (refusal.status !== 413) req.resume();
    for (const [name, value] of Object.entries(refusal.headers ?? {})) res.setHeader(name, value);
    return reply(res, refusal.status, refusal.message);
  }
  const body = await readBody(req, door.maxRequestBytes);
  if (!body.ok) {
    res.setHeader('Connection', 'close');
    return reply(res, 413, tooLarge(door.maxRequestBytes));
  }
  const envelope = parseEnvelope(body.text, BODY_WORDING);
  if (!envelope.ok) return reply(res, 400, envelope.response);

  const sink = new ResponseSink(res);
  const remote = req.socket.remoteAddress ?? 'unknown';
  const { response, events } = await exchange(envelope, { router: door.router, logger: door.logger, sink, logFields: { transport: 'http', remote } });
  if (events !== null) sink.answer(response, events);
  else await replyAnswer(res, response, door.logger);
}

interface Refusal {
  status: number;
  message: object;
  headers?: Record<string, string>;
}

/** The request line and headers: how to refuse them, or null when they are fine. */
function refuseHead(req: IncomingMessage, maxRequestBytes: number): Refusal | null {
  const path = (req.url ?? '').split('?')[0];
  if (path !== ENDPOINT) {
    return { status: 404, message: errorEnvelope('unknown', ErrorCode.INVALID_PARAMS, `no such endpoint ${JSON.stringify(path)}: send POST ${ENDPOINT} with a JSON request`) };
  }
  if (req.method !== 'POST') {
    return {
      status: 405,
      message: errorEnvelope('unknown', ErrorCode.INVALID_PARAMS, `method ${req.method} not allowed: send POST ${ENDPOINT} with a JSON request`),
      headers: { Allow: 'POST' },
    };
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return {
      status: 415,
      message: errorEnvelope('unknown', ErrorCode.INVALID_PARAMS, `Content-Type ${JSON.stringify(type || '(none)')} not supported: send Content-Type: application/json`),
    };
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxRequestBytes) return { status: 413, message: tooLarge(maxRequestBytes), headers: { Connection: 'close' } };
  return null;
}

function tooLarge(max: number): object {
  return errorEnvelope('unknown', ErrorCode.INVALID_PARAMS, `request body larger than ${max} bytes (TRL_MAX_REQUEST_BYTES); send a smaller request`);
}
