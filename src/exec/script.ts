import { existsSync } from 'node:fs';
import type { Limits } from './limits';
import type { StateMode } from './shell-state';

/** What the shell the daemon emits for one command is made of (this file writes all of it). */
export interface ScriptSpec {
  shell: string;
  command: string;
  /** How the shell reports cwd and env back (null: not a POSIX shell, no trap). */
  stateMode: StateMode;
  /** The `ulimit` lines to write; null when the spawner sets the limits in the child. */
  limits: Limits | null;
  /** The command's cgroup.procs, when it has a cgroup the spawner does not start it in. */
  procsFile?: string | undefined;
}

/**
 * The program and arguments: a prologue (entering the cgroup, the ulimits:
 * what the spawner does not do in the child itself), then the command, in a
 * POSIX shell under the EXIT trap that reports its state; any other shell is
 * started by /bin/sh after the prologue, without carry-over. A prologue line
 * that fails ends the command with exit 125 and a `trl:` message on its
 * stderr, rather than run it uncontained (the native child does the same).
 */
export function invocation(spec: ScriptSpec): { file: string; args: string[] } {
  const prologue = (spec.procsFile ? cgroupEntryLine(spec.procsFile) : '') + (spec.limits ? ulimitLines(spec.limits) : '');
  if (spec.stateMode !== null) return { file: spec.shell, args: ['-c', wrapCommand(spec.command, prologue, spec.stateMode)] };
  if (!prologue) return { file: spec.shell, args: ['-c', spec.command] };
  return { file: '/bin/sh', args: ['-c', `${prologue}exec "$0" -c "$1"`, spec.shell, spec.command] };
}

/** The shell moves itself before it runs anything: `echo` is a builtin, so no child starts outside. */
function cgroupEntryLine(procsFile: string): string {
  return `echo $$ > '${procsFile}' || { echo "trl: cannot enter the command's cgroup" >&2; exit 125; }\n`;
}

/** One `ulimit` per option (dash takes only one); a limit that cannot be set stops the command. */
function ulimitLines(limits: Limits): string {
  let s = '';
  const set = (flag: string, value: number, what: string) => {
    s += `ulimit ${flag} ${value} || { echo "trl: cannot set ${what}" >&2; exit 125; }\n`;
  };
  if (limits.cpu_s !== undefined) {
    // Soft limit → SIGXCPU (a clear cause); the hard limit one second later → SIGKILL for a command that ignores it.
    const soft = Math.max(1, Math.ceil(limits.cpu_s));
    set('-S -t', soft, 'RLIMIT_CPU');
    set('-H -t', soft + 1, 'RLIMIT_CPU');
  }
  if (limits.nofile !== undefined) set('-n', limits.nofile, 'RLIMIT_NOFILE');
  if (limits.core_bytes !== undefined) set('-c', Math.ceil(limits.core_bytes / 512), 'RLIMIT_CORE');
  if (limits.as_bytes !== undefined) set('-v', Math.ceil(limits.as_bytes / 1024), 'RLIMIT_AS');
  return s;
}

/** Absolute, so that a command that empties PATH still reports its state. */
const ENV_BINARY = ['/usr/bin/env', '/bin/env'].find((p) => existsSync(p)) ?? 'env';

/**
 * The script a POSIX shell runs for one command. On exit it writes
 * `<exit code>\0<cwd>\0` and then `env -0` to fd 3. The user's command runs
 * with fd 3 closed, so nothing it starts holds the state pipe open. `exec`
 * replaces the shell with env instead of forking once more. env's stderr is
 * closed: if the kernel refuses to start it (an environment entry over
 * 128 KiB: E2BIG), the shell's complaint must not reach the user's stderr.
 * TRL_EXEC_ID, different for every command and never carried over, leaves
 * the report, so that a command which changed nothing reports the bytes of
 * the one before and the session reuses their parse (EnvReportMemo); the
 * exiting shell starts nothing more, so nothing loses the marker. `command`
 * keeps a readonly TRL_EXEC_ID from ending the trap (the report then keeps it).
 */
export function wrapCommand(command: string, prologue = '', mode: StateMode = 'env'): string {
  const head = `__trl_rc=$?; printf "%s\\0%s\\0" "$__trl_rc" "$PWD" >&3; command unset TRL_EXEC_ID 2>&-; `;
  const report = mode === 'export-p' ? `export -p >&3; printf "\\0" >&3; exit $__trl_rc` : `exec ${ENV_BINARY} -0 >&3 2>&-`;
  return `${prologue}trap '${head}${report}' EXIT\n{ ${command}\n} 3>&-`;
}
