import { fstatSync, mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIdOf, encodeCache, headerFor } from '../system/code-cache-file';
import { BundleScript } from './bundle-script';

const OUT_FD = 3;
const GIVE_UP_MS = 20_000;
/** What an agent's first connection asks: the cache then holds the code that answers it. */
const FIRST_REQUEST = '{"id":"code-cache","method":"system.ping"}\n';
/** Settings of the environment that would send this run elsewhere than its scratch socket. */
const DROPPED = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'TRL_HTTP_LISTEN', 'TRL_STDIO', 'TRL_ENV_FILE'];

/**
 * `trld --write-code-cache 3>FILE`: starts the daemon bundle on a scratch
 * socket of its own, asks it what an agent's first connection asks, then
 * writes V8's cache of everything compiled by then to fd 3 and stops the
 * daemon (exit 0). The package's postinst runs it as trl and stores FILE as
 * root's (code-cache.ts refuses anything else).
 */
export function writeDaemonCodeCache(bundle: string): void {
  checkOut('trld');
  const scratch = mkdtempSync(join(tmpdir(), 'trld-code-cache-'));
  process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
  for (const name of DROPPED) delete process.env[name];
  const socket = join(scratch, 'trl.sock');
  Object.assign(process.env, { TRL_SOCKET_PATH: socket, TRL_RUNTIME_DIR: join(scratch, 'run'), TRL_LOG_LEVEL: 'warn' });
  const source = readFileSync(bundle, 'utf8');
  const script = new BundleScript(bundle, source);
  const timer = setTimeout(() => fail(`trld --write-code-cache: the daemon did not answer on ${socket} within ${GIVE_UP_MS / 1000} s`), GIVE_UP_MS);
  script.run();
  askOnce(socket, () => {
    clearTimeout(timer);
    writeOut(script, source);
    // The daemon's own stop: it exits 0 once it has shut down.
    process.kill(process.pid, 'SIGTERM');
  });
}

/**
 * `trl --write-code-cache 3>FILE`: runs the CLI bundle as `trl --help` (its
 * modules loaded, its command line parsed, usage written to stdout) and
 * writes V8's cache to fd 3 as it exits. No daemon is needed: what a CLI
 * start compiles is mostly its modules' loading.
 */
export function writeCliCodeCache(bundle: string): void {
  checkOut('trl');
  process.argv.splice(2, process.argv.length - 2, '--help');
  const source = readFileSync(bundle, 'utf8');
  const script = new BundleScript(bundle, source);
  process.on('exit', () => writeOut(script, source));
  script.run();
}

/** Not open at exec, fd 3 is taken by Node's own event loop (an epoll or event fd): only a file or a pipe is ours. */
function checkOut(program: string): void {
  let out;
  try {
    out = fstatSync(OUT_FD);
  } catch {
    out = null;
  }
  if (!out?.isFile() && !out?.isFIFO()) fail(`${program} --write-code-cache writes the cache to fd 3, which is not an open file or pipe: run it as \`${program} --write-code-cache 3>FILE\``);
}

function writeOut(script: BundleScript, source: string): void {
  const out = encodeCache(headerFor(buildIdOf(source)), script.cache());
  for (let at = 0; at < out.length; ) at += writeSync(OUT_FD, out, at);
}

/** Connects (retrying while the daemon is still starting), sends FIRST_REQUEST, calls `done` on the first answer line. */
function askOnce(path: string, done: () => void): void {
  const conn = connect(path);
  let got = '';
  conn.on('connect', () => conn.write(FIRST_REQUEST));
  conn.on('data', (chunk) => {
    got += chunk.toString('utf8');
    if (got.includes('\n')) {
      conn.destroy();
      done();
    }
  });
  conn.on('error', () => setTimeout(() => askOnce(path, done), 10));
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
