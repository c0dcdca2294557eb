import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The one way tests and benchmarks start trld: in its own private directory,
 * with a fixed small environment, as the unprivileged TRL_TEST_USER when the
 * tests run as root (CI does), else as the current user. Readiness and
 * teardown are TestDaemon's; this file only spawns.
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

/** A private 0700 directory owned by the daemon's user (or by the runner itself: the daemon refuses a runtime directory under one another user owns). */
export function makePrivateDir(prefix = 'trl-test-', asSelf = false): string {
  const dir = mkdtempSync(join('/tmp', prefix));
  const id = asSelf ? { uid: process.getuid!(), gid: process.getgid!() } : daemonIdentity();
  chownSync(dir, id.uid, id.gid);
  return dir;
}

export interface LaunchOptions {
  /** Extra environment for the daemon (TRL_* settings, runtime-level variables), over the fixed base. */
  env?: Record<string, string>;
  /** The daemon's own arguments (e.g. `--stdio`). */
  args?: string[];
  /** Node's arguments before the entry (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * A command that execs the daemon, e.g. `['/usr/bin/prlimit', '--nproc=200:200']`:
   * the daemon then runs with that limit from its first instruction.
   */
  prefix?: string[];
  /** Spawn as the test runner's own user even when that is root (the root-refusal test, a prefix that drops privileges itself). */
  asSelf?: boolean;
  /**
   * Who owns the private directory; the daemon refuses one another user owns.
   * Default: the runner when asSelf, else the daemon's user. A prefix that
   * drops to the daemon's user itself wants `daemon` with asSelf.
   */
  dirOwner?: 'self' | 'daemon';
  /** A build other than the one under test: a directory holding dist/ and node_modules/. */
  root?: string;
  /** A script to run instead of the build's dist/src/main.js (a bundle's trld.js). */
  entry?: string;
  /** The private directory's name prefix under /tmp. */
  dirPrefix?: string;
  /** Default: three pipes. */
  stdio?: StdioOptions;
}

export interface Launched {
  child: ChildProcess;
  /** The daemon's private directory: its cwd, HOME, socket and runtime directory. */
  dir: string;
  socketPath: string;
}

/** The environment every daemon under test starts with, so a setting of the runner's never leaks in. */
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

/** Spawns trld (behind `prefix`, if given) in a fresh private directory. */
export function launch(opts: LaunchOptions = {}): Launched {
  const dir = makePrivateDir(opts.dirPrefix, (opts.dirOwner ?? (opts.asSelf ? 'self' : 'daemon')) === 'self');
  const env = baseEnv(dir, opts.env);
  const id = daemonIdentity();
  const asUser = !opts.asSelf && id.user !== null;
  const entry = opts.entry ?? (opts.root ? join(opts.root, 'dist/src/main.js') : DAEMON_ENTRY);
  const argv = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), entry, ...(opts.args ?? [])];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: dir,
    env,
    stdio: opts.stdio ?? ['pipe', 'pipe', 'pipe'],
    ...(asUser ? { uid: id.uid, gid: id.gid } : {}),
  });
  return { child, dir, socketPath: env.TRL_SOCKET_PATH! };
}
