import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import type { NativeAddon, NativeErrnoError, NativeStarted } from '../native/addon';
import { Adoptions } from './adoptions';
import { FdReader, FdWriter } from './fd-streams';
import type { Rlimit } from './limits';
import { terminalStdio } from './pty/master';
import type { SpawnedProcess, Spawner } from './spawn';

/** errno → name; where two names share a number (EAGAIN, EWOULDBLOCK) the first listed, which libuv reports too. */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** Linux's resource numbers (asm-generic, as on x86 and arm). */
const RLIMIT_NUMBERS: Record<Rlimit['resource'], number> = { RLIMIT_CPU: 0, RLIMIT_CORE: 4, RLIMIT_NOFILE: 7, RLIMIT_AS: 9 };

/** The addon's flat [resource, soft, hard, ...]. */
function flatRlimits(rlimits: Rlimit[] | undefined): number[] {
  const flat: number[] = [];
  for (const r of rlimits ?? []) flat.push(RLIMIT_NUMBERS[r.resource], r.soft, r.hard);
  return flat;
}

/** Where a debug line about the spawner goes. */
export interface SpawnerLog {
  debug(obj: object, msg: string): void;
}

/** The same shape of error child_process gives, so callers name the failure the same way. */
function spawnError(err: NativeErrnoError, file: string, args: string[]): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(err.errno) ?? `E${err.errno}`;
  const e = new Error(`spawn ${file} ${code} (${err.syscall})`) as NodeJS.ErrnoException & { spawnargs: string[] };
  e.code = code;
  e.errno = -err.errno;
  e.syscall = `spawn ${file}`;
  e.path = file;
  e.spawnargs = args;
  return e;
}

/**
 * Commands started by the native process layer: clone with CLONE_VM |
 * CLONE_PIDFD on the event loop's thread without waiting for the exec (the
 * daemon's memory is not copied; the child reports reaching exec, or the
 * step that failed before it, through a close-on-exec pipe), the child a
 * session leader with stdio and the state pipe on fds 0..3 and nothing else
 * open; with a command user, its groups, gid and uid, no ambient
 * capabilities and no_new_privs; its rlimits set and, with a cgroup leaf,
 * started in it (clone3 CLONE_INTO_CGROUP; where the kernel refuses, the
 * child writes itself into the leaf's cgroup.procs before exec, said once at
 * debug level). The streams are made while the child gets to its exec; the
 * promise settles once it got there. The exit is learned through the pidfd,
 * which also reaps exactly this child. With `adopt`, the daemon becomes
 * child subreaper and the leader one too (set in the child): an orphan stays
 * under the leader while it runs, and under the daemon after it ended,
 * tagged with the leader's owner (Adoptions).
 */
