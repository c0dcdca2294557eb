import { TrlClient, TrlRequestError } from '../client/client';
import { connectToDaemon } from '../client/discover';

/** A failure the model should see as a tool error, with what failed and what to do. */
export class ToolError extends Error {}

/**
 * The MCP server's connection to trld: made on demand, remade after the
 * daemon went away (a restart), so one lost daemon costs one tool error, not
 * the MCP server.
 */
export class DaemonLink {
  private current: Promise<TrlClient> | null = null;
  /** Bumped whenever a connection is lost: sessions made on an older one are gone with a restarted daemon. */
  generation = 0;

  /** `socket`: `--socket`, when given; else the client library's discovery order. */
  constructor(private readonly socket: string | undefined) {}

  /** The connected client; connects (again) if needed. */
  client(): Promise<TrlClient> {
    this.current ??= this.connect().catch((err: Error) => {
      this.current = null;
      throw err;
    });
    return this.current;
  }

  /** Runs `fn` with the client; daemon refusals and lost connections become ToolErrors naming `what`. */
  async call<T>(what: string, fn: (c: TrlClient) => Promise<T>): Promise<T> {
    const c = await this.client();
    try {
      return await fn(c);
    } catch (err) {
      throw describe(what, err as Error);
    }
  }

  close(): void {
    void this.current?.then((c) => c.close(), () => {});
    this.current = null;
  }

  private async connect(): Promise<TrlClient> {
    let c: TrlClient;
    try {
      c = await connectToDaemon({ socket: this.socket });
    } catch (err) {
      throw new ToolError(`${(err as Error).message}\nor give trl mcp --socket PATH.`);
    }
    const gen = ++this.generation;
    // A closed connection fails its pending calls itself; forgetting it makes the next call reconnect.
    void watchClose(c).then(() => {
      if (this.generation === gen) this.current = null;
    });
    return c;
  }
}

/** Resolves when the client's connection is gone (a request on it then fails at once). */
function watchClose(c: TrlClient): Promise<void> {
  return new Promise((resolve) => c.onClose(resolve));
}

function describe(what: string, err: Error): Error {
  if (err instanceof ToolError) return err;
  if (err instanceof TrlRequestError) return new ToolError(`${what}: trld refused (${err.code}): ${err.message}`);
  return new ToolError(`${what}: the connection to trld was lost (${err.message}); it may have restarted. The next call reconnects; a command it was running has an unknown result.`);
}
