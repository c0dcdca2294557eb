import { outputBytes, type ExitEvent, type StreamEvent } from '../client/client';

/** Writes the command's output as raw bytes to our stdout/stderr, in order, until its exit event. */
export async function render(events: AsyncIterable<StreamEvent>, onBrokenPipe: () => void, seen?: (bytes: Buffer) => void): Promise<ExitEvent> {
  let stdoutBroken = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (stdoutBroken) return;
    stdoutBroken = true;
    // Like SIGPIPE in a local pipeline: nobody reads our output any more, so stop the command.
    if (err.code === 'EPIPE') onBrokenPipe();
  });
  for await (const ev of events) {
    switch (ev.event) {
      case 'output': {
        const out = ev.stream === 'stdout' ? process.stdout : process.stderr;
        if (ev.stream === 'stdout' && stdoutBroken) break;
        const bytes = outputBytes(ev);
        seen?.(bytes);
        if (!out.write(bytes)) await drained(out);
        break;
      }
      case 'gap':
        process.stderr.write(`\ntrl: ${ev.missed_bytes} bytes of ${ev.stream} (offsets ${ev.from}..${ev.to}) were lost: this reader fell behind the daemon's retention window\n`);
        break;
      case 'waiting_input':
        break;
      case 'exit':
        return ev;
    }
  }
  throw new Error('the output stream ended without an exit status');
}

/** Resolves once a stream that refused more (write returned false) drained, or failed. */
function drained(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('error', done);
  });
}

export function exitStatus(exit: ExitEvent, ownCancel: boolean): number {
  if (exit.timed_out) {
    process.stderr.write(`trl: command timed out (${exit.timeout === 'idle' ? 'no output for --idle-timeout' : 'timeout'})\n`);
    return 124;
  }
  if (exit.cancelled && !ownCancel) process.stderr.write(`trl: the command was cancelled (${exit.cancel_signal})\n`);
  return Math.max(0, Math.min(255, exit.exit_code));
}
