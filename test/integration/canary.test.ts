import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';
import { newSession, run } from '../helpers/requests';

// One unique secret per channel, so a hit says which path leaked.
const tag = randomUUID().replace(/-/g, '');
const SECRET = {
  session: `canary-session-${tag}`,
  command: `canary-command-${tag}`,
  stdin: `canary-stdin-${tag}`,
  file: `canary-envfile-${tag}`,
  daemon: `canary-daemonenv-${tag}`,
  token: `canary-token-${tag}`,
};

let daemon: TestDaemon;
let fileDir: string;
let startedAt: number;
const seen: string[] = [];

before(async () => {
  startedAt = Date.now();
  fileDir = makePrivateDir('trl-canary-');
  const envFile = join(fileDir, 'trl.env');
  writeFileSync(envFile, `FILE_SECRET=${SECRET.file}\n`, { mode: 0o600 });
  const id = daemonIdentity();
  chownSync(envFile, id.uid, id.gid);
  daemon = await TestDaemon.start({
    env: { TRL_LOG_LEVEL: 'trace', TRL_ENV_FILE: envFile, DAEMON_SECRET: SECRET.daemon, TRL_AUTH_TOKEN: SECRET.token },
  });
  const c = await daemon.connect();
  const sid = await newSession(c, { env: { SESSION_SECRET: SECRET.session }, name: 'canary' });
  const r = await run(c, sid, 'cat; echo; echo "$SESSION_SECRET $COMMAND_SECRET $FILE_SECRET $DAEMON_SECRET"; echo "$SESSION_SECRET" >&2', {
    env: { COMMAND_SECRET: SECRET.command },
    stdin: SECRET.stdin,
  });
  seen.push(r.stdout, r.stderr);
  // the same secrets through the other paths: a timeout, a failure, an export that carries over, info, destroy
  const t = await run(c, sid, 'export CARRIED="$COMMAND_SECRET"; cat; sleep 10', { env: { COMMAND_SECRET: SECRET.command }, stdin: SECRET.stdin, timeout_s: 0.3 });
  seen.push(t.stdout);
  await run(c, sid, 'echo "$SESSION_SECRET"; exit 3', { env: { COMMAND_SECRET: SECRET.command } });
  await c.request('session.info', { session_id: sid });
  await c.request('session.list');
  await c.request('exec.run', { session_id: sid, command: 'true', env: { BAD: 5, COMMAND_SECRET: SECRET.command } }).catch(() => {});
  await c.request('session.create', { env: { SESSION_SECRET: SECRET.session }, working_dir: '/no/such/dir' }).catch(() => {});
  const busy = run(c, sid, 'sleep 0.3', { env: { COMMAND_SECRET: SECRET.command } });
  await run(c, sid, 'true', { env: { COMMAND_SECRET: SECRET.command }, stdin: SECRET.stdin }).catch(() => {});
  await busy;
  await c.request('session.destroy', { session_id: sid });
  // a session left open when the daemon stops
  const sid2 = await newSession(c, { env: { SESSION_SECRET: SECRET.session } });
  void run(c, sid2, 'sleep 300', { env: { COMMAND_SECRET: SECRET.command }, stdin: SECRET.stdin }).catch(() => {});
  await new Promise((r) => setTimeout(r, 200));
  c.close();
  await daemon.stop('SIGTERM');
});
after(async () => {
  await daemon.dispose();
  rmSync(fileDir, { recursive: true, force: true });
});

function leaks(text: string | Buffer): string[] {
  const s = typeof text === 'string' ? text : text.toString('latin1');
  return Object.entries(SECRET)
    .filter(([, v]) => s.includes(v))
    .map(([k]) => k);
}

test('the command itself saw every secret', () => {
  assert.ok(seen[0]!.includes(SECRET.stdin), 'stdin');
  assert.ok(seen[0]!.includes(`${SECRET.session} ${SECRET.command} ${SECRET.file} ${SECRET.daemon}`), seen[0]);
  assert.equal(seen[1], SECRET.session + '\n');
  assert.ok(seen[2]!.includes(SECRET.stdin), 'stdin of the timed-out command');
});

test('no secret in any log line (trace level), nor on stderr', () => {
  const lines = daemon.logs.split('\n').filter(Boolean);
  assert.ok(lines.length > 10, 'the daemon logged');
  assert.ok(daemon.logs.includes('command ended') || daemon.logs.includes('exit_code'), 'command ends are logged');
  for (const line of lines) assert.deepEqual(leaks(line), [], line);
  assert.deepEqual(leaks(daemon.stderr), [], daemon.stderr);
});

test('no secret in any file the daemon wrote (its directory and runtime dir)', () => {
  const files = daemon.filesWritten();
  for (const f of files) assert.deepEqual(leaks(f.content), [], f.path);
});

test('no secret in any file the daemon user wrote under /tmp during the run', () => {
  const uid = daemonIdentity().uid;
  const hits: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (p === fileDir) continue; // the env file the test itself wrote
      try {
        if (e.isDirectory() && depth < 4) walk(p, depth + 1);
        else if (e.isFile()) {
          const st = statSync(p);
          if (st.uid !== uid || st.mtimeMs < startedAt - 1000 || st.size > 64 * 1024 * 1024) continue;
          if (leaks(readFileSync(p)).length) hits.push(p);
        }
      } catch {
        /* vanished */
      }
    }
  };
  walk('/tmp', 0);
  assert.deepEqual(hits, []);
});
