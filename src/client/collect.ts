import { outputBytes, type ExitEvent, type GapEvent, type StreamEvent, type StreamName, type WaitingInputEvent } from '../protocol/events';
import type { Offsets } from './client';

/** Everything one reader got from an exec, put back together. */
export interface CollectedStream {
  stdout: Buffer;
  stderr: Buffer;
  /** Null if the events ended without an exit event (never, unless the iteration was cut short). */
  exit: ExitEvent | null;
  gaps: GapEvent[];
  waits: WaitingInputEvent[];
  events: StreamEvent[];
}

/**
 * Reads an exec's events to the end and reassembles each stream from the
 * offsets: a gap leaves its bytes out, and output or a gap at an unexpected
 * offset throws (it would mean bytes lost or repeated without notice).
 * `from`: the offsets the reader asked for (default 0). `onEvent` sees every event as
 * it arrives. Keeps everything in memory: for tests and small outputs.
 */
export async function collectStream(
  events: AsyncIterable<StreamEvent>,
  opts: { from?: Offsets; onEvent?: (ev: StreamEvent) => void } = {},
): Promise<CollectedStream> {
  const onEvent = opts.onEvent;
  const parts: Record<StreamName, Buffer[]> = { stdout: [], stderr: [] };
  const next: Record<StreamName, number> = { stdout: opts.from?.stdout ?? 0, stderr: opts.from?.stderr ?? 0 };
  const out: CollectedStream = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exit: null, gaps: [], waits: [], events: [] };
  for await (const ev of events) {
    out.events.push(ev);
    onEvent?.(ev);
    if (ev.event === 'output') {
      const expected = next[ev.stream];
      if (ev.offset !== expected) {
        throw new Error(`${ev.stream} output at offset ${ev.offset}, expected ${expected}`);
      }
      const bytes = outputBytes(ev);
      parts[ev.stream].push(bytes);
      next[ev.stream] = ev.offset + bytes.length;
    } else if (ev.event === 'gap') {
      if (ev.from !== next[ev.stream]) throw new Error(`${ev.stream} gap from ${ev.from}, expected ${next[ev.stream]}`);
      out.gaps.push(ev);
      next[ev.stream] = ev.to;
    } else if (ev.event === 'waiting_input') {
      out.waits.push(ev);
    } else {
      out.exit = ev;
    }
  }
  out.stdout = Buffer.concat(parts.stdout);
  out.stderr = Buffer.concat(parts.stderr);
  return out;
}
