import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import { Socket } from 'node:net';
import type { NativeAddon, NativeErrnoError } from '../native/addon';
import { terminalStdio } from './pty/master';
import type { SpawnedProcess, Spawner } from './spawn';

/** errno → name; where two names share a number (EAGAIN, EWOULDBLOCK) the first listed, which libuv reports too. */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

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
 * CLONE_VFORK | CLONE_PIDFD on a worker thread (the event loop never waits
 * for an exec, and the daemon's memory is not copied), the child a session
 * leader with stdio and the state pipe on fds 0..3 and nothing else open;
 * with a command user, its groups, gid and uid, no ambient capabilities and
 * no_new_privs.
 * The exit is learned through the pidfd, which also reaps exactly this child.
 */
export function nativeSpawner(addon: NativeAddon): Spawner {
  return (spec) =>
    new Promise((resolve, reject) => {
      const envp = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
      const argv = [spec.file, ...spec.args];
      try {
        addon.spawn(spec.file, argv, envp, spec.cwd, [], spec.user ?? null, (err, started) => {
          if (err || !started) return reject(spawnError(err ?? Object.assign(new Error('no result'), { errno: 0, syscall: 'spawn' }), spec.file, spec.args));
          try {
            resolve(wrap(addon, started.pid, started.pidfd, started.fds, spec.pty !== undefined));
          } catch (wrapErr) {
            abandon(addon, started.pidfd, started.fds);
            reject(wrapErr);
          }
        }, spec.pty);
      } catch (err) {
        // A NUL byte in an argument or the environment, as child_process refuses it.
        reject(Object.assign(new Error(`spawn ${spec.file}: ${(err as Error).message}`), { code: 'ERR_INVALID_ARG_VALUE' }));
      }
    });
}

/** A child we cannot hand over: killed through its pidfd and reaped, its fds closed. */
function abandon(addon: NativeAddon, pidfd: number, fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      /* already wrapped and closed */
    }
  }
  try {
    addon.sendSignal(pidfd, constants.signals.SIGKILL);
  } finally {
    addon.watchExit(pidfd, () => {});
  }
}

function wrap(addon: NativeAddon, pid: number, pidfd: number, fds: [number, number, number, number], pty: boolean): SpawnedProcess {
  const state = new Socket({ fd: fds[3], readable: true, writable: false });
  const { stdin, stdout, stderr, terminal } = pty
    ? terminalStdio(fds[0], (fd, cols, rows) => addon.resizePty(fd, cols, rows))
    : {
        stdin: new Socket({ fd: fds[0], readable: false, writable: true }),
        stdout: new Socket({ fd: fds[1], readable: true, writable: false }),
        stderr: new Socket({ fd: fds[2], readable: true, writable: false }),
        terminal: undefined,
      };
  let exit: [number | null, NodeJS.Signals | null] | undefined;
  const listeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  addon.watchExit(pidfd, (code, signo) => {
    exit = [code, signo === null ? null : (SIGNAL_NAMES.get(signo) ?? null)];
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
  };
}
