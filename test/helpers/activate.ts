import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';

// systemd-socket-activate (systemd 252 here) binds the socket, waits for the
// first connection, then execs the program with LISTEN_FDS=1, LISTEN_PID and
// LISTEN_FDNAMES. It has no --now and creates the socket 0644 root-owned, so
// the socket is chmodded to the 0600 that trl.socket sets.
export const ACTIVATE = '/usr/bin/systemd-socket-activate';

/**
 * True once `sock` is listening. The file appears at bind(), before listen():
 * a connect in between is refused, so the path alone is not enough.
 * /proc/net/unix flags 00010000 is __SO_ACCEPTCON, set by listen().
 */
function listening(sock: string): boolean {
  return readFileSync('/proc/net/unix', 'utf8').split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return f[7] === sock && (parseInt(f[3]!, 16) & 0x10000) !== 0;
  });
}

/** Starts `argv` under systemd-socket-activate on `sock` and returns once it listens there (mode 0600). */
export async function activate(sock: string, argv: string[], env: string[] = []): Promise<ChildProcess> {
  const args = ['-l', sock, '--fdname=trl', ...env.map((e) => `-E${e}`), ...argv];
  const proc = spawn(ACTIVATE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.resume();
  proc.stderr!.resume();
  const end = Date.now() + 5000;
  while (!(existsSync(sock) && listening(sock))) {
    if (Date.now() > end) throw new Error(`${ACTIVATE} did not listen on ${sock} within 5 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  chmodSync(sock, 0o600);
  return proc;
}
