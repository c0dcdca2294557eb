import * as z from '../protocol/schema';
import { MAX_TIMER_S, atLeastOneMs } from '../protocol/messages';

const MiB = 1024 * 1024;
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/** Seconds, at most `max`; any positive value is at least a millisecond (0 keeps its meaning of "none"). */
const seconds = (max: number, why = '') => z.coerce.number().min(0).max(max, `at most ${max} s${why}`).transform(atLeastOneMs);
/** Seconds that a timer waits: never more than a Node timer can represent (2^31-1 ms), which would fire at once. */
const timerSeconds = (max: number) => seconds(Math.min(max, MAX_TIMER_S), max > MAX_TIMER_S ? ` (about 24.8 days): the longest a timer can wait is 2^31-1 ms` : '');
const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);
/** A boolean setting's word (1/true/yes/on, 0/false/no/off, any case) as a boolean; any other word stays as it is, for the schema to refuse. */
export const booleanWord = (v: string): boolean | string => (TRUE.has(v.toLowerCase()) ? true : FALSE.has(v.toLowerCase()) ? false : v);
const bool = z.preprocess((v) => (typeof v === 'string' ? booleanWord(v) : v), z.boolean());

/**
 * Every setting of the daemon. Each key K is read from the env file and the
 * environment as TRL_<K upper-cased> and from the command line as --<k-with-dashes>.
 */
