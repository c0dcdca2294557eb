import { JsonBytes } from './json-text';

/**
 * A message as a wire line, in pieces of about `PIECE_CHARS` characters, so
 * that a transport can write a large answer (a 4 MiB result of control bytes
 * is a 24 MiB line once escaped) a piece at a time and wait for 'drain' in
 * between, instead of building the whole line in memory. Small messages (the
 * usual case) are one JSON.stringify; large ones are walked: objects, arrays
 * and iterables (a list produced lazily) piece by piece, long strings in slices,
 * JsonBytes as Buffer slices encoded from the captured bytes (no string made).
 */
export const PIECE_CHARS = 64 * 1024;

/** Characters of string content below which a message is encoded whole. */
const WHOLE_BELOW = 64 * 1024;

/** Whether `message` is encoded in one piece: nothing lazy in it, little string content. */
export function isSmall(message: unknown): boolean {
  return !isLazy(message) && roughChars(message, WHOLE_BELOW) < WHOLE_BELOW;
}

/**
 * `encoded`, when given, gets every JsonBytes whose slices were handed out:
 * once the last piece has been taken, a writer that held each slice until
 * its write was done may release them (JsonBytes.release). A message encoded
 * whole (JSON.stringify) hands out copies and adds nothing.
 */
export function* encodeLinePieces(message: unknown, encoded?: JsonBytes[]): Generator<string | Buffer> {
  if (isSmall(message)) {
    yield JSON.stringify(message) + '\n';
    return;
  }
  let buf = '';
  for (const part of walk(message, encoded)) {
    if (typeof part !== 'string') {
      if (buf.length > 0) yield buf;
      buf = '';
      yield part;
      continue;
    }
    buf += part;
    if (buf.length >= PIECE_CHARS) {
      yield buf;
      buf = '';
    }
  }
  yield buf + '\n';
}

/**
 * An event as one wire line. Events are flat and carry at most one pipe read
 * of output, so the line is built whole; output given as JsonBytes is encoded
 * from its bytes unless it is small, and the line is then a list of pieces
 * (the JSON around the text, the text's slices: a run that needs no escaping
 * is a subarray of the captured chunk) that `writeLine` hands to the
 * transport as one gathered write, so no byte of output is copied on the way.
 */
export function encodeEvent(message: object): string | Buffer[] {
  let bytes = false;
  for (const v of Object.values(message)) if (v instanceof JsonBytes && v.byteLength >= EVENT_BYTES_FROM) bytes = true;
  if (!bytes) return JSON.stringify(message) + '\n';
  const parts: Buffer[] = [];
  let buf = '';
  for (const part of walk(message)) {
    if (typeof part === 'string') {
      buf += part;
      continue;
    }
    if (buf.length > 0) parts.push(Buffer.from(buf));
    buf = '';
    parts.push(part);
  }
  parts.push(Buffer.from(buf + '\n'));
  return parts;
}

/** What a line is written to: a socket, stdout, an HTTP response. `done` runs once the data is written or failed to be. */
export interface LineWriter {
  write(data: string | Uint8Array, done?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
}

/**
 * Writes a line from `encodeEvent`; pieces go corked, as one writev. `done`
 * runs once the writer is done with every piece (written, or failed): a
 * writable runs its callbacks in order, so the last piece's is the line's.
 * Returns what the last write returned.
 */
export function writeLine(out: LineWriter, line: string | Buffer[], done?: () => void): boolean {
  if (typeof line === 'string') return out.write(line, done);
  out.cork();
  let ok = true;
  for (let i = 0; i < line.length; i++) ok = out.write(line[i]!, i === line.length - 1 ? done : undefined);
  out.uncork();
  return ok;
}

/** Output bytes below which an event is one JSON.stringify: the walk costs more than the string would. */
const EVENT_BYTES_FROM = 1024;

/** String characters in `value`, counted until `limit` is passed. */
function roughChars(value: unknown, limit: number): number {
  if (typeof value === 'string') return value.length;
  if (value instanceof JsonBytes) return value.byteLength;
  if (value === null || typeof value !== 'object') return 8;
  let n = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    n += roughChars(v, limit - n) + 4;
    if (n >= limit) break;
  }
  return n;
}

function isLazy(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || value instanceof JsonBytes) return false;
  if (!Array.isArray(value) && Symbol.iterator in value) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (isLazy(v)) return true;
  return false;
}

function* walk(value: unknown, encoded?: JsonBytes[]): Generator<string | Buffer> {
  if (value instanceof JsonBytes) {
    encoded?.push(value);
    yield '"';
    yield* value.slices();
    return yield '"';
  }
  if (typeof value === 'string') {
    if (value.length <= PIECE_CHARS) return yield JSON.stringify(value);
    yield '"';
    for (let i = 0; i < value.length; ) {
      let end = Math.min(value.length, i + PIECE_CHARS);
      // Never split a surrogate pair: each half alone would be escaped as a lone surrogate.
      const last = value.charCodeAt(end - 1);
      if (end < value.length && last >= 0xd800 && last <= 0xdbff) end--;
      yield JSON.stringify(value.slice(i, end)).slice(1, -1);
      i = end;
    }
    return yield '"';
  }
  if (value !== null && typeof value === 'object' && (Array.isArray(value) || Symbol.iterator in value)) {
    yield '[';
    let first = true;
    for (const item of value as Iterable<unknown>) {
      if (!first) yield ',';
      first = false;
      yield* walk(item === undefined || typeof item === 'function' ? null : item, encoded);
    }
    return yield ']';
  }
  if (value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return yield JSON.stringify(value) ?? 'null';
  }
  yield '{';
  let first = true;
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || typeof v === 'function') continue;
    yield `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    yield* walk(v, encoded);
  }
  yield '}';
}

/**
 * A list produced item by item as it is encoded (exec.list), so the answer
 * never exists whole in memory. JSON.stringify still sees an array (toJSON),
 * for callers that encode it the ordinary way.
 */
export class LazyList<T> implements Iterable<T> {
  constructor(private readonly items: () => Iterator<T>) {}

  [Symbol.iterator](): Iterator<T> {
    return this.items();
  }

  toJSON(): T[] {
    return [...this];
  }
}
