// Types for the two small systemd helpers, which ship none.

declare module 'systemd-socket' {
  /** The fd of the index-th socket passed by systemd (3 + index), or null without LISTEN_FDS. */
  function systemdSocket(index?: number): { fd: number } | null;
  export = systemdSocket;
}

declare module 'sd-notify' {
  /** sd_notify(0, state): one datagram to NOTIFY_SOCKET, sent from this process. */
  export function sendState(state: string): void;
  /** sd_notify(0, "WATCHDOG=1"). */
  export function watchdog(): void;
  /** sd_pid_notify(pid, 0, "STOPPING=1"). */
  export function stopping(pid: number): void;
  /** sd_pid_notify(process.pid, 0, "READY=1"). */
  export function ready(): void;
  /** sd_watchdog_enabled(0, …) in milliseconds, 0 when off or meant for another pid. */
  export function watchdogInterval(): number;
}
