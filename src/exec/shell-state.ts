import { basename } from 'node:path';
import { existsSync } from 'node:fs';

/** What carries from one command of a session to the next: the directory and the exported environment. */
export interface ShellState {
  cwd: string;
  /** null: the environment could not be reported (see parseStateReport); the session keeps its previous one. */
  env: Record<string, string> | null;
}

/** Shells that understand `trap … EXIT`, `{ …; }` and `>&3`; others run the command plainly, without carry-over. */
const POSIX_SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ksh', 'mksh', 'ksh93', 'ash', 'busybox', 'yash', 'posh']);

export const carriesState = (shell: string): boolean => POSIX_SHELLS.has(basename(shell));

/** Absolute, so that a command that empties PATH still reports its state. */
const ENV_BINARY = ['/usr/bin/env', '/bin/env'].find((p) => existsSync(p)) ?? 'env';

/**
 * The script a POSIX shell runs for one command. On exit it writes
 * `<exit code>\0<cwd>\0` and then `env -0` to fd 3. The user's command runs
 * with fd 3 closed, so nothing it starts holds the state pipe open. `exec`
 * replaces the shell with env instead of forking once more. env's stderr is
 * closed: if the kernel refuses to start it (an environment entry over
 * 128 KiB: E2BIG), the shell's complaint must not reach the user's stderr.
 */
export function wrapCommand(command: string, prologue = ''): string {
  return (
    prologue +
    `trap '__trl_rc=$?; printf "%s\\0%s\\0" "$__trl_rc" "$PWD" >&3; exec ${ENV_BINARY} -0 >&3 2>&-' EXIT\n` +
    `{ ${command}\n} 3>&-`
  );
}

/** Variables the shell or the daemon set per command: never carried over. */
const NOT_CARRIED = new Set(['PWD', 'SHLVL', '_', 'TRL_SESSION_ID', 'TRL_EXEC_ID']);

/**
 * Parses what the trap wrote: `<exit code>\0<cwd>\0` from the shell, then
 * env's output. Returns null without a complete head. The environment counts
 * only when `envComplete` (env itself exited 0) and every entry is
 * NUL-terminated; otherwise it is null and the session keeps its old one.
 */
export function parseStateReport(report: Buffer, envComplete = true): { exitCode: number; state: ShellState } | null {
  const first = report.indexOf(0);
  const second = first < 0 ? -1 : report.indexOf(0, first + 1);
  if (second < 0) return null;
  const exitCode = Number(report.toString('latin1', 0, first));
  const cwd = report.toString('utf8', first + 1, second);
  if (!Number.isInteger(exitCode) || !cwd.startsWith('/')) return null;
  const rest = report.subarray(second + 1);
  if (!envComplete || rest.length === 0 || rest[rest.length - 1] !== 0) return { exitCode, state: { cwd, env: null } };
  const fields = rest.toString('utf8', 0, rest.length - 1).split('\0');
  const env: Record<string, string> = {};
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i]!;
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (!NOT_CARRIED.has(name)) env[name] = entry.slice(eq + 1);
  }
  return { exitCode, state: { cwd, env } };
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
