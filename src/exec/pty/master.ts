import { readSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { ReadStream } from 'node:tty';

/**
 * What the kernel still holds once the slave is closed: reads then return
 * data or EIO, never block. Bounded by the pty's own buffers (the writers
 * were blocked when they were full).
 */
function drainAfterHangup(fd: number, master: ReadStream, stdout: Readable): void {
  const buf = Buffer.allocUnsafe(READ_BYTES);
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

/** One read from the master, and what `stdout` holds before the master stops being read. */
const READ_BYTES = 64 * 1024;

/** A terminal's window, in character cells. */
export interface TerminalSize {
  cols: number;
  rows: number;
}

/** What a command on a terminal gives the daemon besides its streams. */
export interface TerminalControl {
  /** Sets the window size; the kernel sends SIGWINCH to the terminal's foreground group. False once the master is closed. */
  resize(size: TerminalSize): boolean;
}

/**
 * The three streams of a command on a terminal, made from the master: what
 * is written goes to the terminal's input (the line discipline turns ^C into
 * SIGINT, ^D into end-of-file), what is read is everything the command wrote
 * to stdout and stderr, merged as a terminal merges them. stderr is an empty
 * stream that ends at once.
 *
 * Ending stdin does not close the master (that would hang the terminal up
 * and SIGHUP the command): it only refuses further input. The master reads
 * EIO once the last process holding the slave has closed it: that is the
 * end of the output, not an error.
 */
export function terminalStdio(
  masterFd: number,
  resizeFd: (fd: number, cols: number, rows: number) => void,
): { stdin: Writable; stdout: Readable; stderr: Readable; terminal: TerminalControl } {
  // Node destroys a socket on a read error, dropping whatever its readable side still buffers; EIO
  // comes right after the last bytes. So the master hands each read to `stdout` at once (onread: no
  // buffer of its own) and stops reading while `stdout` is full; EIO then ends `stdout` after its data.
  // libuv reports end-of-file as soon as the slave hangs up (POLLHUP) after a short read, while the
  // kernel still holds output (a pty gives at most 4 KiB a read): that rest is read here, then the end.
  const stdout = new Readable({
    highWaterMark: READ_BYTES,
    read() {
      master.resume();
    },
    destroy(err, done) {
      master.destroy();
      done(err);
    },
  });
  const master = new ReadStream(masterFd, {
    onread: { buffer: Buffer.allocUnsafe(READ_BYTES), callback: (n: number, buf: Buffer) => stdout.push(Buffer.from(buf.subarray(0, n))) },
  } as ConstructorParameters<typeof ReadStream>[1]);
  master.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EIO' ? stdout.push(null) : stdout.destroy(err)));
  master.on('end', () => {
    drainAfterHangup(masterFd, master, stdout);
    stdout.push(null);
  });
  const stdin = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (master.destroyed) return done();
      master.write(chunk, () => done());
    },
    final(done) {
      done();
    },
  });
  const stderr = new Readable({ read() {} });
  stderr.push(null);
  const terminal: TerminalControl = {
    resize({ cols, rows }) {
      // destroyed is set before the fd is closed, so a number reused by another open is never resized.
      if (master.destroyed) return false;
      resizeFd(masterFd, cols, rows);
      return true;
    },
  };
  return { stdin, stdout, stderr, terminal };
}
