import assert from 'node:assert/strict';
import { createConnection, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { TrlRequestError, type TrlClient } from '../../src/client/client';
import { livePidsWithEnv } from './proc';

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

/**
 * A raw kept connection: writes lines as given and reads response lines in the
 * order they arrive, so tests can check framing, ordering and closing.
 */
export class RawConnection {
  readonly lines: string[] = [];
  ended = false;
  private buf = '';
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      this.buf += c;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake();
    });
    const end = () => {
      this.ended = true;
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawConnection(s));
      });
      s.once('error', reject);
    });
  }

  send(message: object | string): void {
    const line = typeof message === 'string' ? message : JSON.stringify(message);
    this.socket.write(line.endsWith('\n') ? line : line + '\n');
  }

  /** Parsed responses received so far. */
  get responses(): any[] {
    return this.lines.map((l) => JSON.parse(l));
  }

  /** Waits until `n` lines arrived (or the connection ended); throws after `ms`. */
  async waitLines(n: number, ms = 10_000): Promise<any[]> {
    const deadline = Date.now() + ms;
    while (this.lines.length < n && !this.ended) {
      if (Date.now() > deadline) throw new Error(`only ${this.lines.length} of ${n} lines within ${ms} ms: ${JSON.stringify(this.lines)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.responses;
  }

  /** Waits for the response with this id. */
  async waitId(id: string | number, ms = 10_000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.responses.find((r) => r.id === id);
      if (hit) return hit;
      if (this.ended) throw new Error(`connection ended before a response to ${id}; got ${JSON.stringify(this.lines)}`);
      if (Date.now() > deadline) throw new Error(`no response to ${id} within ${ms} ms; got ${JSON.stringify(this.lines)}`);
      await this.waitLines(this.lines.length + 1, Math.max(1, deadline - Date.now())).catch(() => {});
    }
  }

  /** Waits for the daemon to close the connection. */
  async waitEnd(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`connection still open after ${ms} ms`);
      await this.waitLines(this.lines.length + 1, Math.max(1, deadline - Date.now())).catch(() => {});
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
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
