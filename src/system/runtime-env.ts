/** Names the daemon keeps to itself: its settings and the systemd protocol variables. */
const PRIVATE_EXACT = new Set(['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']);
const isPrivate = (name: string): boolean =>
  name.startsWith('TRL_') || name.startsWith('WATCHDOG_') || PRIVATE_EXACT.has(name);
/** The daemon's own malloc tuning (the units set it for trld's output buffers), not the commands'. */
const DAEMON_ONLY = new Set(['GLIBC_TUNABLES']);

/**
 * The runtime-level environment every command starts from: the env file's
 * variables, overridden by the daemon's own environment (the same order as the
 * settings), minus the daemon's private names — so no command ever sees
 * TRL_AUTH_TOKEN, NOTIFY_SOCKET or LISTEN_* — and minus what tunes the
 * daemon's own process (an env file may still set it for commands).
 */
export function buildRuntimeEnv(processEnv: NodeJS.ProcessEnv, envFileVars: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(envFileVars)) if (!isPrivate(name)) env[name] = value;
  for (const [name, value] of Object.entries(processEnv)) if (value !== undefined && !isPrivate(name) && !DAEMON_ONLY.has(name)) env[name] = value;
  return env;
}
