import type * as z from '../protocol/schema';
import type { CapturedText } from '../exec/capture';
import { ExecError, type ExecErrorCode } from '../exec/errors';
import type { ExecRecord } from '../exec/exec-record';
import type { CommandOutcome } from '../exec/outcome';
import type { ExecSummary, ExitEvent } from '../protocol/events';
import { ErrorCode, TrlError } from '../protocol/errors';
import type { WithBytes } from '../protocol/json-text';
import type { ExecResult } from '../protocol/messages';
import type { Session } from '../sessions/session';
import type { Handler } from './router';

/** exec.run's result: the outcome with its collected text (as bytes: the line encoder writes them). */
export function execResult(o: CommandOutcome): WithBytes<ExecResult> {
  return { stdout: o.stdout.text, stderr: o.stderr.text, ...resultFields(o), ...keptParts(o.stdout, o.stderr) };
}

/**
 * The exit event: the result without its text, except for the caller of an
 * exec.stream given output_keep. Here `*_truncated` means the retention
 * window no longer holds the stream's start.
 */
export function exitEvent(record: ExecRecord, o: CommandOutcome, text: { stdout: CapturedText; stderr: CapturedText } | null): WithBytes<ExitEvent> {
  return {
    event: 'exit',
    exec_id: record.id,
    ...resultFields(o),
    stdout_truncated: record.output.retainedFrom('stdout') > 0,
    stderr_truncated: record.output.retainedFrom('stderr') > 0,
    ...(text ? { stdout: text.stdout.text, stderr: text.stderr.text, ...keptParts(text.stdout, text.stderr) } : {}),
  } satisfies WithBytes<ExitEvent>;
}

/** One exec as exec.list and exec.attach describe it. */
export function execSummary(record: ExecRecord): ExecSummary {
  const o = record.outcome;
  const out = record.output;
  return {
    exec_id: record.id,
    session_id: record.sessionId,
    command: record.command,
    state: o === null ? 'running' : 'exited',
    pid: record.pid,
    started_at: record.startedAt?.toISOString() ?? null,
    finished_at: record.finishedAt === null ? null : new Date(record.finishedAt).toISOString(),
    exit_code: o?.exitCode ?? null,
    timed_out: o ? o.timeout !== null : false,
    cancelled: o ? o.cancelSignal !== null : false,
    stdout_bytes: out.totalBytes('stdout'),
    stderr_bytes: out.totalBytes('stderr'),
    retained: {
      stdout: { from: out.retainedFrom('stdout'), to: out.totalBytes('stdout') },
      stderr: { from: out.retainedFrom('stderr'), to: out.totalBytes('stderr') },
    },
    pty: record.screen?.size ?? null,
  } satisfies ExecSummary;
}

/** The fields every listing of a session shows. */
export function sessionSummary(s: Session) {
  return {
    session_id: s.id,
    name: s.name,
    shell: s.shell,
    working_dir: s.cwd,
    state: s.state,
    created_at: s.createdAt.toISOString(),
  };
}

/** The fields exec.run's result and the exit event share, in wire order. */
function resultFields(o: CommandOutcome): Omit<ExecResult, 'stdout' | 'stderr'> {
  return {
    exit_code: o.exitCode,
    signal: o.signal,
    duration_ms: o.durationMs,
    timed_out: o.timeout !== null,
    timeout: o.timeout,
    cancelled: o.cancelSignal !== null,
    cancel_signal: o.cancelSignal,
    killed_by: o.endedBy,
    cpu_time_ms: o.cpuTimeMs,
    memory_peak_bytes: o.memoryPeakBytes,
    stdout_truncated: o.stdout.truncated,
    stderr_truncated: o.stderr.truncated,
    stdout_bytes: o.stdout.bytes,
    stderr_bytes: o.stderr.bytes,
  };
}

/** The result fields only `output_keep` "tail" and "head_tail" add. */
function keptParts(out: CapturedText, err: CapturedText): Partial<WithBytes<ExecResult>> {
  const parts: Partial<WithBytes<ExecResult>> = {};
  if (out.tail !== undefined) parts.stdout_tail = out.tail;
  if (err.tail !== undefined) parts.stderr_tail = err.tail;
  if (out.omitted !== undefined) parts.stdout_omitted_bytes = out.omitted;
  if (err.omitted !== undefined) parts.stderr_omitted_bytes = err.omitted;
  return parts;
}

/** The wire code of each exec/ error. */
const WIRE_CODE: Record<ExecErrorCode, ErrorCode> = {
  cannot_start: ErrorCode.COMMAND_FAILED,
  out_of_resources: ErrorCode.RESOURCE_PRESSURE,
  invalid_limit: ErrorCode.INVALID_PARAMS,
};

/** A handler whose domain errors are answered as wire errors, with their message. */
export function atEdge<S extends z.Schema>(handle: Handler<S>): Handler<S> {
  return async (params, ctx) => {
    try {
      return await handle(params, ctx);
    } catch (err) {
      if (err instanceof ExecError) throw new TrlError(WIRE_CODE[err.code], err.message);
      throw err;
    }
  };
}
