import type { ByteSource } from './spawn';
import { parseStateReport, type EnvReportMemo, type StateMode } from './shell-state';

/** The state report is a cwd and an environment; anything bigger is not ours. */
const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** What the EXIT trap writes on fd 3, collected up to a bound and parsed once the shell has exited. */
export class StatePipe {
  private chunks: Buffer[] = [];
  private bytes = 0;

  constructor(stream: ByteSource) {
    stream.on('data', (c: Buffer) => {
      this.bytes += c.length;
      if (this.bytes <= MAX_STATE_BYTES) this.chunks.push(c);
    });
  }

  /** The report of a shell that exited with `exit`; null when there is none (no wrapper, or a signal ended it). */
  report(mode: StateMode, exit: { code: number | null; signal: NodeJS.Signals | null }, memo?: EnvReportMemo): ReturnType<typeof parseStateReport> {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    if (mode === null || exit.signal !== null) return null;
    // The head (exit code, cwd) comes from the shell; env's part counts only if env itself succeeded.
    // With `exec env`, env's own success says the report is whole; export -p ends it with a NUL.
    return parseStateReport(all, mode === 'export-p' || exit.code === 0, mode, memo);
  }
}
