/** A command's two timeouts: wall-clock from the start, and idle (no output) since the last output. 0 = none. */
export class Timeouts {
  private wall: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    wallMs: number,
    private readonly idleMs: number,
    private readonly fire: (kind: 'wall' | 'idle') => void,
  ) {
    if (wallMs > 0) this.wall = setTimeout(() => fire('wall'), wallMs);
    this.startIdle();
  }

  /** Output arrived: the idle timeout starts over. */
  outputSeen(): void {
    this.idle?.refresh();
  }

  /** The silence is not the command's (its output is held, or it has exited). */
  stopIdle(): void {
    clearTimeout(this.idle);
  }

  startIdle(): void {
    if (this.idleMs > 0) this.idle = setTimeout(() => this.fire('idle'), this.idleMs);
  }

  clear(): void {
    clearTimeout(this.wall);
    clearTimeout(this.idle);
  }
}
