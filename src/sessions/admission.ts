import { ErrorCode, TrlError } from '../protocol/errors';
import type { PressureGauge } from '../system/pressure';
import type { RegistrySettings } from './registry-options';
import type { Session } from './session';

/** What admission needs to know of the daemon right now. */
export interface Load {
  sessions: number;
  runningCommands: number;
  pressure: Pick<PressureGauge, 'check'> | null;
}

/** A new session is admitted below TRL_MAX_SESSIONS (sessions still being created count) and without memory pressure. */
export function admitSession(load: Load, settings: RegistrySettings): void {
  if (load.sessions >= settings.max_sessions) {
    throw new TrlError(
      ErrorCode.MAX_SESSIONS_REACHED,
      `session limit reached: ${settings.max_sessions} sessions are open (TRL_MAX_SESSIONS); destroy one first`,
    );
  }
  load.pressure?.check();
}

/** A command is admitted in an idle session, below TRL_MAX_RUNNING_COMMANDS, without memory pressure, with its stdin within bounds. */
export function admitCommand(session: Session, stdin: string | null | undefined, load: Load, settings: RegistrySettings): void {
  if (session.state !== 'idle') {
    throw new TrlError(ErrorCode.SESSION_BUSY, `session ${session.id} is already running a command; wait for it, cancel it, or destroy the session`);
  }
  if (load.runningCommands >= settings.max_running_commands) {
    throw new TrlError(
      ErrorCode.RESOURCE_PRESSURE,
      `${load.runningCommands} commands are running, the limit (TRL_MAX_RUNNING_COMMANDS); retry when one has ended`,
    );
  }
  load.pressure?.check();
  if (stdin && Buffer.byteLength(stdin) > settings.max_stdin_bytes) {
    throw new TrlError(ErrorCode.INVALID_PARAMS, `params.stdin: larger than ${settings.max_stdin_bytes} bytes (TRL_MAX_STDIN_BYTES)`);
  }
}
