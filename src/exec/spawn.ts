import type { Readable, Writable } from 'node:stream';
import type { Rlimit } from './limits';
import type { Adopter } from './adoptions';
import type { TerminalControl, TerminalSize } from './pty/master';

/** A user other than the daemon's that commands run as (TRL_COMMAND_USER). */
export interface CommandUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: number[];
}

/** What the executor asks for: one program, its arguments, cwd and complete environment. */
export interface SpawnSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Run as this user instead of the daemon's. */
  user?: CommandUser;
  /** Set in the child before exec (only for a spawner that `setsUpChild`). */
  rlimits?: Rlimit[];
  /** The command's cgroup leaf, which the child is started in (only for a spawner that `setsUpChild`). */
  cgroupDir?: string;
  /** On a new terminal of this size: its slave is the command's stdin, stdout, stderr and controlling terminal. */
  pty?: TerminalSize;
  /** Whose the processes are that this one leaves behind when it ends (a session id), for a spawner that adopts them. */
  owner?: string;
}

/**
 * What the executor uses of a command's output streams: a Readable's
 * 'data'/'end'/'error'/'close', pause, resume and destroy (child_process's
 * sockets, a terminal's stream, or the native layer's FdReader).
 */
export interface ByteSource {
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'end' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'end' | 'close', listener: () => void): this;
  pause(): this;
  resume(): this;
  destroy(): this;
}

/** What the executor uses of a command's stdin (a Writable's part). */
export interface ByteSink {
  readonly writable: boolean;
  readonly writableLength: number;
  write(data: Buffer | string): boolean;
  end(): this;
  destroy(): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** A started process leading its own process group (pgid = pid), with stdin, stdout, stderr and a state pipe on fd 3. */
export interface SpawnedProcess {
  readonly pid: number;
  readonly stdin: ByteSink;
  readonly stdout: ByteSource;
  readonly stderr: ByteSource;
  readonly state: ByteSource;
  /** Present when the command runs on a terminal (stdout is then its master, stderr empty). */
  readonly terminal?: TerminalControl;
  /** Called once, when the process has exited and been reaped. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Signals this process itself, never a process that reuses its pid; false once it has exited. */
  signal(signal: NodeJS.Signals): boolean;
}

/**
 * The one way commands are started: child_process (spawnWithNode) or the
 * native process layer (nativeSpawner), chosen once at start-up. Rejects with
 * the system error when the process cannot start.
 */
export interface Spawner {
  (spec: SpawnSpec): Promise<SpawnedProcess>;
  /**
   * Applies `rlimits` and `cgroupDir` in the child before exec, so the
   * shell's prologue leaves out its `ulimit` and cgroup entry lines.
   */
  readonly setsUpChild?: boolean;
  /** What the daemon adopted of the processes commands left behind (the native layer, as child subreaper). */
  readonly adopted?: Adopter;
}

/**
 * node:child_process on first use: a daemon on stdio, or on the native
 * spawner, never needs it to start (system/lazy-builtins.ts says why; over a
 * socket net's listen loads it anyway, through cluster).
 */
let childProcess: typeof import('node:child_process') | undefined;

/**
 * child_process.spawn with every stdio a pipe: 'ignore' would open /dev/null,
 * which an unprivileged daemon cannot always do. `detached` makes the command
 * a session and process-group leader, so one signal to -pid reaches its group.
 */
export const spawnWithNode: Spawner = (spec) =>
  new Promise((resolve, reject) => {
    if (spec.pty) {
      // child_process cannot make a controlling terminal; the server refuses pty before it gets here.
      return reject(Object.assign(new Error('a terminal (pty) needs the native process layer'), { code: 'PTY_UNAVAILABLE' }));
    }
    const child = (childProcess ??= require('node:child_process') as typeof import('node:child_process')).spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true,
      // libuv drops supplementary groups (setgroups(0)) and switches gid, then uid.
      ...(spec.user ? { uid: spec.user.uid, gid: spec.user.gid } : {}),
    });
    if (child.pid === undefined) {
      child.once('error', reject);
      return;
    }
    child.on('error', () => {
      /* later errors (a failed kill) are reported through exit */
    });
    const [stdin, stdout, stderr, state] = child.stdio as unknown as [Writable, Readable, Readable, Readable];
    resolve({
      pid: child.pid,
      stdin,
      stdout,
      stderr,
      state,
      onExit: (listener) => child.once('exit', listener),
      // Node signals by pid only while it has not reaped the child: never a reused pid.
      signal: (signal) => child.kill(signal),
    });
  });
