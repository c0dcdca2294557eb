import { join } from 'node:path';

/** The native process layer's exports (native/addon.c). */
export interface NativeAddon {
  harden(): { dumpable_off: boolean; core_limit_zero: boolean };
  /**
   * Starts the child (it runs when this returns) or throws a NativeErrnoError
   * (pipe2, clone). `onExec` comes once the child exec'd (null)
   * or failed before (its errno and the step); a child that failed has
   * exited 127 and is reaped through its pidfd like any other.
   */
  spawn(
    file: string,
    argv: string[],
    envp: string[],
    cwd: string,
    rlimits: number[],
    user: { uid: number; gid: number; groups: number[] } | null,
    /** The command's cgroup leaf directory: the child starts in it. */
    cgroup: string | null,
    onExec: (err: NativeErrnoError | null) => void,
    /** A terminal instead of pipes on 0..2: fds[0] is its master, fds[1] and fds[2] are -1. */
    pty?: { cols: number; rows: number },
  ): NativeStarted;
  /** Sets a terminal's window size (TIOCSWINSZ on its master). */
  resizePty(masterFd: number, cols: number, rows: number): void;
  /** Takes ownership of pidfd: it is closed once the process is reaped. */
  watchExit(pidfd: number, callback: (code: number | null, signo: number | null) => void): void;
  sendSignal(pidfd: number, signo: number): void;
  /** PR_SET_CHILD_SUBREAPER: what commands leave running is re-parented to the daemon's main thread. */
  becomeSubreaper(): void;
  /** True once this child of the daemon has ended (it is reaped now) or is no child any more; false while it runs. */
  reapChild(pid: number): boolean;
  /** True when some child of the daemon has ended and waits to be reaped (none is reaped). */
  anyChildEnded(): boolean;
  /** malloc_trim(0): the heap's free pages go back to the kernel; true when some did. */
  trimMemory(): boolean;
  /**
   * Reads fd (owned from now on, made non-blocking) on the event loop once started: each chunk, then null at its end (errno 0) or on an error.
   * intoBytes > 0: the chunk is readInto's buffer itself, its first intoBytes bytes, and the reader holds no buffer any more.
   */
  readFd(fd: number, callback: (chunk: Buffer | null, errno: number, intoBytes: number) => void): NativeReader;
  readStart(reader: NativeReader): void;
  readStop(reader: NativeReader): void;
  /** Later reads go into `buffer` (held until handed back as a chunk, replaced, or the reader closed); a small read is still copied out. */
  readInto(reader: NativeReader, buffer: Buffer): void;
  /** Stops reading and closes the fd: no callback after it. */
  readClose(reader: NativeReader): void;
  /** Where a run a JSON string carries as it is ends in buffer[from, to) (src/protocol/json-escape.ts runEnd); `to` when it does not. */
  jsonRunEnd(buffer: Buffer, from: number, to: number, valid: boolean): number;
}

/** A started child. cgroupRefusal: the errno with which the kernel refused CLONE_INTO_CGROUP (the child enters the leaf itself), else null. */
export interface NativeStarted {
  pid: number;
  pidfd: number;
  fds: [number, number, number, number];
  cgroupRefusal: number | null;
}

/** An opaque handle of readFd. */
export type NativeReader = { readonly __nativeReader: unique symbol };

/** What the addon throws or reports: a positive errno and the step that failed. */
export interface NativeErrnoError extends Error {
  errno: number;
  syscall: string;
}

const ADDON_FILE = 'trl_native.node';

/**
 * Where the addon may be: beside the bundle (the .deb), or in the source
 * tree's node-gyp output (dist/src/native → native/build/Release).
 */
const CANDIDATES = [join(__dirname, ADDON_FILE), join(__dirname, '..', '..', '..', 'native', 'build', 'Release', ADDON_FILE)];

let loaded: { addon: NativeAddon | null; error: string | null } | undefined;

/** The addon, loaded once; null with the reason when no candidate loads. */
export function nativeAddon(): { addon: NativeAddon | null; error: string | null } {
  if (loaded) return loaded;
  const errors: string[] = [];
  for (const file of CANDIDATES) {
    try {
      loaded = { addon: require(file) as NativeAddon, error: null };
      return loaded;
    } catch (err) {
      errors.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  loaded = { addon: null, error: errors.join('; ') };
  return loaded;
}
