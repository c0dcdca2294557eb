import { z } from 'zod';

/** The request envelope. `id` is echoed verbatim; clients send strings, numbers are tolerated. */
export const RequestEnvelope = z.object({
  id: z.union([z.string().max(256), z.number()]),
  method: z.string().max(128),
  params: z.record(z.string(), z.unknown()).nullish(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

const MAX_TIMEOUT_S = 7 * 24 * 3600;

const EnvName = z
  .string()
  .min(1, 'an env name must not be empty')
  .max(1024)
  .refine((k) => !k.includes('=') && !k.includes('\0'), 'an env name must not contain "=" or NUL');
const EnvValue = z.string().refine((v) => !v.includes('\0'), 'an env value must not contain NUL');
/** Environment variables as an object of strings; names keep their case. */
export const EnvMap = z.record(EnvName, EnvValue);
export type EnvMap = z.infer<typeof EnvMap>;

const SessionId = z.string().min(1, 'session_id must not be empty').max(128);
/** Seconds; 0 means no timeout. Fractions are accepted (an extension over v1's integers). */
const TimeoutS = z.number().nonnegative().max(MAX_TIMEOUT_S);

const Limit = z.number().int().nonnegative();
/** Per-session resource limits; each at most the runtime's value for it. */
export const LimitsParams = z.object({
  cpu_s: z.number().positive().nullish(),
  nofile: Limit.min(3).nullish(),
  core_bytes: Limit.nullish(),
  as_bytes: Limit.min(16 * 1024 * 1024).nullish(),
  memory_bytes: Limit.min(1024 * 1024).nullish(),
  pids: Limit.min(1).nullish(),
  cpu_percent: z.number().positive().nullish(),
});

export const SessionCreateParams = z.object({
  shell: z.string().min(1).max(4096).nullish(),
  env: EnvMap.nullish(),
  working_dir: z.string().min(1).max(4096).nullish(),
  name: z.string().max(256).nullish(),
  timeout_s: TimeoutS.nullish(),
  limits: LimitsParams.nullish(),
  /** Destroy the session when the connection that created it closes (a CLI's one-off session); socket and stdio only. */
  temporary: z.boolean().nullish(),
});
export type SessionCreateParams = z.infer<typeof SessionCreateParams>;
/** session.create as a client writes it. */
export type SessionCreateRequest = z.input<typeof SessionCreateParams>;

export const SessionRefParams = z.object({ session_id: SessionId });
export type SessionRefParams = z.infer<typeof SessionRefParams>;

export const SessionDestroyParams = z.object({
  session_id: SessionId,
  force: z.boolean().nullish(),
});
export type SessionDestroyParams = z.infer<typeof SessionDestroyParams>;

export const ExecRunParams = z.object({
  session_id: SessionId,
  command: z
    .string()
    .min(1, 'command must not be empty')
    .refine((c) => !c.includes('\0'), 'command must not contain NUL (a shell command line cannot carry it)'),
  timeout_s: TimeoutS.nullish(),
  stdin: z.string().nullish(),
  env: EnvMap.nullish(),
  idle_timeout_s: TimeoutS.nullish(),
});
export type ExecRunParams = z.infer<typeof ExecRunParams>;

/** exec.stream: exec.run's params plus the live options. */
export const ExecStreamParams = ExecRunParams.extend({
  /** Keep stdin open for exec.input (after `stdin`, if given). Default: stdin is at end-of-file at once. */
  stdin_open: z.boolean().nullish(),
  /** Stop the command after this many seconds without output (TERM → grace → KILL); 0 = never. */
  idle_timeout_s: TimeoutS.nullish(),
  /** Cancel the command when the connection that started it closes. Default: it keeps running. */
  kill_on_disconnect: z.boolean().nullish(),
  /** Never skip output for this reader: while it is behind, the command's output waits in its pipe (the command blocks). */
  lossless: z.boolean().nullish(),
});
export type ExecStreamParams = z.infer<typeof ExecStreamParams>;

const ExecId = z.string().min(1, 'exec_id must not be empty').max(128);
const Offset = z.number().int().nonnegative();

export const ExecAttachParams = z.object({
  exec_id: ExecId,
  /** Byte offsets to resume from, per stream; default 0 (everything still retained). */
  offsets: z.object({ stdout: Offset.nullish(), stderr: Offset.nullish() }).nullish(),
  /** As exec.stream's: never skip live output for this reader (what left the window before the attach is still a gap). */
  lossless: z.boolean().nullish(),
});
export type ExecAttachParams = z.infer<typeof ExecAttachParams>;

export const ExecCancelParams = z
  .object({
    exec_id: ExecId.nullish(),
    session_id: SessionId.nullish(),
    /** A signal name (SIGINT or INT); without it: TERM → grace → KILL. */
    signal: z.string().max(16).nullish(),
  })
  .refine((p) => p.exec_id || p.session_id, { message: 'give exec_id or session_id', path: ['exec_id'] });
export type ExecCancelParams = z.infer<typeof ExecCancelParams>;

export const ExecInputParams = z.object({
  exec_id: ExecId,
  data: z.string().nullish(),
  /** Close stdin after writing `data`. */
  eof: z.boolean().nullish(),
});
export type ExecInputParams = z.infer<typeof ExecInputParams>;

export const ExecListParams = z.object({ session_id: SessionId.nullish() });
export type ExecListParams = z.infer<typeof ExecListParams>;

export const NoParams = z.object({});

/** What one command returned; `exec.run`'s data. */
export interface ExecResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  /** The signal that ended the shell, if any (then exit_code is 128 + its number). */
  signal: string | null;
  duration_ms: number;
  timed_out: boolean;
  /** Which timeout fired: the wall-clock `timeout_s` or the no-output `idle_timeout_s`. */
  timeout: 'wall' | 'idle' | null;
  /** Stopped by exec.cancel (or session.destroy), with the signal asked for. */
  cancelled: boolean;
  cancel_signal: string | null;
  /** Why the daemon or the kernel ended it: 'timeout', 'cancel', 'cpu_limit' (RLIMIT_CPU), 'oom' (cgroup OOM killer); null otherwise. */
  killed_by: 'timeout' | 'cancel' | 'cpu_limit' | 'oom' | null;
  /** What the kernel saw, in cgroup mode (null otherwise): CPU time of the whole command, its peak memory. */
  cpu_time_ms: number | null;
  memory_peak_bytes: number | null;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  stdout_bytes: number;
  stderr_bytes: number;
}

export type SessionState = 'creating' | 'idle' | 'running' | 'terminated';

/** Formats a zod error as one line naming each offending field, e.g. `params.timeout_s: …`. */
export function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${path || 'request'}: ${issue.message}`;
    })
    .join('; ');
}
