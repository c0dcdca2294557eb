import type { Socket } from 'node:net';

/**
 * The HTTP server's connection slots. Node's own `maxConnections` refuses the
 * newest connection, so peers that connect and never send a byte (no token
 * needed) could hold every slot and lock the legitimate client out. Here a
 * connection over the limit evicts the oldest connection that has not yet made
 * an authenticated request; only when every open connection has, is the new
 * one refused. A connection counts as proven once a request on it carried the
 * right token.
 */
export class HttpSlots {
  /** Open connections by remote address and port (the same key for a TLS socket and its TCP socket), oldest first. */
  private readonly open = new Map<string, { socket: Socket; proven: boolean }>();

  constructor(private readonly max: number) {}

  /** Takes a new TCP connection; evicts an unproven one, or refuses this one, when all slots are taken. */
  admit(socket: Socket): void {
    const key = keyOf(socket);
    if (this.open.size >= this.max) {
      const victim = [...this.open.values()].find((c) => !c.proven);
      if (victim === undefined) return void socket.destroy();
      victim.socket.destroy();
      this.open.delete(keyOf(victim.socket));
    }
    this.open.set(key, { socket, proven: false });
    socket.once('close', () => {
      if (this.open.get(key)?.socket === socket) this.open.delete(key);
    });
  }

  /** Marks the connection `socket` (TCP or TLS) as having made an authenticated request. */
  prove(socket: Socket): void {
    const c = this.open.get(keyOf(socket));
    if (c) c.proven = true;
  }
}

const keyOf = (socket: Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;
