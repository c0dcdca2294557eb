import { basename } from 'node:path';
import { realpathSync } from 'node:fs';
import { parseExportP } from './export-p';

/** What carries from one command of a session to the next: the directory and the exported environment. */
export interface ShellState {
  cwd: string;
  /** null: the environment could not be reported (see parseStateReport); the session keeps its previous one. */
  env: Record<string, string> | null;
}

/** Shells that understand `trap … EXIT`, `{ …; }` and `>&3`; others run the command plainly, without carry-over. */
const POSIX_SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ksh', 'mksh', 'ksh93', 'ash', 'busybox', 'yash', 'posh']);
/** Shells whose `export -p` output parseExportP reads; the others report through `env -0`. */
const EXPORT_P_SHELLS = new Set(['dash', 'bash']);

/**
 * How a shell reports its state after each command: 'export-p' (a builtin:
 * no extra program per command), 'env' (`exec env -0`), or null (not a POSIX
 * shell: no carry-over). Decided by the program the path really names
 * (/bin/sh is dash on Debian).
 */
export type StateMode = 'export-p' | 'env' | null;

export function stateModeOf(shell: string): StateMode {
  let real = shell;
  try {
    real = realpathSync(shell);
  } catch {
    /* judged by the name given */
  }
  if (EXPORT_P_SHELLS.has(basename(real))) return 'export-p';
  return POSIX_SHELLS.has(basename(shell)) || POSIX_SHELLS.has(basename(real)) ? 'env' : null;
}

/**
 * Linux refuses to exec a program whose environment holds an entry of
 * MAX_ARG_STRLEN (128 KiB) or more; carrying such a variable would make every
 * later command of the session fail to start, so it does not carry over.
 */
const MAX_ENTRY_BYTES = 128 * 1024;
const fitsExec = (name: string, value: string): boolean => Buffer.byteLength(value) + name.length + 2 <= MAX_ENTRY_BYTES;

/** Variables the shell or the daemon set per command: never carried over. */
const NOT_CARRIED = new Set(['PWD', 'SHLVL', '_', 'TRL_SESSION_ID', 'TRL_EXEC_ID']);

/** Reports this large are parsed each time rather than kept (a session's memo holds one). */
const MEMO_MAX_BYTES = 64 * 1024;

/**
 * A session's last environment report and what it parsed to: most commands
 * leave the environment as it was, and comparing bytes costs a fraction of
 * parsing them. Held by the session and gone with it.
 */
export class EnvReportMemo {
  private bytes: Buffer | null = null;
  private env: Record<string, string> | null = null;

  /** A copy of the environment `bytes` parse to (callers may change it). */
  parse(bytes: Buffer, parse: (b: Buffer) => Record<string, string>): Record<string, string> {
    if (this.env === null || this.bytes === null || !this.bytes.equals(bytes)) {
      const env = parse(bytes);
      if (bytes.length > MEMO_MAX_BYTES) return env;
      this.bytes = Buffer.from(bytes);
      this.env = { ...env };
      return env;
    }
    return { ...this.env };
  }
}

/** What of a reported environment carries over, built in one pass (no deletes, which slow every later copy). */
function carried(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in env) {
    const value = env[name]!;
    if (!NOT_CARRIED.has(name) && fitsExec(name, value)) out[name] = value;
  }
  return out;
}

/**
 * Parses what the trap wrote: `<exit code>\0<cwd>\0` from the shell, then
 * env's output. Returns null without a complete head. The environment counts
 * only when `envComplete` (env itself exited 0) and every entry is
 * NUL-terminated; otherwise it is null and the session keeps its old one.
 */
export function parseStateReport(report: Buffer, envComplete = true, mode: StateMode = 'env', memo?: EnvReportMemo): { exitCode: number; state: ShellState } | null {
  const first = report.indexOf(0);
  const second = first < 0 ? -1 : report.indexOf(0, first + 1);
  if (second < 0) return null;
  const exitCode = Number(report.toString('latin1', 0, first));
  const cwd = report.toString('utf8', first + 1, second);
  if (!Number.isInteger(exitCode) || !cwd.startsWith('/')) return null;
  const rest = report.subarray(second + 1);
  if (!envComplete || rest.length === 0 || rest[rest.length - 1] !== 0) return { exitCode, state: { cwd, env: null } };
  const parse = mode === 'export-p' ? (b: Buffer) => carried(parseExportP(b.subarray(0, b.length - 1))) : parseEnvOutput;
  return { exitCode, state: { cwd, env: memo ? memo.parse(rest, parse) : parse(rest) } };
}

/** `env -0`'s output, NUL-terminated entries. */
function parseEnvOutput(rest: Buffer): Record<string, string> {
  const fields = rest.toString('utf8', 0, rest.length - 1).split('\0');
  const env: Record<string, string> = {};
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!NOT_CARRIED.has(name)) env[name] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * The session's next environment after a command: what the command left,
 * except that a command-level variable the command did not change reverts to
 * the session's value (command env lives only as long as its command).
 */
export function mergeAfterCommand(
  before: Record<string, string>,
  after: Record<string, string>,
  commandEnv: Record<string, string> | undefined,
): Record<string, string> {
  if (!commandEnv) return after;
  for (const [name, value] of Object.entries(commandEnv)) {
    if (after[name] !== value) continue;
    const old = before[name];
    if (old === undefined) delete after[name];
    else after[name] = old;
  }
  return after;
}
