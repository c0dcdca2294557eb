import type { Socket } from 'node:net';
import { ErrorCode, errorEnvelope } from '../protocol/errors';
import { encodeLine } from '../protocol/ndjson';
import type { Logger } from '../system/logger';
import { Conversation, type ConversationLimits } from './conversation';
import type { Router } from './router';

/** The socket's open connections, one conversation each: bounded in number, a silent one evicted for a new one at the limit, all closed at shutdown. */
export class ConnectionSet {
  private readonly open = new Set<Conversation>();
  /** Called when the number of connections changes (idle exit). */
  onChange: () => void = () => {};

  constructor(
    private readonly router: Router,
    private readonly limits: ConversationLimits & {
      maxConnections: number;
      /** At the limit, a connection silent (no complete request) for this long gives its slot to a new one; 0 = never. */
      firstRequestMs: number;
    },
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** The listener's connection handler. */
  readonly accept = (socket: Socket): void => {
    if (this.open.size >= this.limits.maxConnections) this.evictSilent();
    if (this.open.size >= this.limits.maxConnections) {
      socket.on('error', () => {});
      socket.end(
        encodeLine(errorEnvelope('unknown', ErrorCode.RESOURCE_PRESSURE, `too many connections (${this.limits.maxConnections}, TRL_MAX_CONNECTIONS); retry later`)),
      );
      this.logger.warn({ max: this.limits.maxConnections }, 'connection refused: limit reached');
      return;
    }
    const conversation: Conversation = new Conversation({
      transport: socket,
      router: this.router,
      limits: this.limits,
      logger: this.logger,
      onClose: () => {
        this.open.delete(conversation);
        this.onChange();
      },
    });
    this.open.add(conversation);
    this.onChange();
  };

  /**
   * Closes the connection that has been open longest without sending a
   * complete request, if that is longer than `firstRequestMs`: connections
   * that never speak cannot keep every other client out. Only at the limit,
   * so a client that connects early and talks later loses nothing otherwise.
   */
  private evictSilent(): void {
    if (this.limits.firstRequestMs <= 0) return;
    let victim: Conversation | null = null;
    let longest = this.limits.firstRequestMs;
    for (const c of this.open) {
      const silent = c.silentForMs;
      if (silent !== null && silent >= longest) {
        victim = c;
        longest = silent;
      }
    }
    if (victim === null) return;
    this.open.delete(victim);
    this.logger.info({ silent_ms: longest }, 'connection closed to make room: it sent no request (TRL_FIRST_REQUEST_TIMEOUT_S)');
    victim.destroy();
  }

  /** Shutdown: every connection closes once its open requests are answered; stragglers are cut after `ms`. */
  async closeAll(ms: number): Promise<void> {
    for (const c of this.open) c.drainAndClose();
    const deadline = Date.now() + ms;
    while (this.open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.open) c.destroy();
  }
}
