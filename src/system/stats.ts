import { readdirSync } from 'node:fs';

/** Current resident set size (not the peak). */
export const residentBytes = (): number => process.memoryUsage.rss();

/** File descriptors the daemon holds now. */
export function openFdCount(): number {
  try {
    // readdirSync itself holds one fd on the directory while reading it.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return -1;
  }
}
