import * as z from './schema';

/** The request envelope. `id` is echoed verbatim; clients send strings, numbers are tolerated. */
export const RequestEnvelope = z.object({
  id: z.union([z.string().max(256), z.number()]),
  method: z.string().max(128),
  params: z.record(z.string(), z.unknown()).nullish(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

/** The longest a Node timer can wait, in whole seconds: 2^31-1 ms; a longer delay fires after 1 ms. */
export const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);
/** Seven days: below MAX_TIMER_S, so a command's timers always wait as long as asked. */
const MAX_TIMEOUT_S = 7 * 24 * 3600;

/**
 * Linux refuses to start a program whose environment holds a `NAME=VALUE`
 * string longer than MAX_ARG_STRLEN (128 KiB, NUL included): E2BIG.
 */
export const MAX_ENV_ENTRY_BYTES = 128 * 1024;
/**
 * All of one env map's strings together. The kernel's bound for arguments and
 * environment together is a quarter of the stack limit (2 MiB by default); a
 * session's env and a command's env each stay within a quarter of that, so
 * both fit with the runtime environment and the command line.
 */
export const MAX_ENV_TOTAL_BYTES = 512 * 1024;

const EnvName = z
  .string()
  .min(1, 'an env name must not be empty')
  .max(1024, 'an env name must be at most 1024 characters')
  .refine((k) => !k.includes('=') && !k.includes('\0'), 'an env name must not contain "=" or NUL (give the name alone as the key, the value as its value)');
const EnvValue = z.string().refine((v) => !v.includes('\0'), 'an env value must not contain NUL');
/** Environment variables as an object of strings; names keep their case. Every entry must fit through exec(2). */
export const EnvMap = z.record(EnvName, EnvValue).superRefine((env, ctx) => {
  let total = 0;
  for (const [name, value] of Object.entries(env)) {
    const bytes = Buffer.byteLength(name) + Buffer.byteLength(value) + 2; // "=" and the NUL
    total += bytes;
    if (bytes > MAX_ENV_ENTRY_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `this variable is ${bytes} bytes as NAME=VALUE; Linux cannot start a program with an environment string longer than ${MAX_ENV_ENTRY_BYTES} bytes, NUL included (E2BIG): pass large data in a file or on stdin`,
      });
    }
  }
  if (total > MAX_ENV_TOTAL_BYTES) {
    ctx.addIssue({ code: 'custom', path: [], message: `the variables total ${total} bytes, more than ${MAX_ENV_TOTAL_BYTES}; pass large data in a file or on stdin` });
  }
});
export type EnvMap = z.infer<typeof EnvMap>;

const SessionId = z.string().min(1, 'session_id must not be empty').max(128);
/**
 * Seconds; 0 means no timeout. Fractions are accepted (an extension over v1's
 * integers); any positive value is at least a millisecond, so a tiny remaining
 * budget never rounds to 0 (no timeout).
 */
const TimeoutS = z
  .number()
  .nonnegative()
  .max(MAX_TIMEOUT_S, `at most ${MAX_TIMEOUT_S} s (7 days)`)
  .transform((s) => atLeastOneMs(s));

/** A positive number of seconds below a millisecond becomes one millisecond; 0 stays 0. */
export const atLeastOneMs = (s: number): number => (s > 0 && s < 0.001 ? 0.001 : s);

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

export type LimitsParams = z.infer<typeof LimitsParams>;

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

/**
 * What a result keeps of a stream over TRL_MAX_OUTPUT_BYTES: its first bytes
 * (v1), its last, or the first half and the last half.
 */
export const OutputKeep = z.enum(['head', 'tail', 'head_tail']);
export type OutputKeep = z.infer<typeof OutputKeep>;

/** The most cells a terminal side may have on the wire; the daemon's settings (TRL_PTY_MAX_COLS, TRL_PTY_MAX_ROWS) bound it further. */
export const MAX_PTY_SIDE = 10_000;
const PtySide = z.number().int().min(1, 'a terminal needs at least one column and one row').max(MAX_PTY_SIDE, `at most ${MAX_PTY_SIDE}`);
/** A terminal's size in character cells. */
export const PtySize = z.object({ cols: PtySide, rows: PtySide });
export type PtySize = z.infer<typeof PtySize>;
/** The size a terminal gets from `pty: true`, as a VT100's. */
export const DEFAULT_PTY_SIZE: PtySize = { cols: 80, rows: 24 };
/** `pty`: true (80×24), a size, or false/absent for pipes; null after parsing means pipes. */
const PtyParam = z
  .union([z.boolean(), PtySize])
  .transform((p): PtySize | null => (p === true ? { ...DEFAULT_PTY_SIZE } : p === false ? null : p));

