import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { validateHttpConfig, isLoopback } from '../config/http';
import type { Config } from '../config/schema';
import type { EventSink } from './event-sink';
import { ErrorCode } from '../protocol/errors';
import { RequestEnvelope } from '../protocol/messages';
import { encodeLine } from '../protocol/ndjson';
import { isSmall } from '../protocol/encode';
import type { Logger } from '../system/logger';
import { idOf } from './connection';
import { HttpSlots } from './http-slots';
import { ListenError, type Listener } from './listener';
import { Outbox, SEND_HIGH_WATER } from './outbox';
import { failure, type RequestContext, type Router } from './router';

/** The one endpoint: `POST /` with a JSON envelope. */
const ENDPOINT = '/';
/** Failed authentications an address may make before it is refused (429) without a comparison. */
export const AUTH_FAILURE_BURST = 10;
/** One failure is forgiven every this many ms (10 a minute). */
export const AUTH_FAILURE_REFILL_MS = 6000;
/** Addresses tracked by the rate limiter at most; the least recently failing go first. */
const MAX_TRACKED_ADDRESSES = 10_000;
/** An unauthenticated request's body is read only this far (to echo its id). */
const UNAUTHENTICATED_BODY_BYTES = 16 * 1024;
/** How often Node checks its connections for the headers and request timeouts. */
const TIMEOUT_CHECK_MS = 1000;
/** A request whose body is not complete this long after its headers is answered 408 and closed. */
const REQUEST_TIMEOUT_MS = 120_000;

type Id = string | number;

/**
 * The HTTP transport (issue 6): the socket's envelope over `POST /`, behind a
 * bearer token, through the same Router. Returns null when HTTP is off.
 * Streaming methods answer with chunked NDJSON: the response envelope, then
 * the exec's events, ending after `exit`.
 */
