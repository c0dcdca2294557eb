import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, existsSync, lstatSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { TestDaemon, runDaemonToExit, waitFor } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';
import { killMarked, newSession, run, uniqueMarker } from '../helpers/requests';
import { RawWire } from '../helpers/raw-wire';

const dirs: string[] = [];
const daemons: TestDaemon[] = [];
after(async () => {
  killMarked();
  await Promise.all(daemons.map((d) => d.dispose()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function privateDir(): string {
  const d = makePrivateDir('trl-start-');
  dirs.push(d);
  return d;
}
async function start(opts: Parameters<typeof TestDaemon.start>[0] = {}): Promise<TestDaemon> {
  const d = await TestDaemon.start(opts);
  daemons.push(d);
  return d;
}
const isRoot = process.getuid!() === 0;

test('refuses to run as root, saying why, before binding', async (t) => {
  if (!isRoot) return t.skip('the test runner is not root');
  const sock = join(privateDir(), 'root.sock');
  const r = await runDaemonToExit({ asSelf: true, env: { TRL_SOCKET_PATH: sock } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /root/);
  assert.match(r.stderr, /TRL_ALLOW_ROOT/);
  assert.equal(existsSync(sock), false, 'no socket created');
});

test('TRL_ALLOW_ROOT=1 lets it start as root', async (t) => {
  if (!isRoot) return t.skip('the test runner is not root');
  const d = await start({ asSelf: true, env: { TRL_ALLOW_ROOT: '1' } });
  assert.equal((await d.oneShot({ id: 'r', method: 'system.ping' })).ok, true);
  const c = await d.connect();
  const sid = await newSession(c);
  assert.equal((await run(c, sid, 'id -u')).stdout, '0\n');
  c.close();
  await d.stop();
});

test('bad config exits non-zero before binding, naming the key', async () => {
  const cases: [Record<string, string>, string[], RegExp][] = [
    [{ TRL_MAX_SESSIONS: 'abc' }, [], /TRL_MAX_SESSIONS/],
    [{ TRL_MAX_OUTPUT_BYTES: '-5' }, [], /TRL_MAX_OUTPUT_BYTES/],
    [{ TRL_LOG_LEVEL: 'chatty' }, [], /TRL_LOG_LEVEL/],
    [{}, ['--no-such-flag'], /no-such-flag/],
    [{}, ['--max-sessions', 'many'], /max-sessions/],
  ];
  await Promise.all(
    cases.map(async ([env, args, re]) => {
      const sock = join(privateDir(), 'bad.sock');
      const r = await runDaemonToExit({ env: { ...env, TRL_SOCKET_PATH: sock }, args });
      assert.notEqual(r.code, 0, `${JSON.stringify(env)} ${args.join(' ')}`);
      assert.equal(r.signal, null);
      assert.match(r.stderr + r.stdout, re);
      assert.equal(existsSync(sock), false, 'no socket created');
    }),
  );
});

test('a socket path too long for a Unix socket is a config error naming TRL_SOCKET_PATH', async () => {
  const r = await runDaemonToExit({ env: { TRL_SOCKET_PATH: '/tmp/' + 'x'.repeat(150) + '.sock' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /TRL_SOCKET_PATH/);
});

test('an env file readable by group or others is refused at start', async () => {
  const dir = privateDir();
  const file = join(dir, 'trl.env');
  writeFileSync(file, 'SECRET_IN_FILE=hunter2\n', { mode: 0o644 });
  const id = daemonIdentity();
  chownSync(file, id.uid, id.gid);
  const sock = join(dir, 'env.sock');
  const r = await runDaemonToExit({ env: { TRL_ENV_FILE: file, TRL_SOCKET_PATH: sock } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /TRL_ENV_FILE/);
  assert.ok(!(r.stderr + r.stdout).includes('hunter2'));
  assert.equal(existsSync(sock), false);
});

test('--help lists every setting with its default and exits 0', async () => {
  const r = await runDaemonToExit({ args: ['--help'] });
  assert.equal(r.code, 0);
  for (const key of ['TRL_SOCKET_PATH', 'TRL_MAX_SESSIONS', 'TRL_DEFAULT_TIMEOUT_S', 'TRL_MAX_OUTPUT_BYTES', 'TRL_MAX_IDLE_SEC', 'TRL_SESSION_TTL_SEC', 'TRL_ALLOW_ROOT', 'TRL_ENV_FILE', 'TRL_KILL_GRACE_MS', 'TRL_MAX_REQUEST_BYTES', 'TRL_MAX_STDIN_BYTES', 'TRL_LOG_LEVEL', 'TRL_RUNTIME_DIR']) {
    assert.ok(r.stdout.includes(key), `--help lacks ${key}`);
  }
  assert.match(r.stdout, /--socket-path/);
});

test('the socket is mode 0600, owned by the daemon user', async () => {
  const d = await start();
  const st = lstatSync(d.socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, daemonIdentity().uid);
  await d.stop();
});

test('a stale socket left by a killed daemon is replaced; a live daemon’s socket is not taken over', async () => {
  const sock = join(privateDir(), 'shared.sock');
  const first = await start({ env: { TRL_SOCKET_PATH: sock } });
  // a second daemon on the same path while the first serves: refused, the first keeps serving
  const clash = await runDaemonToExit({ env: { TRL_SOCKET_PATH: sock } });
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, /already listening|in use|another/i);
  assert.equal((await first.oneShot({ id: 'a', method: 'system.ping' })).ok, true);
  await first.stop('SIGKILL');
  assert.ok(lstatSync(sock).isSocket(), 'a stale socket is left behind');
  const second = await start({ env: { TRL_SOCKET_PATH: sock } });
  assert.equal((await second.oneShot({ id: 'b', method: 'system.ping' })).ok, true);
  assert.equal(lstatSync(sock).mode & 0o777, 0o600);
  await second.stop();
});

test('a regular file at the socket path is refused and left untouched', async () => {
  const dir = privateDir();
  const sock = join(dir, 'file.sock');
  writeFileSync(sock, 'precious data');
  const r = await runDaemonToExit({ env: { TRL_SOCKET_PATH: sock } });
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.includes(sock), r.stderr);
  assert.equal(readFileSync(sock, 'utf8'), 'precious data');
});

test('a symlink at the socket path is refused and left untouched', async () => {
  const dir = privateDir();
  const target = join(dir, 'target');
  writeFileSync(target, 'target data');
  const sock = join(dir, 'link.sock');
  symlinkSync(target, sock);
  const r = await runDaemonToExit({ env: { TRL_SOCKET_PATH: sock } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /symlink/);
  assert.ok(lstatSync(sock).isSymbolicLink());
  assert.equal(readFileSync(target, 'utf8'), 'target data');
  // a dangling symlink too
  const dangling = join(dir, 'dangling.sock');
  symlinkSync(join(dir, 'nowhere'), dangling);
  const r2 = await runDaemonToExit({ env: { TRL_SOCKET_PATH: dangling } });
  assert.notEqual(r2.code, 0);
  assert.ok(lstatSync(dangling).isSymbolicLink());
  assert.equal(existsSync(join(dir, 'nowhere')), false, 'nothing created through the link');
});

test('another user’s socket at the path is refused', async (t) => {
  if (!isRoot) return t.skip('needs root to create a socket owned by another user');
  const dir = privateDir();
  const sock = join(dir, 'other.sock');
  const server = createServer();
  await new Promise<void>((r) => server.listen(sock, r));
  server.close(); // leaves a stale socket owned by root (node does not unlink it) or removes it
  if (!existsSync(sock)) {
    const s2 = createServer();
    await new Promise<void>((r) => s2.listen(sock, r));
    t.after(() => s2.close());
  }
  assert.equal(lstatSync(sock).uid, 0);
  const r = await runDaemonToExit({ env: { TRL_SOCKET_PATH: sock } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /owned by|uid/);
  assert.ok(lstatSync(sock).isSocket(), 'left in place');
});

test('SIGTERM: running commands killed, requests refused with SHUTTING_DOWN, socket removed, exit 0', async () => {
  const d = await start({ env: { TRL_KILL_GRACE_MS: '3000' } });
  const mark = uniqueMarker();
  const c = await d.connect();
  const sid = await newSession(c, { env: { [mark]: '1' } });
  await run(c, sid, 'sleep 300 > /dev/null 2>&1 &');
  const conn = await RawWire.open(d.socketPath);
  // ignores SIGTERM, so shutdown waits out the grace period with this connection still open
  conn.send({ id: 'running', method: 'exec.run', params: { session_id: sid, command: `trap '' TERM; setsid sh -c 'sleep 300' & sleep 300` } });
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length >= 4, 5000));
  d.child.kill('SIGTERM');
  let refused: any = null;
  for (let i = 0; i < 100 && !refused && !conn.ended; i++) {
    conn.send({ id: `late${i}`, method: 'system.ping' });
    const r = await conn.waitId(`late${i}`, 2000).catch(() => null);
    if (r && !r.ok) refused = r;
    else await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(refused, 'a request during shutdown was answered');
  assert.equal(refused.error.code, 'SHUTTING_DOWN');
  const exit = await d.stop('SIGTERM', 20_000);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(existsSync(d.socketPath), false, 'socket file removed');
  assert.ok(conn.messages.some((r) => r.id === 'running'), 'the running exec.run was answered before the connection closed');
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 5000), `left alive: ${livePidsWithEnv(`${mark}=1`)}`);
  conn.close();
  c.close();
});

test('SIGTERM on an idle daemon exits 0 promptly and removes the socket', async () => {
  const d = await start();
  const exit = await d.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(existsSync(d.socketPath), false);
});

test('SIGINT behaves like SIGTERM', async () => {
  const d = await start();
  const exit = await d.stop('SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.equal(existsSync(d.socketPath), false);
});

test('a cold start loads no Node module it does not need before its first answer (crypto, v8, vm, fs/promises come with the first use; inspector not at all)', async () => {
  // Debian's nodejs has no built-in code cache: every internal module is compiled from source when first required.
  const dir = privateDir();
  const preload = join(dir, 'modules.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(dir, 'modules.txt'))}, process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join('\\n')));`,
    { mode: 0o644 },
  );
  const d = await start({ nodeArgs: ['-r', preload] });
  const wire = await RawWire.open(d.socketPath);
  wire.send({ id: 1, method: 'system.ping' });
  assert.ok(await waitFor(() => wire.messages.some((m) => m.id === 1)), 'the ping is answered');
  wire.close();
  await d.stop('SIGTERM');
  const loaded = new Set(readFileSync(join(dir, 'modules.txt'), 'utf8').split('\n'));
  assert.ok(loaded.has('net'), 'the list is real: net is loaded');
  // (node:child_process is not in the list: net's listen loads cluster, which loads it.)
  for (const m of ['crypto', 'v8', 'vm', 'fs/promises', 'readline', 'inspector']) assert.ok(!loaded.has(m), `node:${m} was loaded at start-up`);
});
