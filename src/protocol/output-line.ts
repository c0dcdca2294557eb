import { isUtf8 } from 'node:buffer';
import { OUTPUT_BYTES, type OutputEvent } from './events';

/**
 * An `output` event read from its wire line without making a string of its
 * output: the members are read from the bytes, and the `data` string's
 * content becomes the output's bytes — a subarray of the line, its escapes
 * (if any) decoded in place. `data` itself is made only when asked for, from
 * those bytes. `JSON.parse` and then `Buffer.from(data)` cost a streaming
 * reader as much as the daemon spent sending, and turned every byte into a
 * string and back.
 *
 * The event has the members `JSON.parse` gives, in the same order, with the
 * same values; one exception: a lone surrogate escaped in `data` (which the
 * daemon never sends) reads as U+FFFD, as its bytes always did. A line of
 * another shape (not a flat object of strings and scalars, whitespace, an
 * escaped key) gives null, untouched, for the caller to parse as JSON; an
 * invalid escape in `data` throws a SyntaxError, as JSON.parse would. The
 * line is the event's afterwards: its bytes may have been rewritten.
 */
export function readOutputLine(line: Buffer): OutputEvent | null {
  if (line.length < READ_FROM_BYTES || line.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0) return null;
  const ev: Record<string, unknown> = {};
  let dataFrom = -1;
  let dataEnd = -1;
  let dataEscaped = false;
  let i = 1;
  for (;;) {
    if (line[i] !== QUOTE) return null;
    const keyEnd = plainEnd(line, i + 1);
    if (keyEnd < 0 || line[keyEnd + 1] !== COLON) return null;
    const key = line.toString('latin1', i + 1, keyEnd);
    if (key === '__proto__') return null;
    i = keyEnd + 2;
    if (line[i] === QUOTE) {
      const end = stringEnd(line, i + 1);
      if (end < 0) return null;
      const escaped = backslash(line, i + 1, end) < end;
      if (key === 'data') {
        dataFrom = i + 1;
        dataEnd = end;
        dataEscaped = escaped;
        ev.data = '';
      } else {
        ev[key] = escaped ? JSON.parse(line.toString('utf8', i, end + 1)) : line.toString('utf8', i + 1, end);
      }
      i = end + 1;
    } else {
      let j = i;
      while (j < line.length && line[j] !== COMMA && line[j] !== CLOSE) j++;
      const v = scalar(line.toString('latin1', i, j));
      if (v === undefined) return null;
      ev[key] = v;
      i = j;
    }
    if (line[i] === COMMA) i++;
    else if (line[i] === CLOSE && i === line.length - 1) break;
    else return null;
  }
  if (dataFrom < 0 || typeof ev.exec_id !== 'string') return null;
  let bytes = dataEscaped ? decodeInPlace(line, dataFrom, dataEnd) : line.subarray(dataFrom, dataEnd);
  // Bytes that are not UTF-8 read as JSON.parse of the line's text would have them: U+FFFD for each bad sequence.
  if (!isUtf8(bytes)) bytes = Buffer.from(bytes.toString('utf8'));
  // Much less than the buffer under it (a socket read holding other lines, dense escapes): copied, so that can go.
  else if (bytes.buffer.byteLength > 2 * bytes.length + 4096) bytes = Buffer.from(bytes);
  return withBytes(ev, bytes);
}

/** The text that starts every output event the daemon writes. */
const PREFIX = Buffer.from('{"event":"output",');
/** Below this a line is parsed as JSON: as cheap, and its bytes would hold the socket's whole read. */
const READ_FROM_BYTES = 1024;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const CLOSE = 0x7d;

/** The event with `data` made from `bytes` on first use (the text, or the base64 as sent). */
function withBytes(ev: Record<string, unknown>, bytes: Buffer): OutputEvent {
  const encoding = ev.encoding === 'base64' ? 'latin1' : 'utf8';
  let text: string | null = null;
  Object.defineProperty(ev, 'data', {
    enumerable: true,
    configurable: true,
    get: () => (text ??= bytes.toString(encoding)),
    set: (v: string) => {
      text = v;
      bytes = Buffer.from(v, encoding);
    },
  });
  Object.defineProperty(ev, OUTPUT_BYTES, { get: () => bytes });
  return ev as unknown as OutputEvent;
}

/** The closing quote of a key: printable ASCII, no escapes; -1 if not. */
function plainEnd(line: Buffer, from: number): number {
  for (let i = from; i < line.length; i++) {
    const b = line[i]!;
    if (b === QUOTE) return i;
    if (b === BACKSLASH || b < 0x20 || b > 0x7e) return -1;
  }
  return -1;
}

