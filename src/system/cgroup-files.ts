import { mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseControllerList, parseKeyValues } from './cgroup-paths';

export function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? String(err);
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function readText(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

export function tryWrite(p: string, value: string): boolean {
  try {
    writeFileSync(p, value);
    return true;
  } catch {
    return false;
  }
}

export function tryRmdir(p: string): void {
  try {
    rmdirSync(p);
  } catch {
    /* best effort */
  }
}

/** mkdir; true if we created it, false if it existed. Other errors throw. */
export function mkdirIfMissing(p: string): boolean {
  try {
    mkdirSync(p);
    return true;
  } catch (err) {
    if (errCode(err) === 'EEXIST' && isDir(p)) return false;
    throw err;
  }
}

/** Enables each controller in dir/cgroup.subtree_control (one write each, so one refusal does not block the others); returns those enabled. */
export function enableControllers(dir: string, controllers: readonly string[]): string[] {
  const file = join(dir, 'cgroup.subtree_control');
  const already = parseControllerList(readText(file) ?? '');
  const enabled: string[] = [];
  for (const c of controllers) {
    if (already.includes(c) || tryWrite(file, `+${c}`)) enabled.push(c);
  }
  return enabled;
}

export function readPids(procsFile: string): number[] {
  return (readText(procsFile) ?? '')
    .split('\n')
    .map((s) => Number(s))
    .filter((n) => Number.isInteger(n) && n > 0);
}

export function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** Every cgroup below dir, deepest first. */
export function descendants(dir: string): string[] {
  const out: string[] = [];
  for (const name of subdirs(dir)) {
    const child = join(dir, name);
    out.push(...descendants(child), child);
  }
  return out;
}

export function pidsInTree(dir: string): number[] {
  const pids: number[] = [];
  for (const d of [dir, ...descendants(dir)]) pids.push(...readPids(join(d, 'cgroup.procs')));
  return pids;
}

/** cgroup.events populated 1. A missing cgroup is not populated. */
export function populated(dir: string): boolean {
  const events = readText(join(dir, 'cgroup.events'));
  if (events === null) return false;
  return parseKeyValues(events).get('populated') === 1;
}

/** rmdir bottom-up. true when dir is gone afterwards; false when something is still in use (EBUSY) or refused. */
export function removeTree(dir: string): boolean {
  if (!isDir(dir)) return true;
  for (const d of [...descendants(dir), dir]) {
    try {
      rmdirSync(d);
    } catch (err) {
      if (errCode(err) !== 'ENOENT') return false;
    }
  }
  return true;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for ms (used only by the bounded start-up sweep and the freezer fallback). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** cgroup.kill, or the freezer loop on kernels without it (5.2–5.13). */
export type KillMode = 'kill' | 'freeze';

/** Escape-proof SIGKILL of a cgroup and its descendants; false when it could not be done. */
export function killCgroup(mode: KillMode, dir: string): boolean {
  if (mode === 'kill') return tryWrite(join(dir, 'cgroup.kill'), '1');
  // Freezer fallback: frozen tasks cannot fork, and SIGKILL still reaches them.
  if (!isDir(dir)) return false;
  const freezes = [dir, ...descendants(dir)];
  for (const d of freezes) tryWrite(join(d, 'cgroup.freeze'), '1');
  for (let round = 0; round < 20; round++) {
    const pids = pidsInTree(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sleepSync(2);
  }
  for (const d of freezes) tryWrite(join(d, 'cgroup.freeze'), '0');
  return true;
}
