import { utf8SafeEnd, utf8SafeStart } from '../exec/capture';

/** A stream's text as a model gets it: all of it, or its head and tail with the bytes between counted. */
export interface Excerpt {
  head: string;
  /** "" when nothing was left out. */
  tail: string;
  /** Bytes between head and tail. */
  omitted: number;
}

/**
 * Cuts a head (and, when the daemon sent one, a tail) of `totalBytes` down to
 * at most `maxBytes`: half from the start, half from the end, on character
 * boundaries. `omitted` is exact for UTF-8 output; for invalid bytes it
 * counts their replacement characters' size.
 */
export function excerpt(head: string, tail: string, totalBytes: number, maxBytes: number): Excerpt {
  const h = Buffer.from(head);
  const t = Buffer.from(tail);
  if (h.length + t.length <= maxBytes) return { head, tail, omitted: Math.max(0, totalBytes - h.length - t.length) };
  // Without a separate tail the head holds everything there is of the end too.
  const end = t.length > 0 ? t : h;
  const half = Math.floor(maxBytes / 2);
  const headPart = h.subarray(0, utf8SafeEnd(h.subarray(0, Math.min(half, h.length))));
  let tailPart = end.length > maxBytes - half ? end.subarray(end.length - (maxBytes - half)) : end;
  tailPart = tailPart.subarray(utf8SafeStart(tailPart));
  return { head: headPart.toString('utf8'), tail: tailPart.toString('utf8'), omitted: Math.max(0, totalBytes - headPart.length - tailPart.length) };
}

/** The text for one stream, with one line saying how much was left out between head and tail. */
export function renderStream(name: string, e: Excerpt, totalBytes: number): string {
  if (totalBytes === 0) return `${name}: (empty)`;
  const body = e.omitted > 0 ? `${e.head}${e.head.endsWith('\n') ? '' : '\n'}[... ${e.omitted} bytes left out ...]\n${e.tail}` : e.head + e.tail;
  const note = e.omitted > 0 ? `, showing the first and last parts` : '';
  return `${name} (${totalBytes} bytes${note}):\n${body.endsWith('\n') ? body.slice(0, -1) : `${body}\n[no newline at end]`}`;
}
