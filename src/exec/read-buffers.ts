/** One read buffer: two of libuv's suggested reads, as the addon's own. */
export const READ_BUFFER_BYTES = 128 * 1024;
/** Given-back buffers kept for the next reads; beyond it they are left to the collector. */
const FREE_MAX = 16;

/** Where a buffer of ours is: with a reader, or out as a chunk (in a window, maybe shared). */
type Where = 'reading' | 'out';

/**
 * The buffers a flooding command's output is read into, used again once the
 * output window lets their chunk go. A new buffer per read made V8 collect
 * its whole heap many times a second while commands flooded (75 full
 * collections in a 5 s flood of 8 commands: each new buffer counts as memory
 * V8 must look after, and those collections stalled the event loop for up to
 * 13 ms); a buffer given back and read into again counts once.
 *
 * A chunk's buffer may be read into again only when nothing can still see
 * its bytes. So: whoever keeps a chunk beyond the output window either
 * copies it (`unpooled`: the results' captures, which keep few of a flood's
 * chunks) or marks it `shared` (a follower, whose event may sit in a socket's
 * queue), and only the window `release`s, when it drops a chunk. A chunk
 * never released is collected as any Buffer is.
 */
class ReadBuffers {
  private readonly free: Buffer[] = [];
  private readonly where = new WeakMap<ArrayBufferLike, Where>();

  /** A buffer for a reader's next reads. */
  take(): Buffer {
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    this.where.set(buffer.buffer, 'reading');
    return buffer;
  }

  /** The reader read `n` bytes into `buffer` and hands them over: the chunk. */
  handedOver(buffer: Buffer, n: number): Buffer {
    this.where.set(buffer.buffer, 'out');
    return buffer.subarray(0, n);
  }

  /** A reader closed with `buffer` unread. */
  unused(buffer: Buffer): void {
    if (this.where.get(buffer.buffer) === 'reading') this.recycle(buffer.buffer);
  }

  /** `chunk` as it may be kept for long: a copy when its buffer is one of ours. */
  unpooled(chunk: Buffer): Buffer {
    return this.where.has(chunk.buffer) ? Buffer.from(chunk) : chunk;
  }

  /** Something holds `chunk` beyond the window: its buffer is never read into again. */
  shared(chunk: Buffer): void {
    this.where.delete(chunk.buffer);
  }

  /** The window dropped `chunk`, the last holder of its buffer unless shared. */
  release(chunk: Buffer): void {
    if (this.where.get(chunk.buffer) === 'out') this.recycle(chunk.buffer);
  }

  /** Buffers waiting for reuse (tests). */
  get freeCount(): number {
    return this.free.length;
  }

  private recycle(ab: ArrayBufferLike): void {
    this.where.delete(ab);
    if (this.free.length < FREE_MAX) this.free.push(Buffer.from(ab, 0, READ_BUFFER_BYTES));
  }
}

/** The daemon's one set, shared by every command's readers. */
export const readBuffers = new ReadBuffers();