export async function listenHttp(opts: { config: Config; router: Router; log: Logger; fd?: number }): Promise<Listener | null> {
  const { config, router, log } = opts;
  const settings = validateHttpConfig(config, { activated: opts.fd !== undefined });
  if (settings === null) return null;

  const expected = digest(settings.token);
  const limiter = new FailureLimiter(AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_MS);
  const slots = new HttpSlots(config.max_connections);
  const headersTimeoutMs = Math.max(1, Math.round(config.http_headers_timeout_s * 1000));
  const deps = { router, log, expected, limiter, slots, headersTimeoutMs, maxRequestBytes: config.max_request_bytes };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res, deps).catch((err: unknown) => {
      log.error({ err, transport: 'http' }, 'HTTP request failed unexpectedly');
      if (!res.headersSent) reply(res, 500, failure('unknown', ErrorCode.INTERNAL_ERROR, 'internal error; the daemon logged the details'));
      else res.destroy();
    });
  };
  // A connection that sends no complete request head within the headers timeout is answered 408 and closed.
  const timeouts = { connectionsCheckingInterval: TIMEOUT_CHECK_MS, headersTimeout: headersTimeoutMs, requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeoutMs) };
  const server: Server = settings.tls
    ? createHttpsServer({ ...timeouts, cert: settings.tls.cert, key: settings.tls.key, handshakeTimeout: headersTimeoutMs }, handler)
    : createHttpServer(timeouts, handler);
  server.on('connection', (socket: Socket) => slots.admit(socket));
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
    throw new ListenError(
      `cannot listen for HTTP on ${settings.where}: ${code}; choose another TRL_HTTP_LISTEN address or port, or stop what is using it`,
    );
  }

  const address = server.address();
  const where = opts.fd !== undefined ? `${settings.where} (fd ${opts.fd})` : typeof address === 'object' && address ? urlOf(address, settings.tls !== null) : settings.where;
  const loopback = typeof address === 'object' && address ? isLoopback(address.address) : settings.loopback;
  if (loopback === false && settings.tls === null) {
    log.warn(
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

interface HandlerDeps {
  router: Router;
  log: Logger;
  expected: Buffer;
  limiter: FailureLimiter;
  slots: HttpSlots;
  headersTimeoutMs: number;
  maxRequestBytes: number;
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: HandlerDeps): Promise<void> {
  const { log } = deps;
  const remote = req.socket.remoteAddress ?? 'unknown';
  req.on('error', () => {});
  res.on('error', () => {});

  // 1. Bearer token, compared in constant time. Nothing else happens without it. The right
  // token is never rate-limited: on a loopback bind every local process is 127.0.0.1, so
  // limiting the address would let any of them lock the legitimate client out.
  const auth = checkAuth(req.headers.authorization, deps.expected);
  if (auth !== 'ok') {
    // Unauthenticated: answered, then the connection is closed, so it holds no slot.
    res.setHeader('Connection', 'close');
    // 2. An address that failed too often gets 429 instead of 401 (and no log line of its own).
    const wait = deps.limiter.blockedFor(remote);
    if (wait > 0) {
      log.debug({ remote, transport: 'http' }, 'HTTP request refused: too many failed authentications');
      res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
      reply(res, 429, failure('unknown', 'RATE_LIMITED', `too many failed authentications from this address; retry in ${Math.ceil(wait / 1000)} s with the right token`));
      req.resume();
      return;
    }
    const left = deps.limiter.fail(remote);
    log.warn({ remote, reason: auth, attempts_left: left, transport: 'http' }, 'HTTP authentication failed');
    if (left === 0) log.warn({ remote, transport: 'http', retry_after_s: Math.ceil(deps.limiter.blockedFor(remote) / 1000) }, 'HTTP address rate-limited after repeated authentication failures');
    const body = await readBody(req, Math.min(UNAUTHENTICATED_BODY_BYTES, deps.maxRequestBytes), deps.headersTimeoutMs);
    const id = body.ok ? idOfText(body.text) : 'unknown';
    res.setHeader('WWW-Authenticate', 'Bearer realm="trl"');
    const message =
      auth === 'missing'
        ? 'no bearer token: send the header Authorization: Bearer <TRL_AUTH_TOKEN>'
        : auth === 'malformed'
          ? 'malformed Authorization header: expected "Bearer <token>"'
          : 'wrong bearer token: send the daemon\'s TRL_AUTH_TOKEN';
    reply(res, 401, failure(id, ErrorCode.AUTH_FAILED, message));
    return;
  }

  deps.slots.prove(req.socket);

  // 3. The request line and headers.
  const path = (req.url ?? '').split('?')[0];
  if (path !== ENDPOINT) {
    req.resume();
    reply(res, 404, failure('unknown', ErrorCode.INVALID_PARAMS, `no such endpoint ${JSON.stringify(path)}: send POST ${ENDPOINT} with a JSON request`));
    return;
  }
  if (req.method !== 'POST') {
    req.resume();
    res.setHeader('Allow', 'POST');
    reply(res, 405, failure('unknown', ErrorCode.INVALID_PARAMS, `method ${req.method} not allowed: send POST ${ENDPOINT} with a JSON request`));
    return;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    reply(res, 415, failure('unknown', ErrorCode.INVALID_PARAMS, `Content-Type ${JSON.stringify(type || '(none)')} not supported: send Content-Type: application/json`));
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > deps.maxRequestBytes) {
    res.setHeader('Connection', 'close');
    reply(res, 413, tooLarge(deps.maxRequestBytes));
    return;
  }

  // 4. The body: capped while it is read.
  const body = await readBody(req, deps.maxRequestBytes);
  if (!body.ok) {
    res.setHeader('Connection', 'close');
    reply(res, 413, tooLarge(deps.maxRequestBytes));
    return;
  }
  let message: unknown;
  try {
    message = JSON.parse(body.text);
  } catch (err) {
    reply(res, 400, failure('unknown', ErrorCode.INVALID_PARAMS, `request body is not valid JSON (${(err as Error).message}); send one JSON object`));
    return;
  }
  const envelope = RequestEnvelope.safeParse(message);
  if (!envelope.success) {
    const what = envelope.error.issues.map((i) => (i.path.length ? i.path.join('.') : 'request')).join(', ');
    reply(res, 400, failure(idOf(message), ErrorCode.INVALID_PARAMS, `malformed request: ${what} missing or of the wrong type; expected {"id": string, "method": string, "params": object}`));
    return;
  }

  // 5. The shared router.
  const { id, method, params } = envelope.data;
  const sink = new ResponseSink(res);
  let after: (() => void) | null = null;
  const ctx: RequestContext = { sink, afterResponse: (fn) => (after = fn) };
  const t0 = performance.now();
  const { response, code } = await deps.router.answer(id, method, params, ctx, log);
  log.info({ method, id, ok: code === undefined, code, ms: Math.round((performance.now() - t0) * 100) / 100, transport: 'http', remote }, 'request');
  if (after !== null && code === undefined) {
    sink.begin(response);
    (after as () => void)();
    sink.release();
  } else {
    await replyAnswer(res, response, log);
  }
}

/**
 * A router's answer: small ones whole with a Content-Length; large ones
 * (a big exec.run result, exec.list) chunked, a piece at a time, waiting for
 * 'drain' (src/server/outbox.ts). One that cannot be encoded is a 500 with an
 * INTERNAL_ERROR envelope.
 */
function replyAnswer(res: ServerResponse, response: object, log: Logger): Promise<void> {
  if (isSmall(response)) {
    let body: string;
    try {
      body = encodeLine(response);
    } catch (err) {
      log.error({ err, transport: 'http' }, 'an answer could not be encoded');
      reply(res, 500, failure(idOf(response), ErrorCode.INTERNAL_ERROR, 'internal error: the answer could not be encoded; the daemon logged the details'));
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      if (res.headersSent || res.destroyed) return resolve();
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end(body, () => resolve());
      res.once('close', resolve);
    });
  }
  return new Promise((resolve) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    const outbox = new Outbox(
      {
        write: (data) => res.write(data),
        get writableLength() {
          return res.writableLength;
        },
        get open() {
          return !res.destroyed && !res.writableEnded;
        },
        drained: () =>
          new Promise<void>((done) => {
            res.once('drain', done);
            res.once('close', done);
          }),
        abort: () => res.destroy(),
      },
      (err) => log.error({ err, transport: 'http' }, 'an answer could not be written'),
      () => {},
    );
    outbox.push(response, () => res.end());
    res.once('close', resolve);
    res.once('finish', resolve);
  });
}

