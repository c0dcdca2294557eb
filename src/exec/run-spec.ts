import type { OutputKeep } from '../protocol/messages';
import type { StreamName } from '../protocol/events';
import type { Limits } from './limits';
import type { EnvReportMemo, StateMode } from './shell-state';
import type { TerminalSize } from './pty/master';

/** One command to run, complete: what the session and the request decided. */
export interface RunSpec {
  execId: string;
  sessionId: string;
  shell: string;
  command: string;
  cwd: string;
  /** The complete environment of the command (runtime < session < command), markers included. */
  env: Record<string, string>;
  /** How the wrapped command reports cwd and env back (null: not wrapped, no carry-over). */
  stateMode: StateMode;
  /** The session's last parsed report, reused when the shell reports the same environment again. */
  envMemo?: EnvReportMemo;
  limits: Limits;
  /** Written to stdin first. */
  stdin: string | undefined;
  /** Keep stdin open after `stdin` for later input (exec.input); otherwise it is closed at once. */
  stdinOpen: boolean;
  /** 0 = no timeout. */
  timeoutMs: number;
  /** Stop the command after this long without output; 0 = never. */
  idleTimeoutMs: number;
  graceMs: number;
  /** Keep this much of each stream for the outcome (exec.run); 0 = keep nothing. */
  collectBytes: number;
  /** Which part of a stream over `collectBytes` the outcome keeps. */
  outputKeep: OutputKeep;
  /** Run on a terminal of this size, its screen kept by an emulator with this many lines of scrollback. */
  pty?: TerminalSize & { scrollback: number };
  /** Every chunk read from stdout or stderr, as it arrives. */
  onOutput: (stream: StreamName, chunk: Buffer) => void;
}
