import type { Config } from '../config/schema';
import type { Logger } from '../system/logger';
import type { Listener } from './listener';
import type { Router } from './router';

/** The HTTP transport (issue 6). Returns null when HTTP is off. */
export async function listenHttp(opts: { config: Config; router: Router; log: Logger; fd?: number }): Promise<Listener | null> {
  if (!opts.config.http_listen && opts.fd === undefined) return null;
  throw new Error('HTTP transport is not implemented yet');
}
