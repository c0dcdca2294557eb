import { performance } from 'node:perf_hooks';
import type { EventSink } from './event-sink';
import type { Logger } from '../system/logger';
import type { Envelope } from './envelope';
import type { RequestContext, Router } from './router';

export interface Exchange {
  response: object;
  /** Starts the request's stream events; the door calls it once the response's last byte is written. Null when nothing follows. */
  events: (() => void) | null;
}

/**
 * One request through the router, as every door runs it: answered, logged
 * (method, id, outcome, time, plus what the door adds), and its events held
 * back until the door has written the answer. A failed request never streams.
 */
export async function exchange(
  request: Envelope,
  door: { router: Router; logger: Logger; sink: EventSink; connection?: RequestContext['connection']; logFields?: object },
): Promise<Exchange> {
  const { id, method } = request;
  let events: (() => void) | null = null;
  const ctx: RequestContext = { sink: door.sink, connection: door.connection, afterResponse: (fn) => (events = fn) };
  const t0 = performance.now();
  const { response, code } = await door.router.answer(request, ctx, door.logger);
  const ms = Math.round((performance.now() - t0) * 100) / 100;
  door.logger.info({ method, id, ok: code === undefined, code, ms, ...door.logFields }, 'request');
  return { response, events: code === undefined ? events : null };
}
