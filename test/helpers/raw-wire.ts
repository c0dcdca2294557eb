import { createConnection, type Socket } from 'node:net';

/**
 * The one raw NDJSON client of the tests: a kept Unix-socket connection that
 * writes bytes or lines exactly as given and keeps every line the daemon
 * sends, in order, so tests can check framing, ordering, matching by id and
 * closing. Lines are cut from Buffers without rescanning (answers may be tens
 * of MiB). Opened `paused`, it reads nothing until resume(): a client that
 * does not read. Opened with `keep: false`, it only counts what arrives
 * (lines of tens of MiB, by the hundred).
 */
export class RawWire {
  /** Every complete line received, in order. */
  readonly lines: string[] = [];
  /** Lines that are not JSON (the daemon must never send one), cut to 200 characters. */
  readonly garbage: string[] = [];
  /** Answers (anything but an event) by id, in arrival order. */
  readonly answers = new Map<string, any[]>();
  /** How many lines arrived. */
  lineCount = 0;
  /** How many answers arrived. */
  answerCount = 0;
  /** How many events (`event`, no `ok`) arrived. */
  eventCount = 0;
  ended = false;
  private readonly parsed: any[] = [];
  private parts: Buffer[] = [];
  private readonly idWaiters = new Map<string, (msg: any) => void>();
  private wakers: (() => void)[] = [];
  private readonly endWaiters: (() => void)[] = [];
  private readonly listeners: ((msg: any) => void)[] = [];

  private constructor(
    readonly socket: Socket,
    private readonly keep: boolean,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
      this.wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Connects to the daemon's socket; `paused` starts it as a client that does not read, `keep: false` one that keeps no line. */
  static open(path: string, opts: { paused?: boolean; keep?: boolean } = {}): Promise<RawWire> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => {
        s.off('error', reject);
        const w = new RawWire(s, opts.keep ?? true);
        if (opts.paused) s.pause();
        resolve(w);
      });
      s.on('error', reject);
    });
  }

  /**
   * The way a one-shot client talks: connect, write `data` as given, collect
   * `lines` lines (or every line until the daemon closes, if 0), close.
   */
  static async exchange(path: string, data: string | Buffer, lines = 0, ms = 10_000): Promise<string[]> {
    const w = await RawWire.open(path);
    try {
      w.write(data);
      if (lines > 0) await w.until(() => w.lineCount >= lines, ms, () => `no answer within ${ms} ms; got ${JSON.stringify(w.lines)}`);
      else await w.waitEnd(ms);
      return w.lines.slice(0, lines || undefined);
    } finally {
      w.close();
    }
  }

  /** Writes bytes as given; false when the socket's buffer is full (wait for 'drain'). */
  write(data: string | Buffer): boolean {
    return this.socket.write(data);
  }

  /** Writes one line: an object as JSON, a string as given; a newline is added if missing. */
  send(message: object | string): void {
    const line = typeof message === 'string' ? message : JSON.stringify(message);
    this.socket.write(line.endsWith('\n') ? line : line + '\n');
  }

  /** Sends a request and waits for the answer with its id. */
  request(id: string, method: string, params: object = {}, ms = 30_000): Promise<any> {
    const p = this.waitId(id, ms);
    this.send({ id, method, params });
    return p;
  }

  /** Every line parsed, events included; throws if the daemon sent one that is not JSON. */
  get messages(): any[] {
    if (this.garbage.length > 0) throw new Error(`the daemon sent lines that are not JSON: ${JSON.stringify(this.garbage)}`);
    return this.parsed;
  }

  /** Calls `fn` with each parsed line from now on. */
  onMessage(fn: (msg: any) => void): void {
    this.listeners.push(fn);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Waits until `n` lines arrived (or the connection ended); throws after `ms`. Returns the parsed lines. */
  async waitLines(n: number, ms = 10_000): Promise<any[]> {
    await this.until(() => this.lineCount >= n, ms, () => `only ${this.lines.length} of ${n} lines within ${ms} ms: ${JSON.stringify(this.lines).slice(0, 2000)}`);
    return this.messages;
  }

  /** Like waitLines, but an end before `n` lines is a failure too. */
  async needLines(n: number, ms = 10_000): Promise<any[]> {
    const got = await this.waitLines(n, ms);
    if (this.lineCount < n) throw new Error(`the connection ended after ${this.lineCount} of ${n} lines: ${JSON.stringify(this.lines).slice(0, 2000)}`);
    return got;
  }

  /** The first answer with this id; rejects if the connection ends first or after `ms`. */
  waitId(id: string | number, ms = 30_000): Promise<any> {
    const key = String(id);
    const have = this.answers.get(key);
    if (have?.length) return Promise.resolve(have[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idWaiters.delete(key);
        reject(new Error(`no answer to ${key} within ${ms} ms; got ${JSON.stringify(this.lines).slice(0, 2000)}`));
      }, ms);
      this.idWaiters.set(key, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.onEnd(() => {
        // Lines may still be buffered in the same tick as 'end'.
        setImmediate(() => {
          if (!this.idWaiters.delete(key)) return;
          clearTimeout(timer);
          reject(new Error(`connection ended before an answer to ${key}; got ${JSON.stringify(this.lines).slice(0, 2000)}`));
        });
      });
    });
  }

  onEnd(fn: () => void): void {
    if (this.ended) fn();
    else this.endWaiters.push(fn);
  }

  /** Waits for the daemon to close the connection; throws after `ms`. */
  async waitEnd(ms = 10_000): Promise<void> {
    if (!(await this.endedWithin(ms))) throw new Error(`connection still open after ${ms} ms`);
  }

  /** True once the connection ended, false if it is still open after `ms`. */
  endedWithin(ms = 30_000): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.onEnd(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl >= 0) {
      this.parts.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.onLine(line);
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) this.parts.push(chunk.subarray(start));
    this.wake();
  }

  private onLine(line: string): void {
    this.lineCount++;
    if (this.keep) this.lines.push(line);
    let msg: any;
    try {
      msg = JSON.parse(line);
    } catch {
      this.garbage.push(line.slice(0, 200));
      return;
    }
    if (this.keep) this.parsed.push(msg);
    for (const fn of this.listeners) fn(msg);
    if (msg && typeof msg === 'object' && 'event' in msg && !('ok' in msg)) {
      this.eventCount++;
      return;
    }
    this.answerCount++;
    const key = String(msg?.id);
    if (this.keep) {
      const list = this.answers.get(key) ?? [];
      list.push(msg);
      this.answers.set(key, list);
    }
    const w = this.idWaiters.get(key);
    if (w) {
      this.idWaiters.delete(key);
      w(msg);
    }
  }

  private async until(done: () => boolean, ms: number, failure: () => string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!done() && !this.ended) {
      if (Date.now() > deadline) throw new Error(failure());
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.wakers.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }
}
