import type * as z from './schema';
import type { ExecResult, ExecStreamParams } from './messages';

/** The two output streams of a command. */
export type StreamName = 'stdout' | 'stderr';

/** A piece of one stream. Never splits a UTF-8 character. */
export interface OutputEvent {
  event: 'output';
  exec_id: string;
  stream: StreamName;
  /** Byte offset of the first byte of `data` within its stream. */
  offset: number;
  /** The bytes as text, or as base64 when `encoding` is "base64" (the chunk was not valid UTF-8). */
  data: string;
  encoding?: 'base64';
}

/** Bytes [from, to) of a stream left the daemon's retention window before this reader got them. */
export interface GapEvent {
  event: 'gap';
  exec_id: string;
  stream: StreamName;
  from: number;
  to: number;
  missed_bytes: number;
}

/** The command (started with stdin_open) has been silent and is blocked reading its stdin. */
export interface WaitingInputEvent {
  event: 'waiting_input';
  exec_id: string;
  /** The process that is reading. */
  pid: number;
  silent_ms: number;
}

/**
 * The command ended: exactly what exec.run reports, without the text. The
 * last event of an exec for a reader. Here `*_truncated` means the retention
 * window no longer holds the start of that stream.
 */
export type ExitEvent = { event: 'exit'; exec_id: string } & Omit<ExecResult, 'stdout' | 'stderr'> & {
  /** Only for the caller of an exec.stream given `output_keep`: the collected text, as exec.run's. */
  stdout?: string;
  stderr?: string;
};

/**
 * Stream events: what the daemon pushes on a connection after answering
 * exec.stream or exec.attach. An event has an `event` field and no `ok`
 * field, which tells it apart from a response. Every event names its exec.
 */
export type StreamEvent = OutputEvent | GapEvent | WaitingInputEvent | ExitEvent;

const EVENT_NAMES = new Set(['output', 'gap', 'waiting_input', 'exit']);

/** True for a parsed wire message that is a stream event (not a response). */
export function isStreamEvent(msg: unknown): msg is StreamEvent {
  if (msg === null || typeof msg !== 'object' || 'ok' in msg) return false;
  const m = msg as { event?: unknown; exec_id?: unknown };
  return typeof m.event === 'string' && EVENT_NAMES.has(m.event) && typeof m.exec_id === 'string';
}

/** Where an event read from its wire bytes (output-line.ts) keeps the bytes its `data` stands for. */
export const OUTPUT_BYTES = Symbol('trl.outputBytes');

type Read = OutputEvent & { [OUTPUT_BYTES]?: Buffer };

/**
 * The raw bytes an output event carries. For an event the client read from
 * its wire bytes, the same buffer at each call (copy it before changing it).
 */
export function outputBytes(ev: OutputEvent): Buffer {
  const read = (ev as Read)[OUTPUT_BYTES];
  if (read) return ev.encoding === 'base64' ? fromBase64(read) : read;
  return Buffer.from(ev.data, ev.encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * Base64 text decoded a piece at a time into one buffer: each piece's string
 * stays below V8's large-object size (a whole 128 KiB read's text as one
 * string was a mapping of its own, page-faulted in and unmapped at every
 * event). Pieces of whole 4-character groups decode as the whole text does
 * where it is only base64 characters, as the daemon writes it; other text is
 * decoded whole.
 */
function fromBase64(text: Buffer): Buffer {
  if (text.length <= BASE64_PIECE || text.length % 4 !== 0) return Buffer.from(text.toString('latin1'), 'base64');
  const out = Buffer.allocUnsafe((text.length / 4) * 3);
  let n = 0;
  for (let i = 0; i < text.length; i += BASE64_PIECE) {
    const piece = text.toString('latin1', i, Math.min(text.length, i + BASE64_PIECE));
    const decoded = out.write(piece, n, 'base64');
    // Padding only at the end; a piece with anything but whole groups of base64 characters: decoded whole instead.
    const pad = i + BASE64_PIECE < text.length ? 0 : piece.endsWith('==') ? 2 : piece.endsWith('=') ? 1 : 0;
    if (decoded !== (piece.length / 4) * 3 - pad) return Buffer.from(text.toString('latin1'), 'base64');
    n += decoded;
  }
  return out.subarray(0, n);
}

/** Characters of base64 decoded at a time: whole groups of 4, below V8's large-object size (128 KiB). */
const BASE64_PIECE = 4 * 24576;

/** The length of an output event's `data`, in bytes as sent, without making the string. */
export function outputDataLength(ev: OutputEvent): number {
  return (ev as Read)[OUTPUT_BYTES]?.length ?? ev.data.length;
}

/** Range of a stream still retained by the daemon: offsets [from, to). */
export interface RetainedRange {
  from: number;
  to: number;
}

/** One exec as exec.list and exec.attach describe it. */
export interface ExecSummary {
  exec_id: string;
  session_id: string;
  command: string;
  state: 'running' | 'exited';
  pid: number | null;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  timed_out: boolean;
  cancelled: boolean;
  stdout_bytes: number;
  stderr_bytes: number;
  retained: Record<StreamName, RetainedRange>;
  /** On a terminal: its current size (exec.resize, exec.screen apply); null for pipes. */
  pty: { cols: number; rows: number } | null;
}

/** exec.stream's params as a client writes them. */
export type ExecStreamRequest = z.input<typeof ExecStreamParams>;

/** exec.stream's data. */
export interface ExecStreamStarted {
  exec_id: string;
  session_id: string;
  pid: number | null;
}

/** exec.cancel's data. */
export interface ExecCancelled {
  exec_id: string;
  session_id: string;
  signal: string;
  /** True when the default TERM → grace → KILL applies. */
  escalates: boolean;
}
