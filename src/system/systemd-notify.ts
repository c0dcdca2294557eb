import type * as SdNotify from 'sd-notify';
import type { ReportLogger } from './logger';

/** The daemon's side of the systemd notification protocol (sd_notify(3)). */
export interface Notifier {
  /** READY=1 with a first STATUS=; call once the orphan sweep is done and the listener accepts. */
  ready(status: string): void;
  /** STATUS=: one line shown by `systemctl status` (StatusText). */
  status(text: string): void;
  /** STOPPING=1 at the start of shutdown. */
  stopping(): void;
  /** Stops the watchdog timer. */
  close(): void;
  /** The watchdog interval systemd asked for (WATCHDOG_USEC), 0 when off. */
  readonly watchdogUsec: number;
}

const NOOP: Notifier = { ready() {}, status() {}, stopping() {}, close() {}, watchdogUsec: 0 };

/** A status line may not carry a newline: it would start a new assignment (e.g. READY=1) in the datagram. */
const oneLine = (text: string): string => text.replace(/[\r\n]+/g, ' ').slice(0, 1024);

/** WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or ours), else 0. */
function watchdogUsecFor(env: NodeJS.ProcessEnv): number {
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== process.pid) return 0;
  const usec = Number(env.WATCHDOG_USEC);
  return Number.isSafeInteger(usec) && usec > 0 ? usec : 0;
}

/**
 * A Notifier that talks to NOTIFY_SOCKET through sd-notify (libsystemd) from
 * the daemon's own pid, so the unit can keep NotifyAccess=main: nothing is
 * sent by a helper process, and commands (which never see NOTIFY_SOCKET) can
 * not speak for the daemon. A no-op Notifier when NOTIFY_SOCKET is unset, and
 * the native addon is then never loaded.
 *
 * NOTIFY_SOCKET stays in the daemon's own environment: libsystemd reads it on
 * every call. The children's environment drops it (src/system/env.ts).
 *
 * With WATCHDOG_USEC set for us, WATCHDOG=1 goes out every half interval from
 * a timer on the event loop: if the loop wedges, the pings stop and systemd
 * restarts the daemon. The timer is unref'd so it never keeps the process up.
 */
export function createNotifier(logger: ReportLogger): Notifier {
  if (!process.env.NOTIFY_SOCKET) return NOOP;
  let addon: typeof SdNotify;
  try {
    addon = require('sd-notify') as typeof SdNotify;
  } catch (err) {
    logger.warn({ err: String(err) }, 'sd-notify addon not loadable: systemd will not see READY');
    return NOOP;
  }
  const send = (state: string): void => {
    try {
      addon.sendState(state);
    } catch (err) {
      logger.warn({ err: String(err) }, 'sd_notify failed');
    }
  };

  const watchdogUsec = watchdogUsecFor(process.env);
  let timer: NodeJS.Timeout | undefined;
  if (watchdogUsec > 0) {
    const everyMs = Math.max(1, Math.floor(watchdogUsec / 2000));
    timer = setInterval(() => send('WATCHDOG=1'), everyMs);
    timer.unref();
    logger.info({ watchdog_usec: watchdogUsec, every_ms: everyMs }, 'watchdog pings on');
  }

  return {
    watchdogUsec,
    ready: (status) => send(`READY=1\nSTATUS=${oneLine(status)}`),
    status: (text) => send(`STATUS=${oneLine(text)}`),
    stopping: () => send('STOPPING=1'),
    close: () => {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
