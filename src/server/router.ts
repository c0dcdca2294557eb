import type * as z from '../protocol/schema';
import { ErrorCode, TrlError, errorEnvelope } from '../protocol/errors';
import type { Logger } from '../system/logger';
import { describeIssues } from '../protocol/messages';
import type { EventSink } from './event-sink';
import type { Envelope } from './envelope';

/** What a handler knows of the request's transport. */
export interface RequestContext {
  /** Where stream events for this client go. */
  sink: EventSink;
  /** The client's connection when it outlives the request (socket, stdio), for what must end with it; absent over HTTP. */
  connection?: { onClose(listener: () => void): void };
  /** Runs right after the response is written: stream events must follow their response. */
  afterResponse(fn: () => void): void;
}

export type Handler<S extends z.Schema> = (params: z.infer<S>, ctx: RequestContext) => Promise<unknown> | unknown;

interface Route {
  schema: z.Schema;
  handle: (params: unknown, ctx: RequestContext) => Promise<unknown> | unknown;
}

/** Method name → params schema + handler; every door answers through the one router (src/server/exchange.ts). */
export class Router {
  private readonly routes = new Map<string, Route>();
  private refusing: string | null = null;

  register<S extends z.Schema>(method: string, schema: S, handle: Handler<S>): this {
    this.routes.set(method, { schema, handle: handle as Route['handle'] });
    return this;
  }

  /** From now on every request gets SHUTTING_DOWN with this message. */
  refuseAll(message: string): void {
    this.refusing = message;
  }

  /**
   * One request, answered: the response envelope, and the error code when it
   * failed. Every transport calls this, so a method behaves the same over the
   * socket, HTTP and stdio; anything but a TrlError is a bug, logged in full
   * and answered INTERNAL_ERROR without details.
   */
  async answer(request: Envelope, ctx: RequestContext, logger: Logger): Promise<{ response: object; code?: string }> {
    const { id, method, params } = request;
    try {
      return { response: { id, ok: true, data: await this.dispatch(method, params, ctx) } };
    } catch (err) {
      if (err instanceof TrlError) return { response: errorEnvelope(id, err.code, err.message), code: err.code };
      logger.error({ err, method }, 'request failed unexpectedly');
      return {
        response: errorEnvelope(id, ErrorCode.INTERNAL_ERROR, `internal error while handling ${method}; the daemon logged the details`),
        code: ErrorCode.INTERNAL_ERROR,
      };
    }
  }

  /** Validates `params` against the method's schema and runs it. Throws TrlError for anything the client did wrong. */
  private async dispatch(method: string, params: unknown, ctx: RequestContext): Promise<unknown> {
    const route = this.routes.get(method);
    if (!route) {
      throw new TrlError(ErrorCode.METHOD_NOT_FOUND, `unknown method ${JSON.stringify(method)}; known methods: ${[...this.routes.keys()].join(', ')}`);
    }
    if (this.refusing !== null) throw new TrlError(ErrorCode.SHUTTING_DOWN, this.refusing);
    const parsed = route.schema.safeParse(params ?? {});
    if (!parsed.success) throw new TrlError(ErrorCode.INVALID_PARAMS, describeIssues(parsed.error, 'params'));
    return route.handle(parsed.data, ctx);
  }
}
