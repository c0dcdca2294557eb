import type { Socket } from 'node:net';
import { ErrorCode } from '../protocol/errors';
import { encodeLine } from '../protocol/ndjson';
import type { Logger } from '../system/logger';
import { Connection, type ConnectionLimits } from './connection';
import type { Router } from './router';

/** Every open client connection, bounded in number. */
export class ConnectionSet {
  private readonly open = new Set<Connection>();
  /** Called when the number of connections changes (idle exit). */
  onChange: () => void = () => {};

  constructor(
    private readonly router: Router,
    private readonly limits: ConnectionLimits & { maxConnections: number },
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /** The listener's connection handler. */
  readonly accept = (socket: Socket): void => {
    if (this.open.size >= this.limits.maxConnections) {
      socket.on('error', () => {});
      socket.end(
        encodeLine({
          id: 'unknown',
          ok: false,
          error: { code: ErrorCode.RESOURCE_PRESSURE, message: `too many connections (${this.limits.maxConnections}, TRL_MAX_CONNECTIONS); retry later` },
        }),
      );
      this.log.warn({ max: this.limits.maxConnections }, 'connection refused: limit reached');
      return;
    }
    const connection: Connection = new Connection(socket, this.router, this.limits, this.log, () => {
      this.open.delete(connection);
      this.onChange();
    });
    this.open.add(connection);
    this.onChange();
  };

  /** Shutdown: every connection closes once its open requests are answered; stragglers are cut after `ms`. */
  async closeAll(ms: number): Promise<void> {
    for (const c of this.open) c.drainAndClose();
    const deadline = Date.now() + ms;
    while (this.open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.open) c.destroy();
  }
}
