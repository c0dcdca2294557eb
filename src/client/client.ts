import { createConnection, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { LineSplitter } from '../protocol/ndjson';

/** An `ok: false` answer: the daemon's code and message. */
export class TrlRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TrlRequestError';
  }
}

/** The socket a client uses when none is given: TRL_SOCKET_PATH, the package's socket, else the reference default. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TRL_SOCKET_PATH) return env.TRL_SOCKET_PATH;
  if (existsSync('/run/trl/trl.sock')) return '/run/trl/trl.sock';
  return '/tmp/trl.sock';
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
}

/** A kept connection to trld; requests may overlap and are matched by id. */
export class TrlClient {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closedError: Error | null = null;

  private constructor(private readonly socket: Socket) {
    const splitter = new LineSplitter(
      1024 * 1024 * 1024,
      (line) => this.handle(line),
      () => {},
    );
    socket.on('data', (c: Buffer) => splitter.push(c));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('connection to trld closed')));
  }

  static connect(path: string = defaultSocketPath()): Promise<TrlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new TrlClient(socket));
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        reject(new Error(`cannot connect to trld at ${path}: ${err.code ?? err.message}; is the daemon running?`));
      });
    });
  }

  /** Sends one request; resolves with `data`, rejects with TrlRequestError on `ok: false`. */
  request<T = Record<string, unknown>>(method: string, params: object = {}): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  close(): void {
    this.socket.end();
  }

  private handle(line: string): void {
    let msg: { id?: unknown; ok?: boolean; data?: unknown; error?: { code: string; message: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    const waiter = this.pending.get(String(msg.id));
    if (!waiter) return;
    this.pending.delete(String(msg.id));
    if (msg.ok) waiter.resolve(msg.data);
    else waiter.reject(new TrlRequestError(msg.error?.code ?? 'UNKNOWN', msg.error?.message ?? 'request failed'));
  }

  private failAll(err: Error): void {
    this.closedError ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
