import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { TrlClient } from '../client/client';
import { listPids, readEnviron } from '../system/proc';
import type { DoctorContext } from './context';
import type { UnitFile } from './unit';

/** The daemon at `path`: its system.stats and the processes serving it, or why it did not answer; null when nothing is there. */
export async function queryDaemon(path: string): Promise<DoctorContext['daemon']> {
  if (!existsSync(path)) return null;
  let client: TrlClient | null = null;
  try {
    client = await withTimeout(TrlClient.connect(path), 5000, `no connection to ${path} within 5 s`);
    const stats = (await withTimeout(client.request('system.stats'), 5000, `no answer to system.stats on ${path} within 5 s`)) as Record<string, unknown>;
    return { ok: true, stats, pids: daemonPids(path) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, error: e.code ?? e.message };
  } finally {
    client?.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * The processes serving `socketPath`: the listening socket's inode from
 * /proc/net/unix, then every process holding it open (pid 1, systemd, which
 * holds an activated socket too, excluded). Needs root to see other users' fds.
 */
function daemonPids(socketPath: string): { pid: number; uid: number }[] {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readFileSync('/proc/net/unix', 'utf8')
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[7] === socketPath && f[5] === '01')
        .map((f) => f[6]!),
    );
  } catch {
    return [];
  }
  const found: { pid: number; uid: number }[] = [];
  if (inodes.size === 0) return found;
  for (const pid of listPids()) {
    if (pid === 1) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (/^Name:\s*systemd/m.test(status)) continue;
      const uid = Number(/^Uid:\s*(\d+)/m.exec(status)![1]);
      found.push({ pid, uid });
    } catch {
      /* gone */
    }
  }
  return found;
}

/** The daemon's own environment as configured (unit) and as running (/proc/PID/environ, readable by root or its user). */
export function collectDaemonEnv(unit: UnitFile | null, daemon: DoctorContext['daemon']): DoctorContext['daemonEnv'] {
  const out: DoctorContext['daemonEnv'] = [];
  if (unit) {
    out.push({ source: `Environment= of ${unit.path}`, env: unit.environment() });
    for (const f of unit.all('Service.EnvironmentFile')) {
      const path = f.replace(/^-/, '');
      try {
        out.push({ source: `EnvironmentFile= ${path}`, env: parseDotenv(readFileSync(path)) });
      } catch {
        /* missing optional file, or unreadable */
      }
    }
  }
  if (daemon?.ok) {
    for (const { pid } of daemon.pids) {
      // Readable by root or the daemon's user only; for anyone else there is nothing to check.
      const environ = readEnviron(pid);
      if (environ === null) continue;
      const env: Record<string, string> = {};
      for (const kv of environ.toString('utf8').split('\0')) {
        const eq = kv.indexOf('=');
        if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      out.push({ source: `the running daemon (pid ${pid})`, env });
    }
  }
  return out;
}
