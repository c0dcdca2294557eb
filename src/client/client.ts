import { createConnection } from 'node:net';
import type { ExecAttachParams, ExecResult, ExecRunRequest, ExecScreen, SessionCreateRequest } from '../protocol/messages';
import type { ExecCancelled, ExecStreamRequest, ExecStreamStarted, ExecSummary, StreamEvent, StreamName } from '../protocol/events';
import { ClientConnection } from './connection';
import type { EventQueue } from './event-queue';
import { defaultSocketPath } from './socket-path';

export type {
  ExecCancelled,
  ExecStreamRequest,
  ExecStreamStarted,
  ExecSummary,
  ExitEvent,
  GapEvent,
  StreamEvent,
  StreamName,
  WaitingInputEvent,
} from '../protocol/events';
export { outputBytes } from '../protocol/events';
export type { ExecResult, ExecRunRequest, ExecScreen, PtySize, SessionCreateRequest } from '../protocol/messages';
export { collectStream, type CollectedStream } from './collect';
export { TrlRequestError } from './connection';
export { defaultSocketPath } from './socket-path';

/** A followed exec: the daemon's answer and its events, in order, ending with `exit`. */
export interface ExecStream<D = ExecStreamStarted> {
  execId: string;
  /** The response's data (exec.stream: exec_id, session_id, pid; exec.attach: the exec's summary and state). */
  response: D;
  /**
   * Output, gap and waiting_input events, then one exit event, then the end.
   * If the connection closes first, iteration throws: the command's fate is
   * then unknown (it may still run) and `exec.attach` on a new connection tells.
   * Breaking out of the loop stops delivering this exec's events (the daemon
   * keeps sending them until the connection closes; they are dropped).
   */
  events: AsyncIterable<StreamEvent>;
}

/** exec.attach's answer: the exec's summary and whether it still runs. */
type Attached = ExecSummary & { state: string };

/** Per-stream byte offsets to resume from. */
export type Offsets = Partial<Record<StreamName, number>>;

/**
 * A kept connection to trld; requests may overlap and are matched by id.
 * Stream events (exec.stream, exec.attach) are routed by exec id to that
 * exec's `events` iterator. One reader per exec per connection.
 *
 * Flow control: when more than a few MiB of events wait unread in the
 * iterators, the client stops reading its socket until they are consumed,
 * so the daemon's retention window (not this process) absorbs a slow
 * consumer, and the consumer learns of what it missed through gap events.
 * While that lasts, responses on this connection wait too: read your events,
 * or use a second connection for requests.
 */
export class TrlClient {
  /** Exec ids with an exec.attach in flight on this connection. */
  private readonly attaching = new Set<string>();

  private constructor(private readonly connection: ClientConnection) {}

  static connect(path: string = defaultSocketPath()): Promise<TrlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TrlClient(new ClientConnection(socket)));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        reject(new Error(`cannot connect to trld at ${path}: ${err.code ?? err.message}; is the daemon running?`, { cause: err }));
      });
    });
  }

  /** Sends one request; resolves with `data`, rejects with TrlRequestError on `ok: false`. */
  request<T = Record<string, unknown>>(method: string, params: object = {}): Promise<T> {
    return this.connection.send<T>(method, params);
  }

  /**
   * exec.run: runs a command and waits for its result. `output_keep` says
   * which part of a stream over the cap the result keeps (default its head).
   */
  run(params: ExecRunRequest): Promise<ExecResult> {
    return this.connection.send<ExecResult>('exec.run', params);
  }

  /**
   * exec.stream: starts a command and follows it. Resolves once the daemon
   * answered (the command runs); its output comes through `events`.
   */
  async stream(params: ExecStreamRequest): Promise<ExecStream<ExecStreamStarted>> {
    let queue: EventQueue | null = null;
    const response = await this.connection.send<ExecStreamStarted>('exec.stream', params, (data) => {
      queue = this.connection.subscribe((data as ExecStreamStarted).exec_id);
    });
    return { execId: response.exec_id, response, events: queue! };
  }

  /**
   * exec.attach: follows an exec started elsewhere (or before a disconnect):
   * replays its retained output from `offsets` (default 0 on both streams),
   * reporting a gap for anything no longer retained, then continues live
   * until the exit event. After exit it replays and ends with the real status.
   * `opts` are exec.attach's `lossless` and `output_encoding`.
   */
  async attach(execId: string, offsets?: Offsets, opts: Pick<ExecAttachParams, 'lossless' | 'output_encoding'> = {}): Promise<ExecStream<Attached>> {
    if (this.connection.follows(execId) || this.attaching.has(execId)) {
      throw new Error(`exec ${execId} is already followed on this connection; use another connection for a second reader`);
    }
    this.attaching.add(execId);
    let queue: EventQueue | null = null;
    try {
      const response = await this.connection.send<Attached>('exec.attach', { exec_id: execId, ...(offsets ? { offsets } : {}), ...opts }, () => {
        this.attaching.delete(execId);
        queue = this.connection.subscribe(execId);
      });
      return { execId, response, events: queue! };
    } finally {
      this.attaching.delete(execId);
    }
  }

  /** exec.cancel by exec id (or `{session_id}`); without a signal: TERM → grace → KILL. */
  cancel(ref: string | { exec_id?: string; session_id?: string }, signal?: string): Promise<ExecCancelled> {
    const target = typeof ref === 'string' ? { exec_id: ref } : ref;
    return this.connection.send<ExecCancelled>('exec.cancel', { ...target, ...(signal ? { signal } : {}) });
  }

  /**
   * session.create. With `temporary: true` the daemon destroys the session
   * when this connection closes, however this process ends.
   */
  createSession(params: SessionCreateRequest = {}): Promise<{ session_id: string } & Record<string, unknown>> {
    return this.connection.send('session.create', params);
  }

  /** exec.input: writes `data` to the command's stdin; `eof` closes it afterwards. */
  input(execId: string, data: string, eof = false): Promise<{ exec_id: string; bytes: number; eof: boolean }> {
    return this.connection.send('exec.input', { exec_id: execId, data, eof });
  }

  /** exec.resize: a new window size for a command started with `pty`; its foreground group gets SIGWINCH. */
  resize(execId: string, cols: number, rows: number): Promise<{ exec_id: string; cols: number; rows: number }> {
    return this.connection.send('exec.resize', { exec_id: execId, cols, rows });
  }

  /** exec.screen: the screen of a command started with `pty`, while it runs or while its exec is retained. */
  screen(execId: string, scrollback = 0): Promise<ExecScreen> {
    return this.connection.send<ExecScreen>('exec.screen', { exec_id: execId, ...(scrollback > 0 ? { scrollback } : {}) });
  }

  /** exec.list: running and recently finished execs (of one session, or all). */
  async execs(sessionId?: string): Promise<ExecSummary[]> {
    const r = await this.connection.send<{ execs: ExecSummary[] }>('exec.list', sessionId ? { session_id: sessionId } : {});
    return r.execs;
  }
  close(): void {
    this.connection.close();
  }

  /** Runs `fn` once the connection is closed (at once if it already is). */
  onClose(fn: () => void): void {
    this.connection.onClose(fn);
  }

  /** Closes at once, without waiting for anything (a client that vanishes). */
  destroy(): void {
    this.connection.destroy();
  }
}