export function nativeSpawner(addon: NativeAddon, log?: SpawnerLog, opts: { adopt?: boolean } = {}): Spawner {
  let refusalSaid = false;
  const adoptions = opts.adopt ? Adoptions.start(addon) : null;
  const spawner = (spec: Parameters<Spawner>[0]) =>
    new Promise<SpawnedProcess>((resolve, reject) => {
      const envp = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
      const argv = [spec.file, ...spec.args];
      let proc: SpawnedProcess | undefined;
      let started: NativeStarted;
      try {
        started = addon.spawn(spec.file, argv, envp, spec.cwd, flatRlimits(spec.rlimits), spec.user ?? null, spec.cgroupDir ?? null, (err) => {
          if (!err) {
            if (proc) resolve(proc);
            return;
          }
          // It exited 127 before exec; its pidfd's watch reaps it.
          if (proc) for (const stream of [proc.stdin, proc.stdout, proc.stderr, proc.state]) stream.destroy();
          reject(spawnError(err, spec.file, spec.args));
        }, spec.pty);
      } catch (err) {
        if (typeof (err as Partial<NativeErrnoError>).errno === 'number') return reject(spawnError(err as NativeErrnoError, spec.file, spec.args));
        // A NUL byte in an argument or the environment, as child_process refuses it.
        return reject(Object.assign(new Error(`spawn ${spec.file}: ${(err as Error).message}`), { code: 'ERR_INVALID_ARG_VALUE' }));
      }
      adoptions?.leaderStarted(started.pid);
      if (started.cgroupRefusal !== null && !refusalSaid) {
        refusalSaid = true;
        const errno = ERRNO_NAMES.get(started.cgroupRefusal) ?? `E${started.cgroupRefusal}`;
        log?.debug({ errno }, 'clone3 CLONE_INTO_CGROUP refused by the kernel: each command enters its cgroup from its child before exec');
      }
      const ended = (): void => {
        adoptions?.leaderEnded(started.pid);
        if (spec.owner !== undefined) adoptions?.ended([spec.owner]);
      };
      try {
        proc = wrap(addon, started.pid, started.pidfd, started.fds, spec.pty !== undefined, ended);
      } catch (wrapErr) {
        abandon(addon, started.pidfd, ended);
        reject(wrapErr);
      }
    });
  return Object.assign(spawner, { setsUpChild: true }, adoptions ? { adopted: adoptions } : {});
}

/** A child we cannot hand over (its fds are closed already): killed through its pidfd and reaped. */
function abandon(addon: NativeAddon, pidfd: number, ended: () => void): void {
  try {
    addon.sendSignal(pidfd, constants.signals.SIGKILL);
  } finally {
    addon.watchExit(pidfd, ended);
  }
}

/** The streams on the child's fds; where one cannot be made, the ones made are destroyed and the other fds closed. */
function streamsOf(addon: NativeAddon, fds: [number, number, number, number], pty: boolean): Pick<SpawnedProcess, 'stdin' | 'stdout' | 'stderr' | 'state' | 'terminal'> {
  const made: { destroy(): unknown }[] = [];
  const owned = new Set<number>();
  const take = <T extends { destroy(): unknown }>(fd: number, make: () => T): T => {
    const stream = make();
    made.push(stream);
    owned.add(fd);
    return stream;
  };
  try {
    const state = take(fds[3], () => new FdReader(addon, fds[3]));
    if (pty) {
      const terminal = terminalStdio(fds[0], (fd, cols, rows) => addon.resizePty(fd, cols, rows));
      take(fds[0], () => terminal.stdout); // the master's stream: destroying it closes the master
      return { state, ...terminal };
    }
    return { state, stdin: take(fds[0], () => new FdWriter(fds[0])), stdout: take(fds[1], () => new FdReader(addon, fds[1])), stderr: take(fds[2], () => new FdReader(addon, fds[2])) };
  } catch (err) {
    for (const stream of made) stream.destroy();
    for (const fd of fds) if (fd >= 0 && !owned.has(fd)) closeSync(fd);
    throw err;
  }
}

function wrap(addon: NativeAddon, pid: number, pidfd: number, fds: [number, number, number, number], pty: boolean, onEnded: () => void): SpawnedProcess {
  const { stdin, stdout, stderr, state, terminal } = streamsOf(addon, fds, pty);
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  const listeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  addon.watchExit(pidfd, (code, signo) => {
    exit = [code, signo === null ? null : (SIGNAL_NAMES.get(signo) ?? null)];
    onEnded();
    for (const l of listeners.splice(0)) l(...exit);
  });
  return {
    pid,
    stdin,
    stdout,
    stderr,
    state,
    ...(terminal ? { terminal } : {}),
    onExit: (listener) => {
      if (exit) queueMicrotask(() => listener(...exit!));
      else listeners.push(listener);
    },
    // Until the exit is known the pidfd is open (watchExit closes it after reaping).
    signal: (signal) => {
      if (exit) return false;
      try {
        addon.sendSignal(pidfd, constants.signals[signal]);
        return true;
      } catch {
        return false;
      }
    },
  };
}
