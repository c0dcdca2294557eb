import { readFileSync } from 'node:fs';
import { listPids, readEnviron, readProcStat } from '../../src/system/proc';

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  return readProcStat(pid) !== null;
}

/** Live (non-zombie) processes for which `matches(pid)` holds; a process that vanishes or cannot be read does not match. */
export function livePidsWhere(matches: (pid: number) => boolean): number[] {
  return listPids().filter((pid) => {
    try {
      return isAlive(pid) && matches(pid);
    } catch {
      return false;
    }
  });
}

/** Live (non-zombie) processes whose environment carries `marker` (e.g. a unique variable a test set). */
export function livePidsWithEnv(marker: string): number[] {
  const needle = Buffer.from(marker);
  return livePidsWhere((pid) => readEnviron(pid)?.includes(needle) ?? false);
}

/** A process's arguments; throws when it is gone. Stays readable when the process is not dumpable. */
export function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
}

/** Live processes whose command line holds `token` as one argument. */
export function livePidsWithToken(token: string): number[] {
  return livePidsWhere((pid) => argvOf(pid).includes(token));
}
