import pino, { type Logger } from 'pino';

export type { Logger };

/** What a part that only reports needs of a logger: pino's Logger fits, and a test can pass a collector. */
export interface ReportLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * JSON lines on stdout. Records carry ids, keys, codes and timings only: the
 * callers never pass env values, stdin or output, and `redact` is a second
 * line of defence for the field names that could hold them.
 */
export function createLogger(level: string, fd: 1 | 2 = 1): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: { paths: ['env', '*.env', 'stdin', '*.stdin', 'params', '*.params', 'token', '*.token'], censor: '[redacted]' },
    },
    pino.destination({ dest: fd, sync: true }),
  );
}
