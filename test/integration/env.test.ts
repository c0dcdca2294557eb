import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';
import { newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

let daemon: TestDaemon;
let c: TrlClient;
let fileDir: string;
const TOKEN = `tok-${process.pid}-${Date.now()}`;

before(async () => {
  fileDir = makePrivateDir('trl-envfile-');
  const envFile = join(fileDir, 'trl.env');
  writeFileSync(
    envFile,
    ['FILE_ONLY=from-file', 'FILE_AND_PROC=from-file', 'LAYER_A=file', 'TRL_MAX_SESSIONS=7', 'NOTIFY_SOCKET=/from/file', ''].join('\n'),
    { mode: 0o600 },
  );
  const id = daemonIdentity();
  chownSync(envFile, id.uid, id.gid);
  daemon = await TestDaemon.start({
    env: {
      TRL_ENV_FILE: envFile,
      TRL_AUTH_TOKEN: TOKEN,
      NOTIFY_SOCKET: join(fileDir, 'no-such-notify.sock'),
      LISTEN_FDS: '0',
      LISTEN_PID: '1',
      LISTEN_FDNAMES: 'x',
      WATCHDOG_USEC: '99999999',
      FILE_AND_PROC: 'from-daemon-env',
      LAYER_A: 'runtime',
      LAYER_B: 'runtime',
      LAYER_C: 'runtime',
    },
  });
  c = await daemon.connect();
});
after(async () => {
  c.close();
  await daemon.dispose();
  rmSync(fileDir, { recursive: true, force: true });
});

/** The command's environment as a map. */
async function envOf(sid: string, extra: object = {}): Promise<Record<string, string>> {
  const r = await run(c, sid, 'env -0', extra);
  assert.equal(r.exit_code, 0);
  const env: Record<string, string> = {};
  for (const e of r.stdout.split('\0')) {
    const eq = e.indexOf('=');
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return env;
}

test('env precedence: runtime < session < command', async () => {
  const sid = await newSession(c, { env: { LAYER_B: 'session', LAYER_C: 'session' } });
  const r = await run(c, sid, 'echo "$LAYER_A/$LAYER_B/$LAYER_C"', { env: { LAYER_C: 'command' } });
  assert.equal(r.stdout, 'runtime/session/command\n');
  await c.request('session.destroy', { session_id: sid });
});

test('runtime-level env includes the env file; the daemon’s own environment overrides it', async () => {
  const sid = await newSession(c);
  const env = await envOf(sid);
  assert.equal(env.FILE_ONLY, 'from-file');
  assert.equal(env.FILE_AND_PROC, 'from-daemon-env');
  assert.equal(env.LAYER_A, 'runtime');
  await c.request('session.destroy', { session_id: sid });
});

test('a command never sees TRL_*, NOTIFY_SOCKET, LISTEN_* or WATCHDOG_* of the daemon', async () => {
  const sid = await newSession(c);
  const env = await envOf(sid);
  const leaked = Object.keys(env).filter(
    (k) => (k.startsWith('TRL_') && k !== 'TRL_SESSION_ID' && k !== 'TRL_EXEC_ID') || k === 'NOTIFY_SOCKET' || k.startsWith('LISTEN_') || k.startsWith('WATCHDOG_'),
  );
  assert.deepEqual(leaked, []);
  assert.ok(!Object.values(env).includes(TOKEN), 'the auth token value reaches no variable');
  await c.request('session.destroy', { session_id: sid });
});

test('session.info and session.list return env keys only, never values', async () => {
  const secretValue = `value-${Math.random().toString(36).slice(2)}`;
  const created = await daemon.oneShot({ id: 'c', method: 'session.create', params: { env: { SESSION_SECRET: secretValue, OTHER: secretValue + '2' } } });
  assert.equal(created.ok, true);
  assert.ok(!JSON.stringify(created).includes(secretValue));
  const sid = created.data.session_id;
  const info = await daemon.oneShot({ id: 'i', method: 'session.info', params: { session_id: sid } });
  assert.ok(info.data.env_keys.includes('SESSION_SECRET'));
  assert.ok(info.data.env_keys.includes('OTHER'));
  assert.ok(!JSON.stringify(info).includes(secretValue), JSON.stringify(info));
  const list = await daemon.oneShot({ id: 'l', method: 'session.list' });
  assert.ok(!JSON.stringify(list).includes(secretValue));
  // the command does see it
  assert.equal((await run(c, sid, 'echo "$SESSION_SECRET"')).stdout, secretValue + '\n');
  await c.request('session.destroy', { session_id: sid });
});

test('cd and export carry over to the next command', async () => {
  const sid = await newSession(c);
  const first = await run(c, sid, 'cd /usr && export X=1');
  assert.equal(first.exit_code, 0);
  const r = await run(c, sid, 'pwd; echo "$X"');
  assert.equal(r.stdout, '/usr\n1\n');
  const r2 = await run(c, sid, 'cd bin; export Y="two words"');
  assert.equal(r2.exit_code, 0);
  assert.equal((await run(c, sid, 'pwd; echo "$X $Y"')).stdout, '/usr/bin\n1 two words\n');
  await c.request('session.destroy', { session_id: sid });
});

test('state carries over after a failing command too, with its exit code', async () => {
  const sid = await newSession(c);
  const r = await run(c, sid, 'cd /etc; export Z=z; exit 4');
  assert.equal(r.exit_code, 4);
  assert.equal((await run(c, sid, 'echo "$PWD $Z"')).stdout, '/etc z\n');
  await c.request('session.destroy', { session_id: sid });
});

test('command-level env does not persist; the session value comes back', async () => {
  const sid = await newSession(c, { env: { S: 'session' } });
  assert.equal((await run(c, sid, 'echo "$S $CMDONLY"', { env: { S: 'command', CMDONLY: 'c' } })).stdout, 'command c\n');
  assert.equal((await run(c, sid, 'echo "$S ${CMDONLY-unset}"')).stdout, 'session unset\n');
  await c.request('session.destroy', { session_id: sid });
});

test('unset persists, for session and runtime-level variables', async () => {
  const sid = await newSession(c, { env: { GONE: 'x' } });
  await run(c, sid, 'unset GONE LAYER_A');
  assert.equal((await run(c, sid, 'echo "${GONE-unset} ${LAYER_A-unset}"')).stdout, 'unset unset\n');
  await c.request('session.destroy', { session_id: sid });
});

test('sessions do not share state', async () => {
  const a = await newSession(c);
  const b = await newSession(c);
  await run(c, a, 'cd /usr; export ONLY_A=1');
  assert.equal((await run(c, b, 'pwd; echo "${ONLY_A-unset}"')).stdout, '/tmp\nunset\n');
  await c.request('session.destroy', { session_id: a });
  await c.request('session.destroy', { session_id: b });
});

test('bash sessions carry state too', async () => {
  const sid = await newSession(c, { shell: '/bin/bash' });
  await run(c, sid, 'cd /usr/lib && export B=bash');
  assert.equal((await run(c, sid, 'echo "$PWD $B"')).stdout, '/usr/lib bash\n');
  await c.request('session.destroy', { session_id: sid });
});
