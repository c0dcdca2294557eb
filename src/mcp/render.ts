import type { ExecResult, ExecSummary } from '../client/client';
import { excerpt, renderStream } from './excerpt';
import type { Follower } from './follower';

/** Bytes of each stream a tool result shows at most (half from the start, half from the end). */
const SHOWN_BYTES = 32 * 1024;

/** run_command's answer: status lines, then each stream. */
export function renderResult(r: ExecResult, note: string | null): string {
  const lines: string[] = [];
  if (note) lines.push(`note: ${note}`);
  lines.push(r.signal ? `exit_code: ${r.exit_code} (killed by ${r.signal})` : `exit_code: ${r.exit_code}`);
  lines.push(`timed_out: ${r.timed_out}${r.timeout ? ` (${r.timeout === 'idle' ? 'no output for idle_timeout_s' : 'timeout_s reached'})` : ''}`);
  if (r.cancelled) lines.push(`cancelled: true (${r.cancel_signal})`);
  if (r.killed_by && r.killed_by !== 'timeout' && r.killed_by !== 'cancel') lines.push(`killed_by: ${r.killed_by}`);
  lines.push(`duration: ${(r.duration_ms / 1000).toFixed(2)} s`);
  lines.push(renderStream('stdout', excerpt(r.stdout, r.stdout_tail ?? '', r.stdout_bytes, SHOWN_BYTES), r.stdout_bytes));
  lines.push(renderStream('stderr', excerpt(r.stderr, r.stderr_tail ?? '', r.stderr_bytes, SHOWN_BYTES), r.stderr_bytes));
  return lines.join('\n');
}

/** read_output's answer: what arrived since the last read, the state, and a hint when a prompt waits. */
export function renderSince(f: Follower, maxBytes: number): string {
  // The state before the output: an exit seen now has all of its output in this take.
  const { exit, lost } = f;
  const since = f.take();
  const lines = [`exec_id: ${f.execId}`];
  if (exit) {
    const e = exit;
    lines.push(`state: exited, exit_code: ${e.exit_code}${e.signal ? ` (killed by ${e.signal})` : ''}${e.timed_out ? ', timed_out: true' : ''}${e.cancelled ? `, cancelled (${e.cancel_signal})` : ''}, duration: ${(e.duration_ms / 1000).toFixed(2)} s`);
  } else if (lost) {
    lines.push(`state: unknown: ${lost}`);
  } else {
    lines.push('state: running');
  }
  for (const s of ['stdout', 'stderr'] as const) {
    const x = since[s];
    if (x.missed > 0) lines.push(`[${x.missed} bytes of ${s} were no longer retained by trld and are lost]`);
    lines.push(x.bytes === 0 ? `${s}: (nothing new)` : renderStream(`${s} since the last read`, excerpt(x.head, x.tail, x.bytes, Math.floor(maxBytes / 2)), x.bytes));
  }
  if (f.waitingPid !== null && f.terminal) {
    lines.push(`waiting for input: process ${f.waitingPid} is blocked reading its terminal (a prompt?); see it with read_screen, answer with send_input keys ("\\r" is Enter, "\\u0003" Ctrl-C)`);
  } else if (f.waitingPid !== null) {
    lines.push(`waiting for input: process ${f.waitingPid} is blocked reading stdin (a prompt?); answer with send_input, or send_input with eof: true to close stdin`);
  }
  return lines.join('\n');
}

/** One list_commands line. */
export function renderSummary(e: ExecSummary & { orphan: boolean }): string {
  const status = e.state === 'running' ? 'running' : `exited ${e.exit_code}${e.timed_out ? ' (timed out)' : ''}${e.cancelled ? ' (cancelled)' : ''}`;
  const command = e.command.length > 200 ? `${e.command.slice(0, 200)}…` : e.command;
  const from = e.orphan ? ' [left by an earlier trl mcp]' : '';
  const terminal = e.pty ? `  terminal ${e.pty.cols}x${e.pty.rows}` : '';
  return `${e.exec_id}  ${status}  started ${e.started_at ?? '?'}  stdout ${e.stdout_bytes} B, stderr ${e.stderr_bytes} B${terminal}${from}\n    ${command}`;
}
