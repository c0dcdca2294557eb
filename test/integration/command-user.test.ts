import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { waitFor } from '../helpers/daemon';
import { daemonIdentity, launch } from '../helpers/launch';
import { isAlive } from '../helpers/proc';

const asRoot = process.getuid?.() === 0;

/** trld --stdio as root with TRL_COMMAND_USER; `ask` sends one request and reads its answer. */
function rootDaemon(env: Record<string, string>) {
  const { child, dir } = launch({ asSelf: true, args: ['--stdio'], dirPrefix: 'trl-cmd-user-', env: { TRL_ALLOW_ROOT: '1', ...env } });
  // The command user works in this directory (before the first request, so before any command runs).
  chmodSync(dir, 0o755);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  let n = 0;
  const ask = async (method: string, params: object) => {
    child.stdin!.write(`${JSON.stringify({ id: ++n, method, params })}\n`);
    const { value, done } = await lines.next();
    if (done) throw new Error(`the daemon ended: ${stderr}`);
    return JSON.parse(value as string);
  };
  const close = async () => {
    child.stdin!.end();
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  };
  return { child, ask, close, stderr: () => stderr, dir };
}

test('TRL_COMMAND_USER: commands run as that user and can neither read nor signal the daemon', { skip: !asRoot && 'needs root' }, async () => {
  const user = daemonIdentity();
  const d = rootDaemon({ TRL_COMMAND_USER: user.user! });
  try {
    const s = await d.ask('session.create', { working_dir: d.dir });
    assert.equal(s.ok, true, JSON.stringify(s));
    const sid = s.data.session_id;
    const id = await d.ask('exec.run', { session_id: sid, command: 'id -u; id -g; grep -E "^(CapEff|CapAmb):" /proc/self/status' });
    const [u, g, capEff, capAmb] = id.data.stdout.trim().split('\n');
    assert.equal(Number(u), user.uid);
    assert.equal(Number(g), user.gid);
    assert.match(capEff!, /0000000000000000$/);
    assert.match(capAmb!, /0000000000000000$/);
    const pid = d.child.pid!;
    const reach = await d.ask('exec.run', {
      session_id: sid,
      command: `cat /proc/${pid}/environ >/dev/null 2>&1 && echo environ-read; kill -0 ${pid} 2>/dev/null && echo signalled; kill -USR1 ${pid} 2>/dev/null && echo usr1; echo done`,
    });
    assert.equal(reach.data.stdout, 'done\n', 'the command reached the daemon');
    // The daemon still stops what the command leaves behind.
    const bg = await d.ask('exec.run', { session_id: sid, command: 'sleep 300 & echo $!' });
    const sleeper = Number(bg.data.stdout.trim());
    assert.ok(isAlive(sleeper));
    const destroyed = await d.ask('session.destroy', { session_id: sid });
    assert.equal(destroyed.ok, true, JSON.stringify(destroyed));
    assert.ok(await waitFor(() => !isAlive(sleeper), 5000), 'the background process outlived the destroy');
  } finally {
    await d.close();
  }
});

test('TRL_COMMAND_USER with the native spawner: no_new_privs is set', { skip: (!asRoot && 'needs root') || (process.env.TRL_SPAWNER === 'child_process' && 'native only') }, async () => {
  const d = rootDaemon({ TRL_COMMAND_USER: daemonIdentity().user! });
  try {
    const s = await d.ask('session.create', { working_dir: d.dir });
    const r = await d.ask('exec.run', { session_id: s.data.session_id, command: 'grep NoNewPrivs /proc/self/status' });
    assert.match(r.data.stdout, /NoNewPrivs:\s+1/);
  } finally {
    await d.close();
  }
});

test('TRL_COMMAND_USER naming no user, root, or the daemon\'s own user: the daemon refuses to start and says why', { skip: !asRoot && 'needs root' }, async () => {
  for (const [name, why] of [
    ['no-such-user-trl', /no such user/],
    ['root', /root/],
  ] as const) {
    const d = rootDaemon({ TRL_COMMAND_USER: name });
    const code = await new Promise((r) => d.child.once('exit', r));
    assert.equal(code, 2);
    assert.match(d.stderr(), why);
    await d.close();
  }
});
