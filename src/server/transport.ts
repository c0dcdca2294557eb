/**
 * A door's byte stream, as a conversation reads and writes it: a net.Socket
 * satisfies it; stdio joins stdin and stdout into one (src/server/stdio.ts).
 * A new stream-shaped door (a pipe, a vsock) only has to provide this.
 */
export interface Transport {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'drain' | 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  removeAllListeners(event: 'data'): unknown;
  /** `done` runs once the data has left the daemon (handed to the kernel) or cannot any more. */
  write(data: string | Uint8Array, done?: (err?: Error | null) => void): boolean;
  /** Writes until uncork() go out as one gathered write. */
  cork(): void;
  uncork(): void;
  end(): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
  readonly writableLength: number;
  readonly writable: boolean;
  readonly destroyed: boolean;
}