export const ConfigSchema = z.object({
  socket_path: z.string().min(1).max(107).default('/tmp/trl.sock'),
  runtime_dir: z.string().min(1).optional(),
  env_file: z.string().min(1).optional(),
  max_sessions: int(1, 100_000).default(64),
  default_timeout_s: timerSeconds(7 * 24 * 3600).default(300),
  kill_grace_ms: int(0, 600_000).default(5000),
  max_output_bytes: int(1024, 1024 * MiB).default(4 * MiB),
  max_idle_sec: seconds(365 * 24 * 3600).default(1800),
  session_ttl_sec: seconds(365 * 24 * 3600).default(86_400),
  max_request_bytes: int(1024, 256 * MiB).default(4 * MiB),
  max_stdin_bytes: int(0, 256 * MiB).default(1 * MiB),
  max_connections: int(1, 100_000).default(256),
  max_inflight_per_connection: int(1, 10_000).default(256),
  first_request_timeout_s: seconds(24 * 3600).default(10),
  stream_window_bytes: int(4096, 256 * MiB).default(1 * MiB),
  exec_retain_s: timerSeconds(7 * 24 * 3600).default(600),
  max_retained_execs: int(1, 1_000_000).default(1000),
  max_retained_bytes: int(0, 1024 * 1024 * MiB).default(8 * MiB),
  max_running_commands: int(1, 100_000).default(64),
  max_ptys: int(0, 10_000).default(32),
  pty_max_cols: int(1, 10_000).default(500),
  pty_max_rows: int(1, 10_000).default(200),
  pty_scrollback_lines: int(0, 100_000).default(1000),
  max_rss_bytes: int(0, 1024 * 1024 * MiB).default(1024 * MiB),
  rlimit_cpu_s: seconds(365 * 24 * 3600).default(0),
  rlimit_nofile: int(0, 1 << 30).default(0),
  rlimit_core_bytes: int(-1, 1024 * 1024 * MiB).default(0),
  rlimit_as_bytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
  memory_max_bytes: int(0, Number.MAX_SAFE_INTEGER).default(0),
  pids_max: int(0, 1 << 22).default(0),
  cpu_max_percent: z.coerce.number().min(0).max(100_000).default(0),
  idle_exit_s: timerSeconds(365 * 24 * 3600).default(0),
  allow_root: bool.default(false),
  http_listen: z.string().min(1).optional(),
  http_headers_timeout_s: z.coerce.number().min(0.1).max(3600).default(10),
  auth_token: z.string().optional(),
  http_tls_cert: z.string().min(1).optional(),
  http_tls_key: z.string().min(1).optional(),
  stdio: bool.default(false),
  spawner: z.enum(['native', 'child_process']).default('native'),
  command_user: z.string().min(1).max(64).optional(),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigKey = keyof Config;

export const CONFIG_HELP: Record<ConfigKey, string> = {
  socket_path: 'Unix socket to listen on (ignored when systemd passes a socket)',
  runtime_dir: 'directory for the orphan ledger (default: $RUNTIME_DIRECTORY, else $XDG_RUNTIME_DIR/trl, else /tmp/trl-<uid>)',
  env_file: 'dotenv file with TRL_* settings and runtime-level variables for commands; must be mode 0600; a leading - (-PATH): a missing file is fine. trld reads it itself, so its commands (same user) can too; under systemd use EnvironmentFile= with a root-owned file instead',
  max_sessions: 'sessions open at once; more gets MAX_SESSIONS_REACHED',
  default_timeout_s: 'timeout of a command when neither it nor its session sets one; 0 = none',
  kill_grace_ms: 'time between SIGTERM and SIGKILL when a command is stopped',
  max_output_bytes: 'bytes kept per stream (stdout, stderr) of a command; the rest is counted, not kept',
  max_idle_sec: 'an idle session with no activity for this long is destroyed; 0 = never',
  session_ttl_sec: 'a session older than this is destroyed, running command included; 0 = never',
  max_request_bytes: 'longest request line; a longer one is answered with an error and the connection closed',
  max_stdin_bytes: 'largest stdin a request may carry',
  max_connections: 'client connections open at once; more are refused',
  max_inflight_per_connection: 'requests open at once on one connection; past it the daemon stops reading that connection until one finishes',
  first_request_timeout_s: 'at TRL_MAX_CONNECTIONS, a socket connection that has sent no complete request for this long is closed to admit a new one, so silent connections cannot keep clients out; 0 = never',
  stream_window_bytes: 'recent output kept per stream of each command, for streaming readers and exec.attach',
  exec_retain_s: 'how long a finished command\'s result and retained output stay available to exec.attach and exec.list',
  max_retained_execs: 'finished commands kept for exec.attach at most; the oldest go first',
  max_retained_bytes: 'output kept by finished commands for exec.attach, all together; the oldest go first',
  max_running_commands: 'commands running at once, all sessions together; more get RESOURCE_PRESSURE',
  max_ptys: 'commands on a terminal (pty) at once, all sessions together; more get RESOURCE_PRESSURE; 0 = no terminals',
  pty_max_cols: 'widest terminal a command may ask for (pty, exec.resize); wider gets INVALID_PARAMS',
  pty_max_rows: 'tallest terminal a command may ask for (pty, exec.resize); taller gets INVALID_PARAMS',
  pty_scrollback_lines: 'lines that scrolled off a terminal\'s screen kept by its emulator for exec.screen',
  max_rss_bytes: 'above this resident memory the daemon refuses new sessions and commands (RESOURCE_PRESSURE) until it drops; 0 = no check',
  rlimit_cpu_s: 'RLIMIT_CPU of every command, seconds of CPU time (and the maximum a session may ask for); 0 = none',
  rlimit_nofile: 'RLIMIT_NOFILE of every command (and the session maximum); 0 = inherit the daemon\'s',
  rlimit_core_bytes: 'RLIMIT_CORE of every command; 0 = no core dumps; -1 = inherit',
  rlimit_as_bytes: 'RLIMIT_AS of every command (and the session maximum); 0 = none. Node and JVMs need about 1 GiB or more',
  memory_max_bytes: 'cgroup memory.max of each session (and the most a session may ask for); 0 = none. cgroup mode only',
  pids_max: 'cgroup pids.max of each session (and the session maximum); 0 = none. cgroup mode only',
  cpu_max_percent: 'cgroup cpu.max of each session in percent of one CPU (and the session maximum); 0 = none. cgroup mode only',
  idle_exit_s: 'when socket-activated: exit after this long with no sessions and no connections; 0 = never',
  allow_root: 'allow running as root (commands would run as root too)',
  http_listen: 'serve the protocol over HTTP too, on HOST:PORT (loopback unless a non-loopback address is given); needs TRL_AUTH_TOKEN',
  http_headers_timeout_s: 'an HTTP connection that has not sent a complete request head within this long is answered 408 and closed',
  auth_token: 'bearer token HTTP clients must present; environment or env file only, never a flag',
  http_tls_cert: 'PEM certificate file: serve HTTPS instead of HTTP',
  http_tls_key: 'PEM private key file for --http-tls-cert',
  stdio: 'one-shot mode: requests on stdin, responses on stdout, logs on stderr; exit at end of input',
  spawner: 'how commands are started: native (the daemon\'s own addon: no copy of the daemon, off the event loop) or child_process (Node\'s); native falls back to child_process with a warning when its addon does not load',
  command_user: 'run every command as this local user instead of the daemon\'s (the daemon needs CAP_SETUID and CAP_SETGID, or root with TRL_ALLOW_ROOT): commands can then neither signal nor inspect the daemon. native spawner: groups, gid, uid, no ambient capabilities, no_new_privs',
  log_level: 'fatal, error, warn, info, debug, trace or silent',
};

export const envNameOf = (key: ConfigKey): string => `TRL_${key.toUpperCase()}`;
/** Node 20 takes any `--env-file` on its command line for itself, even after the script name. */
const FLAG_NAMES: Partial<Record<ConfigKey, string>> = { env_file: 'trl-env-file' };
export const flagOf = (key: ConfigKey): string => FLAG_NAMES[key] ?? key.replace(/_/g, '-');
export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as ConfigKey[];
export const isBooleanKey = (key: ConfigKey): boolean => key === 'allow_root' || key === 'stdio';
/** Settings that must not appear on a command line (visible in /proc/<pid>/cmdline). */
export const hasFlag = (key: ConfigKey): boolean => key !== 'auth_token';
