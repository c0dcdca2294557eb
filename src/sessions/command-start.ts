import { randomUUID } from '../system/lazy-builtins';
import type { ExecStreamParams } from '../protocol/messages';
import type { Containment } from '../exec/containment';
import { ExecRecord } from '../exec/exec-record';
import type { CommandRun } from '../exec/run';
import { startCommand } from '../exec/start';
import { mergeAfterCommand, type ShellState } from '../exec/shell-state';
import type { Spawner } from '../exec/spawn';
import type { RegistrySettings } from './registry-options';
import type { Session } from './session';

/** What starting a command in a session needs of the daemon. */
export interface StartContext {
  settings: RegistrySettings;
  spawner: Spawner;
  containment: Containment | null;
  /** The session's timeout, or the runtime's. */
  timeoutS: number;
  /** Keep each stream's text for the outcome (exec.run, exec.stream with output_keep). */
  collect: boolean;
}

/**
 * Runs one command of an admitted session: the session is busy until the
 * command ends, then takes over its cwd and exported environment. Resolves
 * once the process runs, with the record (for streaming) and its run.
 */
export async function startInSession(session: Session, params: ExecStreamParams, ctx: StartContext): Promise<{ record: ExecRecord; run: CommandRun }> {
  session.state = 'running';
  session.touch();
  const record = new ExecRecord(randomUUID(), session.id, params.command, ctx.settings.stream_window_bytes);
  // A terminal's input stays open (keys are typed through exec.input) unless the request says otherwise.
  const inputOpen = params.stdin_open ?? params.pty != null;
  const term: Record<string, string> = params.pty ? { TERM: 'xterm-256color' } : {};
  let run: CommandRun;
  try {
    run = await startCommand(
      {
        execId: record.id,
        sessionId: session.id,
        shell: session.shell,
        command: params.command,
        cwd: session.cwd,
        env: { ...session.env, ...term, ...params.env, TRL_SESSION_ID: session.id },
        stateMode: session.stateMode,
        envMemo: session.envMemo,
        limits: session.limits,
        stdin: params.stdin ?? undefined,
        stdinOpen: inputOpen,
        timeoutMs: Math.round((params.timeout_s ?? ctx.timeoutS) * 1000),
        idleTimeoutMs: Math.round((params.idle_timeout_s ?? 0) * 1000),
        graceMs: ctx.settings.kill_grace_ms,
        collectBytes: ctx.collect ? ctx.settings.max_output_bytes : 0,
        outputKeep: params.output_keep ?? 'head',
        onOutput: record.push,
        ...(params.pty ? { pty: { ...params.pty, scrollback: ctx.settings.pty_scrollback_lines } } : {}),
      },
      ctx.spawner,
      ctx.containment,
    );
  } catch (err) {
    if (session.state === 'running') session.state = 'idle';
    throw err;
  }
  record.started(run, inputOpen);
  session.current = record;
  return { record, run };
}

/** The command ended: the session is idle again and carries over what the shell reported (unless it is being destroyed). */
export function endInSession(session: Session, before: Record<string, string>, params: ExecStreamParams, state: ShellState | null): void {
  session.current = null;
  session.commandCount++;
  if (session.state !== 'running') return;
  session.state = 'idle';
  session.touch();
  if (state) {
    session.cwd = state.cwd;
    if (state.env) session.env = mergeAfterCommand(before, state.env, params.env ?? undefined);
  }
}
