/**
 * What the packaged loader (boot/trld.ts) did with the V8 code cache, handed
 * to the daemon it runs for the ready line. The loader runs before the
 * daemon's modules exist, so the handoff is a registry symbol, not an import.
 */
export interface CodeCacheReport {
  /** used: V8 took it; rejected: V8 refused it (another Node build or flags); stale: made for another trld build or Node; refused: not root's alone, or not a plain file; absent: none there; off: TRL_CODE_CACHE_DIR is empty. */
  state: 'used' | 'rejected' | 'stale' | 'refused' | 'absent' | 'off';
  path: string;
  /** Why it was not used, naming what to do. */
  reason?: string;
}

const KEY = Symbol.for('trl.code-cache');

export function setCodeCacheReport(report: CodeCacheReport): void {
  (globalThis as Record<symbol, unknown>)[KEY] = report;
}

/** null when the daemon was not started by the packaged loader (dist/, tests). */
export function codeCacheReport(): CodeCacheReport | null {
  return ((globalThis as Record<symbol, unknown>)[KEY] as CodeCacheReport | undefined) ?? null;
}
