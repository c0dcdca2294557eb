import type { Logger } from '../system/logger';
import type { Router } from './router';

/** One-shot mode (issue 6): requests on stdin, responses on stdout; resolves at end of input once every request is answered. */
export async function serveStdio(_opts: { router: Router; log: Logger; maxRequestBytes: number; maxInflight: number }): Promise<void> {
  throw new Error('stdio mode is not implemented yet');
}
