import { ErrorCode, TrlError } from '../protocol/errors';
import type { ExecScreen, PtySize } from '../protocol/messages';
import { PtySlots } from '../exec/pty/slots';
import type { ExecRecord } from '../exec/exec-record';

/** The daemon's bounds on terminals (TRL_MAX_PTYS, TRL_PTY_MAX_COLS, TRL_PTY_MAX_ROWS). */
export interface PtyLimits {
  maxPtys: number;
  maxCols: number;
  maxRows: number;
}

export const DEFAULT_PTY_LIMITS: PtyLimits = { maxPtys: 32, maxCols: 500, maxRows: 200 };

/** What the handlers ask of terminals: admission of a pty command, size checks, the screen. */
export class Terminals {
  private readonly slots: PtySlots;

  constructor(
    private readonly limits: PtyLimits,
    /** The spawner in use: only the native one can make a controlling terminal. */
    private readonly spawner: string,
  ) {
    this.slots = new PtySlots(limits.maxPtys);
  }

  /** A size within the settings, or INVALID_PARAMS naming the field and the setting. */
  checkSize(size: PtySize, field: string): void {
    if (size.cols > this.limits.maxCols) {
      throw new TrlError(ErrorCode.INVALID_PARAMS, `${field}.cols: ${size.cols} is wider than this daemon allows (TRL_PTY_MAX_COLS ${this.limits.maxCols})`);
    }
    if (size.rows > this.limits.maxRows) {
      throw new TrlError(ErrorCode.INVALID_PARAMS, `${field}.rows: ${size.rows} is taller than this daemon allows (TRL_PTY_MAX_ROWS ${this.limits.maxRows})`);
    }
  }

  /**
   * Admits a command that asks for a terminal, and holds a TRL_MAX_PTYS slot
   * until `done` settles (or the start fails). Without `pty` it only starts.
   */
  async admit<T extends { done: Promise<unknown> }>(pty: PtySize | null | undefined, start: () => Promise<T>): Promise<T> {
    if (!pty) return start();
    if (this.spawner !== 'native') {
      throw new TrlError(
        ErrorCode.INVALID_PARAMS,
        `params.pty: a terminal needs the native process layer, and this daemon starts commands with ${this.spawner} (TRL_SPAWNER=native, with its addon built); run without pty`,
      );
    }
    if (this.limits.maxPtys === 0) {
      throw new TrlError(ErrorCode.INVALID_PARAMS, 'params.pty: terminals are turned off on this daemon (TRL_MAX_PTYS 0); run without pty');
    }
    this.checkSize(pty, 'params.pty');
    const release = this.slots.take();
    try {
      const started = await start();
      started.done.then(release, release);
      return started;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The screen of an exec on a terminal, running or retained. */
  async screen(record: ExecRecord, scrollback: number): Promise<ExecScreen> {
    const screen = record.screen;
    if (!screen) throw notOnTerminal(record.id);
    return { exec_id: record.id, state: record.running ? 'running' : 'exited', ...(await screen.snapshot(scrollback)) };
  }
}

export function notOnTerminal(execId: string): TrlError {
  return new TrlError(ErrorCode.INVALID_PARAMS, `exec ${execId} is not on a terminal: start it with pty (exec.run or exec.stream) to resize it or read its screen`);
}