/** 'ok', or why not. The comparison is over SHA-256 digests, so every presented token, of any length, takes the same path. */
function checkAuth(header: string | undefined, expected: Buffer): 'ok' | 'missing' | 'malformed' | 'wrong' {
  if (header === undefined || header === '') return 'missing';
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const presented = m ? m[1]! : '';
  const equal = timingSafeEqual(digest(presented), expected);
  if (!m) return 'malformed';
  return equal ? 'ok' : 'wrong';
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Reads the body up to `limit` bytes (and, if given, `withinMs`); past either, stops reading (ok: false). */
function readBody(req: IncomingMessage, limit: number, withinMs = 0): Promise<{ ok: true; text: string } | { ok: false }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = withinMs > 0 ? setTimeout(() => settle({ ok: false }), withinMs) : null;
    const settle = (v: { ok: true; text: string } | { ok: false }) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(v);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        settle({ ok: false });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', () => settle({ ok: false }));
    req.on('close', () => settle({ ok: false }));
  });
}

function idOfText(text: string): Id {
  try {
    return idOf(JSON.parse(text));
  } catch {
    return 'unknown';
  }
}

function tooLarge(max: number): object {
  return failure('unknown', ErrorCode.INVALID_PARAMS, `request body larger than ${max} bytes (TRL_MAX_REQUEST_BYTES); send a smaller request`);
}

function reply(res: ServerResponse, status: number, message: object): void {
  if (res.headersSent || res.destroyed) return;
  const body = encodeLine(message);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

function urlOf(a: AddressInfo, tls: boolean): string {
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${tls ? 'https' : 'http'}://${host}:${a.port}`;
}

/**
 * The EventSink of one streaming HTTP response: chunked NDJSON, the response
 * envelope first. The response ends once no watcher holds it (after `exit`).
 * `send` returns false while the response's buffer is full; 'drain' resumes.
 */
class ResponseSink implements EventSink {
  private holds = 1; // the request itself, until its response is written
  private drainListeners: (() => void)[] = [];
  private closeListeners: (() => void)[] = [];
  private shut = false;
  private started = false;

  constructor(private readonly res: ServerResponse) {
    res.on('drain', () => {
      const listeners = this.drainListeners;
      this.drainListeners = [];
      for (const l of listeners) l();
    });
    res.on('close', () => {
      // 'close' after end() is a finished response; before, the client went away.
      this.shut = true;
      this.drainListeners = [];
      const listeners = this.closeListeners;
      this.closeListeners = [];
      for (const l of listeners) l();
    });
  }

  get closed(): boolean {
    return this.shut || this.res.destroyed || this.res.writableEnded;
  }

  get ready(): boolean {
    return !this.closed && this.started && this.res.writableLength < SEND_HIGH_WATER;
  }

  /** Writes the head and the response envelope line. */
  begin(response: object): void {
    if (this.closed) return;
    this.started = true;
    this.res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    this.res.write(encodeLine(response));
  }

  retain(): void {
    this.holds++;
  }

  release(): void {
    this.holds--;
    if (this.holds === 0 && this.started && !this.closed) this.res.end();
  }

  send(event: object): boolean {
    if (this.closed || !this.started) return false;
    return this.res.write(encodeLine(event));
  }

  onDrain(listener: () => void): void {
    if (!this.closed) this.drainListeners.push(listener);
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }
}

/**
 * A token bucket per client address, for failed authentications only: each
 * failure takes a token; an empty bucket means 429 without comparing. Tokens
 * come back one per `refillMs`.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
  ) {}

  /** Milliseconds until `address` may try again; 0 if it may now. */
  blockedFor(address: string, now = Date.now()): number {
    const b = this.refresh(address, now);
    if (!b || b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) * this.refillMs));
  }

  /** Records a failure; returns the failures left before the address is blocked. */
  fail(address: string, now = Date.now()): number {
    const b = this.refresh(address, now) ?? { tokens: this.burst, at: now };
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.delete(address);
    this.buckets.set(address, b); // most recent last
    if (this.buckets.size > MAX_TRACKED_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
    return Math.floor(b.tokens);
  }

  private refresh(address: string, now: number): { tokens: number; at: number } | undefined {
    const b = this.buckets.get(address);
    if (!b) return undefined;
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) / this.refillMs);
    b.at = now;
    if (b.tokens >= this.burst) {
      this.buckets.delete(address);
      return undefined;
    }
    return b;
  }
}
