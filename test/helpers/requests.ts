import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { TrlRequestError, type TrlClient } from '../../src/client/client';
import { livePidsWithEnv } from './proc';

/** Requests through TrlClient as the tests make them, the errors they expect, and markers to find a command's processes. */

/** Asserts that `p` fails with the daemon error `code` (and a message matching `message`); returns the error. */
export async function expectError(p: Promise<unknown>, code: string, message?: RegExp): Promise<TrlRequestError> {
  let err: unknown;
  try {
    const data = await p;
    assert.fail(`expected ${code}, got success: ${JSON.stringify(data)}`);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof TrlRequestError, `expected a daemon error ${code}, got ${String(err)}`);
  assert.equal(err.code, code, `error message: ${err.message}`);
  if (message) assert.match(err.message, message);
  return err;
}

/** The data of exec.run as the daemon sends it. */
export interface RunResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  signal?: string | null;
  duration_ms: number;
  timed_out: boolean;
  stdout_truncated?: boolean;
  stderr_truncated?: boolean;
  stdout_bytes?: number;
  stderr_bytes?: number;
}

export const run = (c: TrlClient, session_id: string, command: string, extra: object = {}): Promise<RunResult> =>
  c.request<RunResult>('exec.run', { session_id, command, ...extra });

export async function newSession(c: TrlClient, params: object = {}): Promise<string> {
  const s = await c.request<{ session_id: string }>('session.create', params);
  return s.session_id;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const RFC3339_UTC_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

const markers = new Set<string>();
/** A unique environment variable name; give it the value "1" to find a command's processes with livePidsWithEnv(`${name}=1`). */
export function uniqueMarker(): string {
  const name = `TRL_TEST_MARK_${randomUUID().replace(/-/g, '')}`;
  markers.add(name);
  return name;
}
/** After a failed test: SIGKILL whatever still carries a marker of this file, so nothing outlives the run. */
export function killMarked(): void {
  for (const name of markers) {
    for (const pid of livePidsWithEnv(`${name}=1`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
