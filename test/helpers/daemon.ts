import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { TrlClient } from '../../src/client/client';

/**
 * A real trld for a test: its own private directory and socket, running as the
 * unprivileged TRL_TEST_USER when the tests run as root (CI does), else as the
 * current user. Logs (stdout) are collected for assertions.
 */

const REPO = resolve(__dirname, '../../..');
export const DAEMON_ROOT = process.env.TRL_TEST_DAEMON_ROOT ?? REPO;
export const DAEMON_ENTRY = join(DAEMON_ROOT, 'dist/src/main.js');
const TEST_USER = process.getuid?.() === 0 ? (process.env.TRL_TEST_USER ?? 'trl-test') : null;

export interface Identity {
  user: string | null;
  uid: number;
  gid: number;
}

let identity: Identity | null = null;
/** Who the daemon under test runs as. */
export function daemonIdentity(): Identity {
  if (identity) return identity;
  if (!TEST_USER) return (identity = { user: null, uid: process.getuid!(), gid: process.getgid!() });
  const uid = Number(spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', TEST_USER], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || uid <= 0) throw new Error(`test user ${TEST_USER} does not exist: run the tests through \`make test\``);
  return (identity = { user: TEST_USER, uid, gid });
}

export interface StartOptions {
  /** Extra environment for the daemon (TRL_* settings, runtime-level variables). */
  env?: Record<string, string>;
  args?: string[];
  /** Run as the test runner's own user even when that is root (the root-refusal test). */
  asSelf?: boolean;
}

/** A private 0700 directory owned by the daemon's user. */
export function makePrivateDir(prefix = 'trl-test-'): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  const id = daemonIdentity();
  chownSync(dir, id.uid, id.gid);
  return dir;
}

function baseEnv(dir: string, extra: Record<string, string> | undefined): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: dir,
    TRL_SOCKET_PATH: join(dir, 'trl.sock'),
    TRL_RUNTIME_DIR: join(dir, 'run'),
    TRL_KILL_GRACE_MS: '1000',
    // `make test-fallback` runs the whole suite with the other spawner.
    ...(process.env.TRL_SPAWNER ? { TRL_SPAWNER: process.env.TRL_SPAWNER } : {}),
    ...extra,
  };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs trld until it exits on its own (bad configuration, refusal to start). */
