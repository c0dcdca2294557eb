import { memoryTrim } from '../system/memory-trim';

/** One read buffer: two of libuv's suggested reads, as the addon's own. */
export const READ_BUFFER_BYTES = 128 * 1024;
/**
 * Given-back buffers kept for the next reads (32 MiB); beyond it they are
 * left to the collector. A flood's result gives back its whole kept head at
 * once (32 buffers with the default 4 MiB): room for what eight floods give
 * back between their reads, so their working set is read into again rather
 * than collected and made anew. A quiet daemon's trim lets them all go.
 */
const FREE_MAX = 256;

/**
 * Where a buffer of ours is: with a reader, or out as a chunk, held by the
 * output window until it drops it, and by the writes and the result captures
 * that carry its bytes until they are done with them (`writes`).
 */
type Where = { reading: true } | { reading: false; window: boolean; writes: number };

/**
 * The buffers a flooding command's output is read into, used again once
 * nothing holds their chunk. A new buffer per read made V8 collect its whole
 * heap many times a second while commands flooded (75 full collections in a
 * 5 s flood of 8 commands; 24 while one reader streamed 512 MiB): every new
 * buffer counts against the heap's limit as memory V8 must look after, and
 * those collections stalled the event loop for up to 13 ms. A buffer given
 * back and read into again counts once.
 *
 * A chunk's buffer may be read into again only when nothing can still see
 * its bytes. So: a result's head capture `keep`s its chunks until the answer
 * that carries them has been handed over; every write of them (a follower's
 * event, an answer's piece) `hold`s them until the transport is done with
 * them (they may wait in a socket's queue); the window `release`s a chunk
 * when it drops it. Whoever else keeps a chunk copies it (`unpooled`: what
 * the window keeps after the end, the tail captures). A buffer is read into
 * again only once every holder has let go, never on a guess; a chunk never
 * given back is collected as any Buffer is.
 */
class ReadBuffers {
  private readonly free: Buffer[] = [];
  private readonly where = new WeakMap<ArrayBufferLike, Where>();

  /** A buffer for a reader's next reads. */
  take(): Buffer {
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    this.where.set(buffer.buffer, { reading: true });
    return buffer;
  }

  /** The reader read `n` bytes into `buffer` and hands them over: the chunk, the window's now. */
  handedOver(buffer: Buffer, n: number): Buffer {
    this.where.set(buffer.buffer, { reading: false, window: true, writes: 0 });
    return buffer.subarray(0, n);
  }

  /** A reader closed with `buffer` unread. */
  unused(buffer: Buffer): void {
    const where = this.where.get(buffer.buffer);
    if (where?.reading) this.recycle(buffer.buffer);
  }

  /** `chunk` as it may be kept for long: a copy when its buffer is one of ours. */
  unpooled(chunk: Buffer): Buffer {
    return this.where.has(chunk.buffer) ? Buffer.from(chunk) : chunk;
  }

  /** A result's capture keeps `chunk`: as `hold`, or null when the chunk is not one of ours (nothing to give back). */
  keep(chunk: Buffer): (() => void) | null {
    const where = this.where.get(chunk.buffer);
    return where === undefined || where.reading ? null : this.hold(chunk);
  }

  /** The free buffers go to the collector (a quiet daemon gives their memory back). */
  dropFree(): void {
    this.free.length = 0;
  }

  /**
   * A write of `chunk`'s bytes begins (or a capture keeps them): the returned
   * function, called once the transport is done with them (more calls change
   * nothing), lets it go.
   */
  hold(chunk: Buffer): () => void {
    const ab = chunk.buffer;
    const where = this.where.get(ab);
    if (where === undefined || where.reading) return NOTHING;
    where.writes++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      where.writes--;
      this.giveBackIfFree(ab, where);
    };
  }

  /** The window dropped `chunk`; its buffer goes back once no write holds it. More calls change nothing. */
  release(chunk: Buffer): void {
    const where = this.where.get(chunk.buffer);
    if (where === undefined || where.reading || !where.window) return;
    where.window = false;
    this.giveBackIfFree(chunk.buffer, where);
  }

  /** Buffers waiting for reuse (tests). */
  get freeCount(): number {
    return this.free.length;
  }

  private giveBackIfFree(ab: ArrayBufferLike, where: Where & { reading: false }): void {
    if (!where.window && where.writes === 0 && this.where.get(ab) === where) this.recycle(ab);
  }

  private recycle(ab: ArrayBufferLike): void {
    this.where.delete(ab);
    if (this.free.length < FREE_MAX) this.free.push(Buffer.from(ab, 0, READ_BUFFER_BYTES));
  }
}

const NOTHING = (): void => {};

/** The daemon's one set, shared by every command's readers. */
export const readBuffers = new ReadBuffers();
memoryTrim.onTrim(() => readBuffers.dropFree());
