import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TrlClient } from '../src/client/client';
import { DAEMON_ENTRY, TestDaemon, daemonIdentity, makePrivateDir, sleep } from '../test/helpers/daemon';

/**
 * A real trld for the benchmark, started the way the tests start it (same
 * unprivileged user, same private directory, same DAEMON_ENTRY staging).
 *
 * At the default log level this is TestDaemon itself. TestDaemon.start waits
 * for the info-level "trld ready" line, which a daemon at TRL_LOG_LEVEL=warn
 * never prints, so below info the daemon is spawned here with the same
 * identity and environment and readiness is a successful system.ping.
 */
export interface BenchDaemon {
  readonly pid: number;
  readonly socketPath: string;
  readonly logLevel: string;
  /** Bytes the daemon wrote to stdout (its log) so far. */
  logBytes(): number;
  dispose(): Promise<void>;
}

export async function startDaemon(logLevel: string, extraEnv: Record<string, string> = {}, opts: { root?: string; nodeArgs?: string[] } = {}): Promise<BenchDaemon> {
  if (logLevel === 'info' && !opts.root && !opts.nodeArgs) {
    const d = await TestDaemon.start({ env: { TRL_LOG_LEVEL: 'info', ...extraEnv } });
    return {
      pid: d.pid,
      socketPath: d.socketPath,
      logLevel,
      logBytes: () => Buffer.byteLength(d.logs),
      dispose: () => d.dispose(),
    };
  }
  const dir = makePrivateDir('trl-bench-');
  const id = daemonIdentity();
  const socketPath = join(dir, 'trl.sock');
  const entry = opts.root ? join(opts.root, 'dist/src/main.js') : DAEMON_ENTRY;
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), entry], {
    cwd: dir,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: dir,
      TRL_SOCKET_PATH: socketPath,
      TRL_RUNTIME_DIR: join(dir, 'run'),
      TRL_KILL_GRACE_MS: '1000',
      TRL_LOG_LEVEL: logLevel,
      ...extraEnv,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(id.user !== null ? { uid: id.uid, gid: id.gid } : {}),
  });
  let logBytes = 0;
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (logBytes += c.length));
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`trld did not become ready; stderr: ${stderr}`);
    }
    try {
      const c = await TrlClient.connect(socketPath);
      await c.request('system.ping');
      c.close();
      break;
    } catch {
      await sleep(20);
    }
  }
  return {
    pid: child.pid!,
    socketPath,
    logLevel,
    logBytes: () => logBytes,
    dispose: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** VmRSS and VmHWM of a process in bytes (null if unreadable). */
export function procRss(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

/** utime+stime of a process in clock ticks (usually 1/100 s). */
export function procCpuTicks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
