import { Readable, Writable } from 'node:stream';
import { readMaster } from './read';

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
  const { master, stdout } = readMaster(masterFd);
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
      try {
        resizeFd(masterFd, cols, rows);
        return true;
      } catch {
        return false; // the terminal is being torn down
      }
    },
  };
  return { stdin, stdout, stderr, terminal };
}
