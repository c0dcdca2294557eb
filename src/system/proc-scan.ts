import { readFileSync } from 'node:fs';
import { listPids, readProcStat, type ProcStat } from './proc';

/** Pids read between two looks at the new ones (and two turns of the event loop) during a scan. */
const SCAN_SLICE = 512;

export interface Scan {
  /** Live processes, highest pid first, read after the listing. */
  stats: ProcStat[];
  /** ns_last_pid read before the listing. */
  cursor: number | null;
}

/**
 * One /proc pass serves every kill in progress: ten sessions destroyed at
 * once cost one scan per round, not ten. A kill that asks while a pass runs
 * joins it (its stops happened before it asked; what was born since is
 * caught by its chase, which starts from the pass's cursor) and gets called
 * every SCAN_SLICE pids to look at new pids meanwhile.
 */
interface Flight {
  done: Promise<Scan>;
  slices: Set<(before: number | null) => void>;
}
let inFlight: Flight | null = null;

export function sharedScan(onSlice: (before: number | null) => void): Promise<Scan> {
  if (inFlight) {
    inFlight.slices.add(onSlice);
    return inFlight.done;
  }
  // Published before the pass starts: with fewer than SCAN_SLICE pids the pass
  // never awaits and finishes within this call, and its `finally` must find
  // its own flight to clear, or every later caller would get this old scan.
  const flight: Flight = { done: Promise.resolve({ stats: [], cursor: null }), slices: new Set([onSlice]) };
  inFlight = flight;
  flight.done = (async (): Promise<Scan> => {
    const cursor = readNumber('/proc/sys/kernel/ns_last_pid');
    const stats: ProcStat[] = [];
    let n = 0;
    try {
      for (const pid of listPids().reverse()) {
        if (pid === process.pid) continue;
        if (++n % SCAN_SLICE === 0) {
          for (const f of flight.slices) f(cursor);
          await yieldToLoop();
        }
        const st = readProcStat(pid);
        if (st) stats.push(st);
      }
    } finally {
      if (inFlight === flight) inFlight = null;
    }
    return { stats, cursor };
  })();
  return flight.done;
}

export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'latin1').trim());
    return Number.isSafeInteger(n) ? n : null;
  } catch {
    return null;
  }
}
