import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Node opens its inspector (a debugger that runs any code in the process) on
 * 127.0.0.1:9229 when it receives SIGUSR1. Every command the daemon starts runs
 * as the daemon's user and may send it that signal; any local user could then
 * read every session's env values. A listener of our own replaces Node's
 * handler, so this module is the entry's first import.
 */
let onSignal: () => void = () => {};
let lastCall = -Infinity;
process.on('SIGUSR1', () => {
  // A command may send the signal in a loop; the log gets one line a minute.
  if (Date.now() - lastCall < 60_000) return;
  lastCall = Date.now();
  onSignal();
});

/** Called on SIGUSR1 from now on, at most once a minute (the logger's warning, once there is a logger). */
export function onSigusr1(listener: () => void): void {
  onSignal = listener;
}

/** The inspector flags Node takes from its command line and NODE_OPTIONS. */
const INSPECT_FLAG = /(^|\s)--(inspect|inspect-brk|inspect-wait|inspect-port|debug-port|inspect-publish-uid)(=|\s|$)/;

/**
 * Why the inspector is or could be on, or null. With `--inspect` it is already
 * listening before the daemon's first line runs, so the daemon can only refuse
 * to go on; the message names where the flag came from, never other values.
 */
export function inspectorProblem(execArgv: readonly string[], env: NodeJS.ProcessEnv): string | null {
  const how = 'anyone on this host who can reach its port could run code inside the daemon and read every secret it holds';
  if (inspectorListening(env)) return `the Node inspector is open in this process: ${how}; start trld without --inspect (command line or NODE_OPTIONS)`;
  if (execArgv.some((a) => INSPECT_FLAG.test(a))) return `trld was started with an inspector flag on Node's command line (${execArgv.filter((a) => INSPECT_FLAG.test(a)).map((a) => a.split('=')[0]).join(', ')}): ${how}; remove it`;
  if (INSPECT_FLAG.test(env.NODE_OPTIONS ?? '')) return `NODE_OPTIONS in the daemon's environment has an inspector flag: ${how}; remove it from NODE_OPTIONS (environment, unit or env file)`;
  return null;
}

/**
 * Whether Node's inspector is listening in this process. node:inspector
 * says so, but loading it (and worker_threads with it) takes about 6 ms of a
 * cold start under a Node built without its code cache, so it is asked only
 * when /proc shows what the inspector would be: a listening TCP socket among
 * trld's descriptors other than those systemd passed, before trld opened
 * any (or when /proc cannot be read).
 */
function inspectorListening(env: NodeJS.ProcessEnv): boolean {
  const inspectorUrl = () => (require('node:inspector') as typeof import('node:inspector')).url() !== undefined;
  const passed = Number(env.LISTEN_PID) === process.pid ? Number(env.LISTEN_FDS) || 0 : 0;
  const sockets = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return inspectorUrl();
  }
  for (const name of fds) {
    if (Number(name) < 3 + passed) continue;
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`));
      if (m) sockets.add(m[1]!);
    } catch {
      // the directory's own descriptor, closed by now
    }
  }
  if (sockets.size === 0) return false;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      return inspectorUrl();
    }
    // Columns: sl local_address rem_address st … inode (10th); st 0A = LISTEN.
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && sockets.has(f[9]!)) return inspectorUrl();
    }
  }
  return false;
}
