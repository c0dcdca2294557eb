import { signalTree, terminateTree, type ProcessTree } from './terminate';

/**
 * Why a command is being stopped (a timeout, a cancel with its signal) and
 * the stop under way. It records the cause only: the run builds the outcome
 * from it once the command has ended.
 */
export class StopRecord {
  timeout: 'wall' | 'idle' | null = null;
  cancelSignal: NodeJS.Signals | null = null;
  private stopping: Promise<void> | null = null;
  /** The latest stop has finished: the tree it was sent to is gone. */
  private stopped = false;

  constructor(
    private readonly tree: ProcessTree,
    private readonly graceMs: number,
  ) {}

  /** Timed out or cancelled: the shell's state is not carried over. */
  get interrupted(): boolean {
    return this.timeout !== null || this.cancelSignal !== null;
  }

  /** Any stop at all, a destroy's terminate included. */
  get any(): boolean {
    return this.interrupted || this.stopping !== null;
  }

  /** No stop is under way: the command's end may be answered. */
  get settled(): boolean {
    return this.stopping === null || this.stopped;
  }

  /** Calls `then` once the stop under way has finished. */
  whenSettled(then: () => void): void {
    const stop = this.stopping!;
    void stop.then(() => {
      if (this.stopping === stop) this.stopped = true;
      then();
    });
  }

  timeOut(kind: 'wall' | 'idle'): void {
    if (this.timeout) return;
    this.timeout = kind;
    void this.terminate();
  }

  /**
   * With no signal: TERM → grace → KILL. With an explicit signal: that
   * signal alone, to the group and the tree.
   */
  cancel(signal?: NodeJS.Signals): Promise<void> {
    // The latest cancel is the one that ends the command (SIGUSR1 may be survived, then SIGKILL is not).
    this.cancelSignal = signal ?? 'SIGTERM';
    if (signal && signal !== 'SIGTERM' && signal !== 'SIGKILL') {
      signalTree(this.tree, signal);
      return Promise.resolve();
    }
    return this.terminate(signal ?? 'SIGTERM');
  }

  terminate(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    if (this.stopping && signal !== 'SIGKILL') return this.stopping;
    this.stopping = terminateTree(this.tree, this.graceMs, signal).then(() => undefined);
    return this.stopping;
  }
}
