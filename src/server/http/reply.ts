import type { ServerResponse } from 'node:http';
import { isSmall } from '../../protocol/encode';
import { ErrorCode, errorEnvelope } from '../../protocol/errors';
import { encodeLine } from '../../protocol/ndjson';
import type { Logger } from '../../system/logger';
import { idOf } from '../envelope';
import { Outbox } from '../outbox';

/** One envelope as the whole body, with a Content-Length. */
export function reply(res: ServerResponse, status: number, message: object): void {
  if (res.headersSent || res.destroyed) return;
  const body = encodeLine(message);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

/**
 * A router's answer: small ones whole with a Content-Length; large ones
 * (a big exec.run result, exec.list) chunked, a piece at a time, waiting for
 * 'drain' (src/server/outbox.ts). One that cannot be encoded is a 500 with an
 * INTERNAL_ERROR envelope.
 */
export function replyAnswer(res: ServerResponse, response: object, logger: Logger): Promise<void> {
  if (res.headersSent || res.destroyed) return Promise.resolve();
  const done = new Promise<void>((resolve) => {
    res.once('close', resolve);
    res.once('finish', resolve);
  });
  if (isSmall(response)) {
    let body: string;
    try {
      body = encodeLine(response);
    } catch (err) {
      logger.error({ err, transport: 'http' }, 'an answer could not be encoded');
      reply(res, 500, errorEnvelope(idOf(response), ErrorCode.INTERNAL_ERROR, 'internal error: the answer could not be encoded; the daemon logged the details'));
      return Promise.resolve();
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
    return done;
  }
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  const outbox = new Outbox(
    {
      write: (data, done) => res.write(data, done),
      get writableLength() {
        return res.writableLength;
      },
      get open() {
        return !res.destroyed && !res.writableEnded;
      },
      drained: () =>
        new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        }),
      abort: () => res.destroy(),
    },
    (err) => logger.error({ err, transport: 'http' }, 'an answer could not be written'),
    () => {},
  );
  outbox.push(response, () => res.end());
  return done;
}