export const ExecRunParams = z.object({
  session_id: SessionId,
  command: z
    .string()
    .min(1, 'command must not be empty')
    .refine((c) => !c.includes('\0'), 'command must not contain NUL (a shell command line cannot carry it)'),
  timeout_s: TimeoutS.nullish(),
  stdin: z.string().nullish(),
  env: EnvMap.nullish(),
  /** Stop the command after this many seconds without output (TERM → grace → KILL); 0 = never. */
  idle_timeout_s: TimeoutS.nullish(),
  output_keep: OutputKeep.nullish(),
  /**
   * Run on a new terminal of this size (true: 80×24): stdin, stdout and stderr are its slave, output arrives
   * as stdout (a terminal merges stderr), exec.input types raw keys, exec.resize and exec.screen apply.
   */
  pty: PtyParam.nullish(),
});
export type ExecRunParams = z.infer<typeof ExecRunParams>;
/** exec.run's params as a client writes them. */
export type ExecRunRequest = z.input<typeof ExecRunParams>;

/**
 * How `output` events carry the bytes: "text" (the default) as text when the chunk is valid UTF-8, else
 * base64; "base64" always base64, for a reader that wants the bytes (binary output costs 4/3 of its size
 * on the wire instead of up to 6×, and nothing is decoded and re-encoded on either side).
 */
export const OutputEncoding = z.enum(['text', 'base64']);
export type OutputEncoding = z.infer<typeof OutputEncoding>;

/** exec.stream: exec.run's params plus the live options. */
export const ExecStreamParams = ExecRunParams.extend({
  /** Keep stdin open for exec.input (after `stdin`, if given). Default: stdin is at end-of-file at once. */
  stdin_open: z.boolean().nullish(),
  /** Cancel the command when the connection that started it closes. Default: it keeps running. */
  kill_on_disconnect: z.boolean().nullish(),
  /** Never skip output for this reader: while it is behind, the command's output waits in its pipe (the command blocks). */
  lossless: z.boolean().nullish(),
  output_encoding: OutputEncoding.nullish(),
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
  /** As exec.stream's. */
  output_encoding: OutputEncoding.nullish(),
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

/** exec.resize: a new window size for a command on a terminal; its foreground group gets SIGWINCH. */
export const ExecResizeParams = PtySize.extend({ exec_id: ExecId });
export type ExecResizeParams = z.infer<typeof ExecResizeParams>;

/** exec.screen: the screen of a command on a terminal, running or retained. */
export const ExecScreenParams = z.object({
  exec_id: ExecId,
  /** Also return up to this many lines that scrolled off the top (oldest first); default 0. */
  scrollback: z.number().int().nonnegative().max(100_000).nullish(),
});
export type ExecScreenParams = z.infer<typeof ExecScreenParams>;

/** exec.screen's data: the screen as a person at that terminal would see it. */
export interface ExecScreen {
  exec_id: string;
  state: 'running' | 'exited';
  cols: number;
  rows: number;
  /** One string per row, top to bottom, trailing blanks trimmed. */
  lines: string[];
  /** Zero-based row and column of the cursor. */
  cursor: { row: number; col: number };
  /** The last window title the program set; "" when none. */
  title: string;
  /** True while the program shows the alternate screen (editors, pagers, top). */
  alternate: boolean;
  /** Lines above the screen, oldest first: as many as asked for and kept. */
  scrollback: string[];
}

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
  /** output_keep "head_tail": the end of each stream after the omitted span ("" when nothing was left out). */
  stdout_tail?: string;
  stderr_tail?: string;
  /** output_keep "tail" or "head_tail": bytes of each stream in the result's text nowhere (exact, invalid UTF-8 included). */
  stdout_omitted_bytes?: number;
  stderr_omitted_bytes?: number;
}

export type SessionState = 'creating' | 'idle' | 'running' | 'terminated';

/**
 * Formats a schema error as one line naming each offending field, e.g.
 * `params.timeout_s: …`. An env name is shown only up to its first "=" or NUL:
 * a dotenv line given as a key (`"TOKEN=secret"`) must not echo its value.
 */
export function describeIssues(error: z.SchemaError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const segments = issue.path.map((p, i) => (i > 0 && issue.path[i - 1] === 'env' ? safeEnvName(String(p)) : String(p)));
      const path = [prefix, ...segments].filter(Boolean).join('.');
      const message = issue.code === 'invalid_key' && issue.issues?.[0] ? issue.issues[0].message : issue.message;
      return `${path || 'request'}: ${message}`;
    })
    .join('; ');
}

/** An env name as it may appear in a message: cut at "=" or NUL, and at 64 characters. */
function safeEnvName(name: string): string {
  const cut = name.search(/[=\0]/);
  const head = cut >= 0 ? name.slice(0, cut) : name;
  const shown = head.length > 64 ? `${head.slice(0, 64)}…` : head;
  return cut >= 0 ? `${JSON.stringify(shown)} (the part before ${name[cut] === '=' ? '"="' : 'NUL'}; rest not shown)` : shown;
}
