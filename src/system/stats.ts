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

/** Where the daemon's memory is: V8's heap, and buffers outside it (output chunks, socket writes). */
export function heapFigures(): { memory_heap_used_bytes: number; memory_external_bytes: number } {
  const m = process.memoryUsage();
  return { memory_heap_used_bytes: m.heapUsed, memory_external_bytes: m.external };
}
