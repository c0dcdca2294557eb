/** Error codes on the wire: v1's, which clients already know, then trl's own from METHOD_NOT_FOUND on. */
export const ErrorCode = {
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
  SESSION_BUSY: 'SESSION_BUSY',
  COMMAND_TIMEOUT: 'COMMAND_TIMEOUT',
  COMMAND_FAILED: 'COMMAND_FAILED',
  INVALID_PARAMS: 'INVALID_PARAMS',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
  AUTH_FAILED: 'AUTH_FAILED',
  MAX_SESSIONS_REACHED: 'MAX_SESSIONS_REACHED',
  SESSION_LIMIT_EXCEEDED: 'SESSION_LIMIT_EXCEEDED',
  RESOURCE_PRESSURE: 'RESOURCE_PRESSURE',
  METHOD_NOT_FOUND: 'METHOD_NOT_FOUND',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  EXEC_NOT_FOUND: 'EXEC_NOT_FOUND',
  EXEC_NOT_RUNNING: 'EXEC_NOT_RUNNING',
  RATE_LIMITED: 'RATE_LIMITED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error that goes back to the client as `{ok:false, error:{code, message}}`. */
export class TrlError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TrlError';
  }
}

/** The `ok: false` envelope: every failure a client reads, whichever door it came through. */
export function errorEnvelope(id: string | number, code: string, message: string) {
  return { id, ok: false, error: { code, message } };
}
