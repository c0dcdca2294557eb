import { createHash, timingSafeEqual } from 'node:crypto';

/** Failed authentications an address may make before it is refused (429) without a comparison. */
export const AUTH_FAILURE_BURST = 10;
/** One failure is forgiven every this many ms (10 a minute). */
export const AUTH_FAILURE_REFILL_MS = 6000;
/** Addresses tracked by the rate limiter at most; the least recently failing go first. */
const MAX_TRACKED_ADDRESSES = 10_000;

export type AuthOutcome = 'ok' | 'missing' | 'malformed' | 'wrong';

/** 'ok', or why not. The comparison is over SHA-256 digests, so every presented token, of any length, takes the same path. */
export function checkAuth(header: string | undefined, expected: Buffer): AuthOutcome {
  if (header === undefined || header === '') return 'missing';
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const presented = m ? m[1]! : '';
  const equal = timingSafeEqual(digest(presented), expected);
  if (!m) return 'malformed';
  return equal ? 'ok' : 'wrong';
}

export function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * A token bucket per client address, for failed authentications only: each
 * failure takes a token; an empty bucket means 429 without comparing. Tokens
 * come back one per `refillMs`.
 */
export class FailureLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
  ) {}

  /** Milliseconds until `address` may try again; 0 if it may now. */
  blockedFor(address: string, now = Date.now()): number {
    const b = this.refresh(address, now);
    if (!b || b.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - b.tokens) * this.refillMs));
  }

  /** Records a failure; returns the failures left before the address is blocked. */
  fail(address: string, now = Date.now()): number {
    const b = this.refresh(address, now) ?? { tokens: this.burst, at: now };
    b.tokens = Math.max(0, b.tokens - 1);
    this.buckets.delete(address);
    this.buckets.set(address, b); // most recent last
    if (this.buckets.size > MAX_TRACKED_ADDRESSES) this.buckets.delete(this.buckets.keys().next().value!);
    return Math.floor(b.tokens);
  }

  private refresh(address: string, now: number): { tokens: number; at: number } | undefined {
    const b = this.buckets.get(address);
    if (!b) return undefined;
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) / this.refillMs);
    b.at = now;
    if (b.tokens >= this.burst) {
      this.buckets.delete(address);
      return undefined;
    }
    return b;
  }
}
