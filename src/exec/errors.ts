/**
 * What exec/ could not do, by kind: the server answers `cannot_start` as
 * COMMAND_FAILED, `out_of_resources` as RESOURCE_PRESSURE and `invalid_limit`
 * as INVALID_PARAMS. The message names what failed and what to do.
 */
export type ExecErrorCode = 'cannot_start' | 'out_of_resources' | 'invalid_limit';

export class ExecError extends Error {
  constructor(
    readonly code: ExecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}