/** The closing quote of the string whose content starts at `from`: the first quote after an even run of backslashes; -1 if none. */
function stringEnd(line: Buffer, from: number): number {
  for (let q = line.indexOf(QUOTE, from); q >= 0; q = line.indexOf(QUOTE, q + 1)) {
    let k = q - 1;
    while (k >= from && line[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
  }
  return -1;
}

/** The first backslash in line[from, to), or `to`. */
function backslash(line: Buffer, from: number, to: number): number {
  if (to - from > SHORT_RUN) {
    const at = line.indexOf(BACKSLASH, from);
    return at < 0 || at > to ? to : at;
  }
  for (let j = from; j < to; j++) if (line[j] === BACKSLASH) return j;
  return to;
}

/** Bytes below which a loop in JavaScript costs less than a call into Buffer's natives (~20–60 ns). */
const SHORT_RUN = 64;

/**
 * Decodes the escapes of the string content line[from, end) in place (what
 * an escape stands for is never longer than the escape) and returns the
 * decoded content; a run between escapes moves as one copyWithin.
 */
function decodeInPlace(line: Buffer, from: number, end: number): Buffer {
  let j = backslash(line, from, end);
  let n = j;
  while (j < end) {
    // line[j] is a backslash.
    const c = line[j + 1]!;
    const simple = SIMPLE[c]!;
    if (simple >= 0) {
      line[n++] = simple;
      j += 2;
    } else if (c === 0x75 && line[j + 2] === 0x30 && line[j + 3] === 0x30 && (HEX[line[j + 4]!]! | HEX[line[j + 5]!]!) >= 0 && j + 6 <= end) {
      // \u00XX, the daemon's escape of a control byte: the common case of NUL-heavy output.
      const unit = (HEX[line[j + 4]!]! << 4) | HEX[line[j + 5]!]!;
      if (unit < 0x80) line[n++] = unit;
      else n += utf8(line, n, unit);
      j += 6;
    } else if (c === 0x75) {
      let unit = hex4(line, j + 2, end);
      j += 6;
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = line[j] === BACKSLASH && line[j + 1] === 0x75 ? hex4(line, j + 2, end) : -1;
        if (low >= 0xdc00 && low <= 0xdfff) {
          unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          j += 6;
        } else unit = 0xfffd;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) unit = 0xfffd;
      n += utf8(line, n, unit);
    } else {
      throw new SyntaxError(`bad escape in an output event's data at byte ${j} of its line`);
    }
    if (j >= end || line[j] === BACKSLASH) continue;
    const next = backslash(line, j, end);
    if (next - j > SHORT_RUN) {
      line.copyWithin(n, j, next);
      n += next - j;
    } else {
      for (let k = j; k < next; k++) line[n++] = line[k]!;
    }
    j = next;
  }
  return line.subarray(from, n);
}

/** A number, true, false or null as JSON writes it; undefined for anything else. */
function scalar(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (!NUMBER.test(text)) return undefined;
  return Number(text);
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** What `\x` stands for, by the byte x; -1 where x does not make a one-byte escape. */
const SIMPLE = new Int16Array(256).fill(-1);
for (const [c, v] of [['"', 0x22], ['\\', 0x5c], ['/', 0x2f], ['b', 0x08], ['f', 0x0c], ['n', 0x0a], ['r', 0x0d], ['t', 0x09]] as const) {
  SIMPLE[c.charCodeAt(0)] = v;
}

/** The four hex digits at line[at]; a SyntaxError if they are not, or run past `end`. */
function hex4(line: Buffer, at: number, end: number): number {
  if (at + 4 > end) throw new SyntaxError(`bad \\u escape in an output event's data at byte ${at - 2} of its line`);
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const d = HEX[line[k]!]!;
    if (d < 0) throw new SyntaxError(`bad \\u escape in an output event's data at byte ${at - 2} of its line`);
    v = (v << 4) | d;
  }
  return v;
}

const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 16; d++) HEX['0123456789abcdef'.charCodeAt(d)] = HEX['0123456789ABCDEF'.charCodeAt(d)] = d;

/** Writes code point `cp` (not a surrogate) as UTF-8 at out[n]; returns the bytes written. */
function utf8(out: Buffer, n: number, cp: number): number {
  if (cp < 0x80) {
    out[n] = cp;
    return 1;
  }
  if (cp < 0x800) {
    out[n] = 0xc0 | (cp >> 6);
    out[n + 1] = 0x80 | (cp & 0x3f);
    return 2;
  }
  if (cp < 0x10000) {
    out[n] = 0xe0 | (cp >> 12);
    out[n + 1] = 0x80 | ((cp >> 6) & 0x3f);
    out[n + 2] = 0x80 | (cp & 0x3f);
    return 3;
  }
  out[n] = 0xf0 | (cp >> 18);
  out[n + 1] = 0x80 | ((cp >> 12) & 0x3f);
  out[n + 2] = 0x80 | ((cp >> 6) & 0x3f);
  out[n + 3] = 0x80 | (cp & 0x3f);
  return 4;
}
