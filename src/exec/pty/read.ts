import { readSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ReadStream } from 'node:tty';

/** What `stdout` gathers before handing it on: a pty read gives at most 4 KiB, a pipe's up to 64 KiB. */
const BATCH_BYTES = 64 * 1024;

/**
 * Reads a terminal's master into `stdout`, which ends after the last byte.
 *
 * - Node destroys a socket on a read error, dropping whatever its readable
 *   side still buffers, and EIO comes right after the last bytes: so the
 *   master has no buffer of its own (onread), and EIO ends `stdout` instead.
 * - libuv reports end-of-file as soon as the slave hangs up (POLLHUP) after a
 *   short read, while the kernel still holds output: that rest is read here
 *   before the end.
 * - A read is at most 4 KiB: the reads of one poll are gathered and pushed as
 *   one chunk (up to 64 KiB), so a flood costs a chunk's work per 64 KiB,
 *   not per 4.
 * - While `stdout` is full the master is not read: the command blocks.
 */
export function readMaster(masterFd: number): { master: ReadStream; stdout: Readable } {
  let batch = Buffer.allocUnsafe(BATCH_BYTES);
  let used = 0;
  let flushQueued = false;
  const flush = (): void => {
    flushQueued = false;
    if (used === 0 || stdout.destroyed) return;
    const chunk = batch.subarray(0, used);
    batch = Buffer.allocUnsafe(BATCH_BYTES);
    used = 0;
    if (!stdout.push(chunk)) master.pause();
  };
  const take = (n: number, buf: Buffer): boolean => {
    if (used + n > BATCH_BYTES) flush();
    buf.copy(batch, used, 0, n);
    used += n;
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush); // after this poll's reads
    }
    return true;
  };
  const stdout = new Readable({
    highWaterMark: BATCH_BYTES,
    read() {
      master.resume();
    },
    destroy(err, done) {
      master.destroy();
      done(err);
    },
  });
  const master = new ReadStream(masterFd, {
    onread: { buffer: Buffer.allocUnsafe(BATCH_BYTES), callback: take },
  } as ConstructorParameters<typeof ReadStream>[1]);
  const end = (): void => {
    flush();
    drainAfterHangup(masterFd, master, stdout);
    stdout.push(null);
  };
  master.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EIO' ? end() : stdout.destroy(err)));
  master.on('end', end);
  return { master, stdout };
}

/**
 * What the kernel still holds once the slave is closed: reads then return
 * data or EIO, never block. Bounded by the pty's own buffers (the writers
 * were blocked when they were full).
 */
function drainAfterHangup(fd: number, master: ReadStream, stdout: Readable): void {
  const buf = Buffer.allocUnsafe(BATCH_BYTES);
  while (!master.destroyed) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch {
      return; // EIO: all read; EAGAIN: nothing more
    }
    if (n <= 0) return;
    stdout.push(Buffer.from(buf.subarray(0, n)));
  }
}
