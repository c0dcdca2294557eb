import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A session cgroup's limits, as the kernel's files take them. */
export interface CgroupLimits {
  memoryMax?: number;
  memorySwapMax?: number;
  pidsMax?: number;
  cpuMax?: { quotaUs: number; periodUs: number };
}

/**
 * Writes the limits the enabled controllers support into a session's cgroup
 * and returns the files written. A limit whose controller is not enabled,
 * whose file does not exist (memory.swap.max without swap accounting) or that
 * the kernel refused is left out.
 */
export function writeLimits(dir: string, controllers: string[], limits: CgroupLimits): string[] {
  const applied: string[] = [];
  const put = (controller: string, file: string, value: string | null) => {
    if (value === null || !controllers.includes(controller)) return;
    const target = join(dir, file);
    if (!existsSync(target)) return;
    try {
      writeFileSync(target, value);
      applied.push(file);
    } catch {
      /* refused by the kernel (EINVAL, EBUSY): not applied */
    }
  };
  put('memory', 'memory.max', intLimit(limits.memoryMax));
  put('memory', 'memory.swap.max', intLimit(limits.memorySwapMax));
  put('pids', 'pids.max', intLimit(limits.pidsMax));
  if (limits.cpuMax) {
    const { quotaUs, periodUs } = limits.cpuMax;
    const ok = Number.isInteger(quotaUs) && Number.isInteger(periodUs) && quotaUs >= 1000 && periodUs >= 1000 && periodUs <= 1_000_000;
    put('cpu', 'cpu.max', ok ? `${quotaUs} ${periodUs}` : null);
  }
  return applied;
}

function intLimit(v: number | undefined): string | null {
  if (v === undefined || !Number.isFinite(v) || v < 0) return null;
  return String(Math.floor(v));
}
