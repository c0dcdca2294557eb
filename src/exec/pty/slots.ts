import { ExecError } from '../errors';

/** How many commands may hold a terminal at once (TRL_MAX_PTYS): each is a kernel pty and an emulator's screen. */
export class PtySlots {
  private used = 0;

  constructor(readonly max: number) {}

  get inUse(): number {
    return this.used;
  }

  /** A slot for one terminal command, or RESOURCE_PRESSURE at the limit; the returned function gives it back (once). */
  take(): () => void {
    if (this.used >= this.max) {
      throw new ExecError(
        'out_of_resources',
        `${this.used} commands hold a terminal, the limit (TRL_MAX_PTYS ${this.max}); retry when one has ended, or run without pty`,
      );
    }
    this.used++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.used--;
    };
  }
}
