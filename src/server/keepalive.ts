/**
 * After the client stops sending while streams still use the connection, a
 * blank line (ignored by readers: blank lines are keep-alives) goes out this
 * often: a client that is really gone then shows up as a failed write, which
 * is how kill_on_disconnect notices it even while the command is silent.
 */
const KEEPALIVE_MS = 1000;

/** The blank-line ticker of one conversation; `write` sends one line when the transport can take it. */
export class Keepalive {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly write: () => void) {}

  /** Runs the ticker while `wanted`, stops it otherwise. */
  set(wanted: boolean): void {
    if (wanted && !this.timer) {
      this.timer = setInterval(this.write, KEEPALIVE_MS);
      this.timer.unref();
    } else if (!wanted && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
