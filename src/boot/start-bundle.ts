import { findCodeCache, rejectedReason } from '../system/code-cache-file';
import type { CodeCacheReport } from '../system/code-cache-report';
import { BundleScript } from './bundle-script';

/**
 * Runs `bundle` with the code cache at `cachePath` when one fits and is
 * root's (system/code-cache-file.ts), else exactly as Node would run it;
 * says which. `cachePath` '' means none.
 */
export function startBundle(bundle: string, cachePath: string, onReport: (r: CodeCacheReport) => void): void {
  const found = findCodeCache(bundle, cachePath);
  if ('state' in found) {
    onReport(found);
    require(bundle);
    return;
  }
  const script = new BundleScript(bundle, found.source, found.data);
  onReport(script.rejected ? { state: 'rejected', path: cachePath, reason: rejectedReason(cachePath) } : { state: 'used', path: cachePath });
  script.run();
}
