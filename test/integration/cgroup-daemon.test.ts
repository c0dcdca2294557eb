import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { daemonIdentity } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';
import { intoCgroupAs, removeCgroupTree } from '../helpers/cgroup';

/*
 * The whole daemon in cgroup mode: as root, a cgroup v2 subtree is delegated
 * to the test user the way systemd's Delegate=yes does, trld is started inside
 * it, and a command's escapee that double-forks *and* clears its environment —
 * which the process-group fallback cannot find — must still die with the
 * command.
 */

const IS_ROOT = process.getuid?.() === 0;

function cgroup2Root(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ') && pre!.split(' ')[3] === '/') return pre!.split(' ')[4]!;
  }
  return null;
}

const root = IS_ROOT ? cgroup2Root() : null;
const skip = !IS_ROOT ? 'needs root to delegate a cgroup' : root === null ? 'no cgroup2 mount' : false;
let dir = '';
let daemon: TestDaemon | null = null;

after(async () => {
  await daemon?.dispose();
  if (dir) await removeCgroupTree(dir);
});

test('in a delegated cgroup, a timeout kills an escapee that double-forked and cleared its environment', { skip }, async () => {
  dir = join(root!, `trl-test-${randomUUID().slice(0, 8)}`);
  mkdirSync(dir);
  const id = daemonIdentity();
  for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(dir, f), id.uid, id.gid);
  // Root puts the daemon's process into the cgroup, then drops to the test user.
  const user = id.user ?? String(id.uid);
  daemon = await TestDaemon.start({
    prefix: intoCgroupAs(dir, user),
    asSelf: true,
    dirOwner: 'daemon',
    env: { TRL_KILL_GRACE_MS: '500' },
  });
  const client = await daemon.connect();
  const stats = await client.request<{ containment: string }>('system.stats');
  assert.match(stats.containment, /^cgroup/);

  const { session_id } = await client.request<{ session_id: string }>('session.create', {});
  const mark = `CGMARK_${randomUUID().replace(/-/g, '')}`;
  const r = await client.request<{ timed_out: boolean; killed_by: string; stdout: string; cpu_time_ms: number | null }>('exec.run', {
    session_id,
    timeout_s: 1,
    command: `grep '^0::' /proc/self/cgroup; setsid sh -c "exec env -i ${mark}=1 /bin/sleep 300 &"; sleep 0.2; sleep 60`,
  });
  assert.equal(r.timed_out, true);
  assert.equal(r.killed_by, 'timeout');
  assert.match(r.stdout, new RegExp(`^0::.*/sessions/${session_id}/`), 'the command ran in its session\'s cgroup');
  assert.equal(typeof r.cpu_time_ms, 'number', 'the kernel\'s CPU time is reported');
  assert.ok(await waitFor(() => livePidsWithEnv(`${mark}=1`).length === 0, 3000), 'the escapee outside the process tree and without markers survived');

  await client.request('session.destroy', { session_id });
  assert.equal(existsSync(join(dir, 'sessions', session_id)), false, 'the session cgroup is removed');
  client.close();
});

test('the command\'s first process starts in its leaf: the shell is there before it runs a line (native: no entry line at all)', { skip }, async () => {
  assert.ok(daemon, 'the daemon of the first test');
  const client = await daemon.connect();
  const { session_id } = await client.request<{ session_id: string }>('session.create', {});
  const r = await client.request<{ stdout: string; exit_code: number }>('exec.run', {
    session_id,
    command: `grep '^0::' /proc/$$/cgroup; echo "$TRL_EXEC_ID"; tr '\\0' ' ' < /proc/$$/cmdline`,
  });
  const [cgroupLine, execId, cmdline] = r.stdout.split('\n');
  assert.equal(r.exit_code, 0);
  assert.match(cgroupLine!, new RegExp(`^0::.*/sessions/${session_id}/${execId}$`), 'the shell is in the command\'s own leaf');
  if ((process.env.TRL_SPAWNER ?? 'native') === 'native') {
    assert.doesNotMatch(cmdline!, /cgroup\.procs/, 'the native child is started in the leaf (clone3 CLONE_INTO_CGROUP): its shell writes no cgroup.procs');
  } else {
    assert.match(cmdline!, /cgroup\.procs/, 'child_process: the shell moves itself');
  }
  await client.request('session.destroy', { session_id });
  client.close();
});

test('a session cgroup removed under the daemon: the next command runs held by its process group; no fd or zombie left', { skip }, async () => {
  assert.ok(daemon, 'the daemon of the first test');
  const client = await daemon.connect();
  const { session_id } = await client.request<{ session_id: string }>('session.create', {});
  const first = await client.request<{ stdout: string }>('exec.run', { session_id, command: 'echo first' });
  assert.equal(first.stdout, 'first\n');
  const fds = (await client.request<{ open_fds: number }>('system.stats')).open_fds;
  await removeCgroupTree(join(dir, 'sessions', session_id));
  assert.equal(existsSync(join(dir, 'sessions', session_id)), false);
  for (let i = 0; i < 3; i++) {
    const r = await client.request<{ stdout: string; exit_code: number }>('exec.run', { session_id, command: `grep -c '/sessions/${session_id}' /proc/$$/cgroup; echo ran` });
    assert.equal(r.stdout, '0\nran\n', 'ran, outside any session cgroup');
  }
  assert.ok((await client.request<{ open_fds: number }>('system.stats')).open_fds <= fds + 1, 'no fd left behind');
  const zombies = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    const stat = readText(`/proc/${p}/stat`);
    return stat !== null && / Z \d+ /.test(stat) && Number(stat.split(') ')[1]!.split(' ')[1]) === daemon!.pid;
  });
  assert.deepEqual(zombies, [], 'no zombie child of the daemon');
  await client.request('session.destroy', { session_id });
  client.close();
});

function readText(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}
