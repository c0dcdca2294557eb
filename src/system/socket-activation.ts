import systemdSocket = require('systemd-socket');

/** A listening socket handed over by systemd (socket activation). */
export interface ActivatedSocket {
  fd: number;
  /** From LISTEN_FDNAMES (the socket unit's FileDescriptorName=, default the unit name); '' when unnamed. */
  name: string;
}

const ACTIVATION_VARS = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'] as const;

/**
 * Sockets passed by systemd (LISTEN_FDS), only if LISTEN_PID equals
 * process.pid; afterwards removes LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES from
 * process.env. Returns [] when not activated.
 *
 * `systemd-socket` maps an index to its fd (3 + index) but checks neither
 * LISTEN_PID nor clears the variables; both are done here, so variables meant
 * for another process (a wrapper that exec'd us without fixing LISTEN_PID) are
 * ignored, and no child ever inherits them. The fds are CLOEXEC from Node's
 * start-up on, so spawned commands do not inherit the listening socket.
 */
export function takeActivatedSockets(): ActivatedSocket[] {
  const env = process.env;
  const forUs = env.LISTEN_PID !== undefined && Number(env.LISTEN_PID) === process.pid;
  const count = forUs ? Number.parseInt(env.LISTEN_FDS ?? '', 10) : 0;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const sockets: ActivatedSocket[] = [];
  if (Number.isInteger(count) && count > 0) {
    for (let index = 0; index < count; index++) {
      const passed = systemdSocket(index);
      if (passed) sockets.push({ fd: passed.fd, name: names[index] ?? '' });
    }
  }
  for (const name of ACTIVATION_VARS) delete env[name];
  return sockets;
}
