/**
 * Where stream events go: a socket or stdio connection, or an HTTP
 * response. `send` returns false when the transport's buffer is full; the
 * sender then waits for `onDrain` instead of queueing more.
 */
export interface EventSink {
  /**
   * Writes `event`; `written` runs once its bytes are no longer needed (the
   * transport handed them to the kernel, failed, or nothing was written).
   */
  send(event: object, written?: () => void): boolean;
  onDrain(listener: () => void): void;
  onClose(listener: () => void): void;
  readonly closed: boolean;
  /** An event may be written now; when false, wait for `onDrain` (nothing is queued for the client meanwhile). */
  readonly ready: boolean;
  /** A stream is using the sink: keep it open even if the client has stopped sending requests. */
  retain(): void;
  release(): void;
}
