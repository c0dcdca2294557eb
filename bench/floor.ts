import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(__dirname, '../..');

/** bench/NAME.c built (cc) into build/bench/NAME when missing or older than its source; the binary's path. */
export function buildC(name: string): string {
  const src = join(REPO, `bench/${name}.c`);
  const bin = join(REPO, `build/bench/${name}`);
  const mtime = (p: string) => {
    try {
      return statSync(p).mtimeMs;
    } catch {
      return -1;
    }
  };
  if (mtime(bin) < mtime(src)) {
    mkdirSync(join(REPO, 'build/bench'), { recursive: true });
    const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', bin, src], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cannot build ${src}: ${cc.stderr || cc.error}`);
  }
  return bin;
}

/**
 * The floor of every spawn figure: bench/floor.c, a small C program that
 * spawns `/bin/sh -c true` with posix_spawn, built here (cc) when missing or
 * older than its source. It runs beside the daemon for the whole benchmark
 * and is driven one request at a time, so its samples interleave with the
 * daemon's in the same run.
 */
export class Floor {
  private buf = '';
  private waiting: ((line: string) => void)[] = [];

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      this.buf += c;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
  }

  /** ownSession: in a session of its own (setsid), as a client started elsewhere on the host is: another autogroup for the scheduler. */
  static start(opts: { ownSession?: boolean } = {}): Floor {
    return new Floor(spawn(buildC('floor'), [], { stdio: ['pipe', 'pipe', 'inherit'], detached: opts.ownSession ?? false }));
  }

  private ask(line: string): Promise<number> {
    return new Promise((resolve) => {
      this.waiting.push((answer) => resolve(Number(answer)));
      this.child.stdin!.write(`${line}\n`);
    });
  }

  /** One spawn of `/bin/sh -c true`, waited for: milliseconds. */
  async one(): Promise<number> {
    return (await this.ask('L')) / 1000;
  }

  /** A kept connection of the foreign client to a daemon's socket: `request` sends one line, resolves with milliseconds. */
  async connect(socketPath: string): Promise<{ request(line: string): Promise<number> }> {
    const n = await this.ask(`C ${socketPath}`);
    return { request: (line) => this.timed(`K ${n} ${line}`) };
  }

  /** system.ping on a kept connection every `everyMs` from now until `stop`, which resolves with each round trip in milliseconds. */
  async pings(socketPath: string, everyMs: number): Promise<{ stop(): Promise<number[]> }> {
    const n = await this.ask(`C ${socketPath}`);
    const series = new Promise<string>((resolve) => this.waiting.push(resolve));
    this.child.stdin!.write(`P ${n} ${everyMs}\n`);
    return {
      stop: async () => {
        this.child.stdin!.write('S\n');
        const samples = (await series).split(' ').map((us) => Number(us) / 1000);
        if (samples.some((ms) => !(ms >= 0))) throw new Error('a ping of the foreign client failed');
        return samples;
      },
    };
  }

  /** One request on a fresh connection of the foreign client (connect, one line, one line back, close): milliseconds. */
  oneShot(socketPath: string, line: string): Promise<number> {
    return this.timed(`O ${socketPath} ${line}`);
  }

  private async timed(request: string): Promise<number> {
    const us = await this.ask(request.endsWith('\n') ? request.slice(0, -1) : request);
    if (us < 0) throw new Error(`the foreign client's request failed: ${request.slice(0, 200)}`);
    return us / 1000;
  }

  /** Spawns per second with `inflight` at a time for `ms`. */
  window(ms: number, inflight: number): Promise<number> {
    return this.ask(`T ${Math.round(ms)} ${inflight}`);
  }

  close(): void {
    this.child.stdin!.end();
  }
}
