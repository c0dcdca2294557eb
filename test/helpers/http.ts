import { request, type IncomingHttpHeaders } from 'node:http';
import type { TestDaemon } from './daemon';

/** HTTP transport helpers: one request to a daemon's HTTP listener, and where that listener is. */

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP request to a daemon's HTTP listener. `body` is sent as given (a
 * string) or as JSON (an object); `chunked` sends it without Content-Length.
 */
export function httpRequest(
  url: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | object; chunked?: boolean; localAddress?: string } = {},
  timeoutMs = 15_000,
): Promise<HttpReply> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const u = new URL(opts.path ?? '/', url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body !== undefined && !opts.chunked) headers['Content-Length'] = String(Buffer.byteLength(body));
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'POST', headers, agent: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, text });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no HTTP answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The HTTP URL a running daemon logged in its "trld ready" record. */
export function httpUrlOf(d: TestDaemon): string {
  const ready = d.logRecords().find((r) => r.msg === 'trld ready') as { listen?: string[] } | undefined;
  const url = ready?.listen?.find((w) => /^https?:\/\//.test(w));
  if (!url) throw new Error(`the daemon logged no HTTP listener; logs: ${d.logs}`);
  return url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}
