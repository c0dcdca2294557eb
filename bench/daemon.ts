import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readProcStat } from '../src/system/proc';
import { TestDaemon } from '../test/helpers/daemon';

/**
 * A real trld for the benchmark, started by the tests' launcher (same
 * unprivileged user, same private directory, same DAEMON_ENTRY staging).
 * Below info level the daemon never logs "trld ready", so there it counts as
 * ready once it answers a ping.
 */
export interface BenchDaemon {
  readonly pid: number;
  readonly socketPath: string;
  readonly logLevel: string;
  /** Bytes the daemon wrote to stdout (its log) so far. */
  logBytes(): number;
  dispose(): Promise<void>;
}

const LOGS_READY = new Set(['info', 'debug', 'trace']);

/** The malloc settings systemd/trl.service gives trld, so the bench measures the daemon as the unit runs it. */
function unitTunables(): Record<string, string> {
  try {
    const unit = readFileSync(join(__dirname, '..', '..', 'systemd', 'trl.service'), 'utf8');
    const m = /^Environment=GLIBC_TUNABLES=(\S+)$/m.exec(unit);
    return m ? { GLIBC_TUNABLES: m[1]! } : {};
  } catch {
    return {};
  }
}

export async function startDaemon(logLevel: string, extraEnv: Record<string, string> = {}, opts: { root?: string; nodeArgs?: string[] } = {}): Promise<BenchDaemon> {
  const d = await TestDaemon.start({
    ...opts,
    env: { ...unitTunables(), TRL_LOG_LEVEL: logLevel, ...extraEnv },
    dirPrefix: 'trl-bench-',
    ready: LOGS_READY.has(logLevel) ? 'log' : 'ping',
  });
  return {
    pid: d.pid,
    socketPath: d.socketPath,
    logLevel,
    logBytes: () => Buffer.byteLength(d.logs),
    // A profiling or tracing flag writes its file at a clean exit only.
    dispose: async () => {
      if (opts.nodeArgs?.length) await d.stop('SIGTERM');
      if (process.env.BENCH_DAEMON_LOG) appendFileSync(process.env.BENCH_DAEMON_LOG, d.logs);
      await d.dispose();
    },
  };
}

/** utime+stime of a process in clock ticks (usually 1/100 s). */
export function procCpuTicks(pid: number): number {
  const st = readProcStat(pid);
  if (!st) throw new Error(`process ${pid} is gone`);
  return st.cpuTicks;
}
