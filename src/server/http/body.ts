import type { IncomingMessage } from 'node:http';
import { idOf } from '../envelope';

export type Body = { ok: true; text: string } | { ok: false };

/** Reads the body up to `limit` bytes (and, if given, `withinMs`); past either, stops reading (ok: false). */
export function readBody(req: IncomingMessage, limit: number, withinMs = 0): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const timer = withinMs > 0 ? setTimeout(() => settle({ ok: false }), withinMs) : null;
    const settle = (v: Body) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      resolve(v);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        settle({ ok: false });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', () => settle({ ok: false }));
    req.on('close', () => settle({ ok: false }));
  });
}

/** The id a body names, to echo in a refusal; 'unknown' when it names none. */
export function idOfBody(body: Body): string | number {
  if (!body.ok) return 'unknown';
  try {
    return idOf(JSON.parse(body.text));
  } catch {
    return 'unknown';
  }
}
