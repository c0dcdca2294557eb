import { readFileSync } from 'node:fs';
import { ErrorCode, TrlError } from '../protocol/errors';
import type { Logger } from './logger';
import { openFdCount, residentBytes } from './self-usage';

/** Past this share of its descriptor limit the daemon refuses new work: the rest is kept for what is already running. */
const FD_FRACTION = 0.9;

/** The soft RLIMIT_NOFILE of this process, from /proc/self/limits. */
function fdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : 1024;
  } catch {
    return 1024;
  }
}

/**
 * Watches the daemon's own memory and file descriptors (sampled twice a
 * second, never on the request path). While either is over its threshold,
 * new sessions and commands are refused with RESOURCE_PRESSURE; everything
 * else (ping, stats, destroy, cancel) keeps working, and the refusals stop by
 * themselves once the pressure passes.
 */
export class PressureGauge {
  private reason: string | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly maxFds: number;

  constructor(
    private readonly maxRssBytes: number,
    private readonly logger: Logger,
  ) {
    this.maxFds = Math.floor(fdLimit() * FD_FRACTION);
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  get underPressure(): string | null {
    return this.reason;
  }

  /** Throws RESOURCE_PRESSURE while the daemon is over a threshold. */
  check(): void {
    if (this.reason !== null) throw new TrlError(ErrorCode.RESOURCE_PRESSURE, `${this.reason}; retry later`);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const rss = residentBytes();
    const fds = openFdCount();
    let reason: string | null = null;
    if (this.maxRssBytes > 0 && rss > this.maxRssBytes) {
      reason = `the daemon's memory (${Math.round(rss / 1048576)} MiB) is over TRL_MAX_RSS_BYTES (${Math.round(this.maxRssBytes / 1048576)} MiB)`;
    } else if (fds > this.maxFds) {
      reason = `the daemon holds ${fds} file descriptors, over 90% of its limit (${this.maxFds})`;
    } else if (fds < 0 || rss < 0) {
      // Both figures come from /proc: failing to open it means the descriptors are already gone.
      reason = 'the daemon cannot open /proc/self (out of file descriptors)';
    }
    if (reason !== this.reason) {
      if (reason) this.logger.warn({ rss, fds }, 'under resource pressure: refusing new sessions and commands');
      else this.logger.info({ rss, fds }, 'resource pressure over');
    }
    this.reason = reason;
  }
}