export function runDaemonToExit(opts: StartOptions = {}, timeoutMs = 10_000): Promise<Exit> {
  const dir = makePrivateDir();
  const child = spawnDaemon(dir, opts);
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

function spawnDaemon(dir: string, opts: StartOptions): ChildProcess {
  const id = daemonIdentity();
  const asUser = !opts.asSelf && id.user !== null;
  return spawn(process.execPath, [DAEMON_ENTRY, ...(opts.args ?? [])], {
    cwd: dir,
    env: baseEnv(dir, opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(asUser ? { uid: id.uid, gid: id.gid } : {}),
  });
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

  /** Starts trld and waits until it logs that it is ready. */
  static async start(opts: StartOptions = {}): Promise<TestDaemon> {
    const dir = makePrivateDir();
    // The daemon refuses a runtime directory under one that another user owns.
    if (opts.asSelf) chownSync(dir, process.getuid!(), process.getgid!());
    const env = baseEnv(dir, opts.env);
    const d = new TestDaemon(dir, env.TRL_SOCKET_PATH!, spawnDaemon(dir, opts));
    const deadline = Date.now() + 10_000;
    while (!d.stdoutText.includes('"trld ready"')) {
      if (d.child.exitCode !== null || d.child.signalCode !== null || Date.now() > deadline) {
        d.child.kill('SIGKILL');
        throw new Error(`trld did not become ready; stderr: ${d.stderrText}; stdout: ${d.stdoutText}`);
      }
      await sleep(10);
    }
    return d;
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
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path: this.socketPath });
      let buf = '';
      const got: string[] = [];
      const done = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      };
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(got)}`));
      }, timeoutMs);
      socket.on('data', (c) => {
        buf += c;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          got.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (lines > 0 && got.length >= lines) return done();
        }
      });
      socket.on('end', done);
      socket.on('error', (err) => {
        clearTimeout(timer);
        if (got.length) resolve(got);
        else reject(err);
      });
      socket.write(data);
    });
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

/** Live (non-zombie) processes for which `matches(pid)` holds; a process that vanishes or cannot be read does not match. */
export function livePidsWhere(matches: (pid: string) => boolean): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (isAlive(Number(name)) && matches(name)) pids.push(Number(name));
    } catch {
      /* gone or not ours */
    }
  }
  return pids;
}

/** Live (non-zombie) processes whose environment carries `marker` (e.g. a unique variable a test set). */
export function livePidsWithEnv(marker: string): number[] {
  const needle = Buffer.from(marker);
  return livePidsWhere((pid) => readFileSync(`/proc/${pid}/environ`).includes(needle));
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
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

// ---- HTTP and stdio transports (issue 6) ----

export interface HttpReply {
  status: number;
  headers: import('node:http').IncomingHttpHeaders;
  text: string;
}

/**
 * One HTTP request to a daemon's HTTP listener. `body` is sent as given (a
 * string) or as JSON (an object); `chunked` sends it without Content-Length.
 */
export function httpRequest(
  url: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | object; chunked?: boolean; localAddress?: string } = {},
  timeoutMs = 15_000,
): Promise<HttpReply> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const http = require('node:http') as typeof import('node:http');
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const u = new URL(opts.path ?? '/', url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (body !== undefined && !opts.chunked) headers['Content-Length'] = String(Buffer.byteLength(body));
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: opts.method ?? 'POST', headers, agent: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode!, headers: res.headers, text });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no HTTP answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The HTTP URL a running daemon logged in its "trld ready" record. */
export function httpUrlOf(d: TestDaemon): string {
  const ready = d.logRecords().find((r) => r.msg === 'trld ready') as { listen?: string[] } | undefined;
  const url = ready?.listen?.find((w) => /^https?:\/\//.test(w));
  if (!url) throw new Error(`the daemon logged no HTTP listener; logs: ${d.logs}`);
  return url.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
}

/** trld --stdio as the daemon's test user, in a private directory; stdin, stdout and stderr are pipes. */
export function spawnStdioDaemon(opts: { env?: Record<string, string>; args?: string[] } = {}): { child: ChildProcess; dir: string } {
  const dir = makePrivateDir('trl-stdio-');
  const id = daemonIdentity();
  const child = spawn(process.execPath, [DAEMON_ENTRY, '--stdio', ...(opts.args ?? [])], {
    cwd: dir,
    env: { ...baseEnv(dir, opts.env) },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(id.user !== null ? { uid: id.uid, gid: id.gid } : {}),
  });
  return { child, dir };
}

/**
 * Starts trld behind a command prefix that execs it, e.g.
 * `['/usr/bin/prlimit', '--nproc=200:200']`: the daemon then runs with that
 * limit from its first instruction (lowering a limit needs no privilege, so
 * this works as the unprivileged test user). Otherwise like TestDaemon.start.
 */
export async function startDaemonWithPrefix(prefix: string[], opts: StartOptions = {}): Promise<TestDaemon> {
  const dir = makePrivateDir();
  const env = baseEnv(dir, opts.env);
  const id = daemonIdentity();
  const asUser = !opts.asSelf && id.user !== null;
  const child = spawn(prefix[0]!, [...prefix.slice(1), process.execPath, DAEMON_ENTRY, ...(opts.args ?? [])], {
    cwd: dir,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(asUser ? { uid: id.uid, gid: id.gid } : {}),
  });
  const Ctor = TestDaemon as unknown as new (dir: string, socketPath: string, child: ChildProcess) => TestDaemon;
  const d = new Ctor(dir, env.TRL_SOCKET_PATH!, child);
  const deadline = Date.now() + 10_000;
  while (!d.logs.includes('"trld ready"')) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`trld did not become ready; stderr: ${d.stderr}; stdout: ${d.logs}`);
    }
    await sleep(10);
  }
  return d;
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
