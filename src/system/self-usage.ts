import { readdirSync } from 'node:fs';

/**
 * Current resident set size (not the peak); -1 when it cannot be read (Node
 * opens /proc/self/stat for it, which fails with EMFILE when the daemon is
 * out of file descriptors).
 */
export function residentBytes(): number {
  try {
    return process.memoryUsage.rss();
  } catch {
    return -1;
  }
}

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
  try {
    const m = process.memoryUsage();
    return { memory_heap_used_bytes: m.heapUsed, memory_external_bytes: m.external };
  } catch {
    return { memory_heap_used_bytes: -1, memory_external_bytes: -1 };
  }
}
