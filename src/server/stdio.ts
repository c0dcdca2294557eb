import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../system/logger';
import { Conversation } from './conversation';
import type { Transport } from './transport';
import type { Router } from './router';

/** How long, after end of input, running commands may take before trld stops waiting (main then destroys the sessions). */
export const STDIO_END_TIMEOUT_MS = 300_000;

/**
 * One-shot mode: NDJSON requests on stdin, responses and stream events on
 * stdout — one Conversation, exactly as on the socket (same
 * validation, limits, ordering). Resolves at end of input once every request
 * is answered and every stream has sent its `exit` (or after `endTimeoutMs`),
 * or when stdout goes away. The caller then destroys the sessions, killing
 * whatever is left. (SIGTERM/SIGINT are main's: it destroys the sessions and
 * exits 0.)
 */
export async function serveStdio(opts: {
  router: Router;
  logger: Logger;
  maxRequestBytes: number;
  maxInflight: number;
  endTimeoutMs?: number;
  input?: Readable;
  output?: Writable;
}): Promise<void> {
  const { logger } = opts;
  const endTimeoutMs = opts.endTimeoutMs ?? STDIO_END_TIMEOUT_MS;
  const transport = new StdioTransport(opts.input ?? process.stdin, opts.output ?? process.stdout);
  logger.info({ transport: 'stdio' }, 'trld ready');
  await new Promise<void>((resolve) => {
    let endTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(endTimer);
      resolve();
    };
    const conversation = new Conversation({
      transport,
      router: opts.router,
      limits: { maxRequestBytes: opts.maxRequestBytes, maxInflight: opts.maxInflight },
      logger,
      onClose: finish,
    });
    transport.on('end', () => {
      endTimer = setTimeout(() => {
        logger.warn({ waited_ms: endTimeoutMs }, 'stdio mode: end of input, but commands are still running; stopping them');
        conversation.destroy();
      }, endTimeoutMs);
      endTimer.unref();
    });
  });
}

/**
 * stdin and stdout as one Transport. `end()` flushes stdout and
 * reports 'close' (stdout itself is left open: it is the process's fd 1);
 * stdout failing (the reader went away) is a close too.
 */
class StdioTransport extends EventEmitter implements Transport {
  private gone = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    super();
    input.on('data', (chunk: Buffer) => this.emit('data', chunk));
    input.on('end', () => this.emit('end'));
    input.on('error', (err) => {
      this.emit('error', err);
      this.emit('end');
    });
    output.on('drain', () => this.emit('drain'));
    output.on('error', (err) => {
      this.emit('error', err);
      this.close();
    });
  }

  get writableLength(): number {
    return this.output.writableLength;
  }

  get writable(): boolean {
    return !this.gone && this.output.writable;
  }

  get destroyed(): boolean {
    return this.gone;
  }

  write(data: string | Uint8Array, done?: (err?: Error | null) => void): boolean {
    if (this.gone) {
      done?.();
      return false;
    }
    return this.output.write(data, done);
  }

  cork(): void {
    this.output.cork();
  }

  uncork(): void {
    this.output.uncork();
  }

  end(): void {
    if (this.gone) return;
    this.output.write('', () => this.close());
  }

  pause(): void {
    this.input.pause();
  }

  resume(): void {
    this.input.resume();
  }

  destroy(): void {
    this.close();
  }

  private close(): void {
    if (this.gone) return;
    this.gone = true;
    this.input.pause();
    this.input.destroy();
    this.emit('close');
  }
}
