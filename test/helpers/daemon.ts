import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { TrlClient } from '../../src/client/client';
import { launch, type LaunchOptions } from './launch';
import { RawWire } from './raw-wire';

/**
 * A real trld for a test (see launch.ts for how it starts), ready to be
 * talked to, with its logs (stdout) collected for assertions, and torn down
 * whatever the outcome.
 */

export interface StartOptions extends LaunchOptions {
  /**
   * When the daemon counts as ready: once it logs "trld ready" (the default),
   * or once it answers a system.ping (below info level that line is not logged).
   */
  ready?: 'log' | 'ping';
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs trld until it exits on its own (bad configuration, refusal to start). */
export function runDaemonToExit(opts: LaunchOptions = {}, timeoutMs = 10_000): Promise<Exit> {
  const { child, dir } = launch(opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`trld did not exit within ${timeoutMs} ms; stdout: ${stdout}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      setImmediate(() => {
        rmSync(dir, { recursive: true, force: true });
        resolve({ code, signal, stdout, stderr });
      });
    });
  });
}

/** trld --stdio as the daemon's test user, in a private directory; stdin, stdout and stderr are pipes. */
export function spawnStdioDaemon(opts: { env?: Record<string, string>; args?: string[] } = {}): { child: ChildProcess; dir: string } {
  const { child, dir } = launch({ ...opts, args: ['--stdio', ...(opts.args ?? [])], dirPrefix: 'trl-stdio-' });
  return { child, dir };
}

export class TestDaemon {
  private stdoutText = '';
  private stderrText = '';
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly dir: string,
    readonly socketPath: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on('data', (c) => (this.stdoutText += c));
    child.stderr!.on('data', (c) => (this.stderrText += c));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Starts trld and waits until it is ready (see StartOptions.ready). */
  static async start(opts: StartOptions = {}): Promise<TestDaemon> {
    const { child, dir, socketPath } = launch(opts);
    const d = new TestDaemon(dir, socketPath, child);
    const deadline = Date.now() + 10_000;
    while (!(await d.isReady(opts.ready ?? 'log'))) {
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`trld did not become ready; stderr: ${d.stderrText}; stdout: ${d.stdoutText}`);
      }
      await sleep(10);
    }
    return d;
  }

  private async isReady(how: 'log' | 'ping'): Promise<boolean> {
    if (how === 'log') return this.stdoutText.includes('"trld ready"');
    try {
      const c = await TrlClient.connect(this.socketPath);
      await c.request('system.ping');
      c.close();
      return true;
    } catch {
      return false;
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Everything the daemon logged so far. */
  get logs(): string {
    return this.stdoutText;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Parsed log records. */
  logRecords(): Record<string, unknown>[] {
    return this.stdoutText
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  connect(): Promise<TrlClient> {
    return TrlClient.connect(this.socketPath);
  }

  /** The way a one-shot client talks: connect, write one line, read one line, close. Returns the parsed response. */
  async oneShot(request: object | string): Promise<any> {
    const line = typeof request === 'string' ? request : JSON.stringify(request);
    const [reply] = await this.exchange(line.endsWith('\n') ? line : line + '\n', 1);
    return JSON.parse(reply!);
  }

  /**
   * Writes raw bytes on a fresh connection and collects `lines` response lines
   * (or all lines until the daemon closes, if `lines` is 0).
   */
  exchange(data: string | Buffer, lines = 0, timeoutMs = 10_000): Promise<string[]> {
    return RawWire.exchange(this.socketPath, data, lines, timeoutMs);
  }

  /** Sends a signal (default SIGTERM) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }

  /** Stops the daemon (if running) and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
    assertNoFatal(this.stdoutText);
  }

  /** Every file under the daemon's directory, with contents: the canary test reads them. */
  filesWritten(): { path: string; content: Buffer }[] {
    const out: { path: string; content: Buffer }[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) out.push({ path: p, content: readFileSync(p) });
      }
    };
    walk(this.dir);
    return out;
  }
}

/** A daemon bug that was only logged (an unhandled rejection, an uncaught exception) fails the test that met it. */
export function assertNoFatal(logs: string): void {
  const fatal = logs.split('\n').filter((l) => l.includes('"unhandled rejection"') || l.includes('"uncaught exception"'));
  if (fatal.length > 0) throw new Error(`the daemon under test logged ${fatal.length} fatal error(s): ${fatal.slice(0, 3).join('\n')}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it is true or `ms` pass; returns its last value. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, every = 25): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(every);
  }
}

/**
 * One daemon and one client on it for a whole test file: started before the
 * first test, stopped after the last. `use` hands them to the file's own
 * variables.
 */
export function withDaemonAndClient(opts: StartOptions, use: (daemon: TestDaemon, client: TrlClient) => void): void {
  let daemon: TestDaemon | undefined;
  let client: TrlClient | undefined;
  before(async () => {
    daemon = await TestDaemon.start(opts);
    client = await daemon.connect();
    use(daemon, client);
  });
  after(async () => {
    client?.close();
    await daemon?.dispose();
  });
}
