import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { NativeAddon, NativeReader } from '../native/addon';
import { READ_BUFFER_BYTES, readBuffers } from './read-buffers';
import type { ByteSink, ByteSource } from './spawn';

/** What is read ahead before anyone asked for it (a Readable's default high-water mark). */
const READ_AHEAD_BYTES = 16 * 1024;

/**
 * A command's stdout, stderr or state pipe read by the addon (readFd), with
 * the part of a Readable the executor uses: 'data' (flowing once a 'data'
 * listener is added or on resume, until paused), 'end', 'error', and
 * 'close' once, after the end or destroy. Before it flows it reads ahead
 * until 16 KiB or more are held (a chunk is what one readiness had), as a
 * Readable does, so a stream nobody reads still sees its end. Once a read
 * fills a quarter of a read buffer, the output is a flood: it is read into
 * the shared read buffers (read-buffers.ts) from then on.
 * A net.Socket per stream cost more than all the rest of a short command's
 * stream work.
 */
export class FdReader extends EventEmitter implements ByteSource {
  private reader: NativeReader | null;
  /** null: neither resumed nor paused yet (a Readable's readableFlowing). */
  private flowing: boolean | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The end was read while chunks were held or the stream paused: told once they are out and it flows. */
  private endHeld = false;
  private flushQueued = false;
  /** 'close' emitted or on its way: once. */
  private closed = false;
  /** The read buffer the addon reads into, once the output floods. */
  private into: Buffer | null = null;

  constructor(
    private readonly addon: NativeAddon,
    fd: number,
  ) {
    super();
    this.reader = addon.readFd(fd, (chunk, errno, intoBytes) => this.onRead(chunk, errno, intoBytes));
    addon.readStart(this.reader);
    // As a Readable: a 'data' listener starts the flow.
    this.on('newListener', (event: string) => {
      if (event === 'data' && this.flowing === null) this.resume();
    });
  }

  pause(): this {
    this.flowing = false;
    if (this.reader) this.addon.readStop(this.reader);
    return this;
  }

  resume(): this {
    this.flowing = true;
    if (this.held.length > 0 || this.endHeld) this.queueFlush();
    else if (this.reader) this.addon.readStart(this.reader);
    return this;
  }

  get destroyed(): boolean {
    return this.closed;
  }

  destroy(): this {
    if (this.closed) return this;
    this.closed = true;
    this.held = [];
    this.heldBytes = 0;
    this.endHeld = false;
    this.finish();
    process.nextTick(() => this.emit('close'));
    return this;
  }

  private onRead(chunk: Buffer | null, errno: number, intoBytes: number): void {
    if (chunk) {
      if (intoBytes > 0) {
        chunk = readBuffers.handedOver(chunk, intoBytes);
        this.into = null;
      }
      if (this.into === null && chunk.length >= READ_BUFFER_BYTES / 4 && this.reader) {
        this.into = readBuffers.take();
        this.addon.readInto(this.reader, this.into);
      }
      if (this.flowing === true && this.held.length === 0) this.emit('data', chunk);
      else this.hold(chunk);
      return;
    }
    // Paused, or bytes not taken yet: the end waits for them (and for resume), as a Readable's does.
    if (errno === 0 && (this.held.length > 0 || this.flowing === false)) {
      this.endHeld = true;
      this.finish();
      return;
    }
    this.finish();
    this.closed = true;
    if (errno === 0) this.emit('end');
    else if (this.listenerCount('error') > 0) this.emit('error', Object.assign(new Error(`read: errno ${errno}`), { errno: -errno }));
    this.emit('close');
  }

  /** Not flowing: kept (up to the read-ahead, then the fd is not read) until it flows. */
  private hold(chunk: Buffer): void {
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes >= READ_AHEAD_BYTES && this.reader) this.addon.readStop(this.reader);
  }

  /** Held chunks go out on the next tick: the listener that resumed is not added yet. */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    process.nextTick(() => {
      this.flushQueued = false;
      while (this.flowing === true && this.held.length > 0) {
        const chunk = this.held.shift()!;
        this.heldBytes -= chunk.length;
        this.emit('data', chunk);
      }
      if (this.flowing !== true || this.closed) return;
      if (this.endHeld) {
        this.endHeld = false;
        this.closed = true;
        this.emit('end');
        this.emit('close');
      } else if (this.reader) this.addon.readStart(this.reader);
    });
  }

  /** The fd is closed: nothing more is read. */
  private finish(): void {
    const reader = this.reader;
    this.reader = null;
    if (reader) this.addon.readClose(reader);
    if (this.into) readBuffers.unused(this.into);
    this.into = null;
  }
}

/**
 * A command's stdin that becomes a net.Socket only when something is written
 * to it. Most commands get none: their end-of-file is closing the daemon's
 * end, as a write-only socket's end() comes to (shutdown, then close).
 */
export class FdWriter extends EventEmitter implements ByteSink {
  private socket: Socket | null = null;
  private closed = false;

  constructor(private readonly fd: number) {
    super();
  }

  get writable(): boolean {
    return this.socket ? this.socket.writable : !this.closed;
  }

  get writableLength(): number {
    return this.socket?.writableLength ?? 0;
  }

  write(data: Buffer | string): boolean {
    return this.open()?.write(data) ?? false;
  }

  end(): this {
    if (this.socket) this.socket.end();
    else this.close();
    return this;
  }

  destroy(): this {
    if (this.socket) this.socket.destroy();
    else this.close();
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private open(): Socket | null {
    if (this.socket) return this.socket;
    if (this.closed) return null;
    this.socket = new Socket({ fd: this.fd, readable: false, writable: true });
    this.socket.on('error', (err) => this.emit('error', err));
    return this.socket;
  }
}
