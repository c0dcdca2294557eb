import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon, runDaemonToExit, sleep, waitFor } from '../helpers/daemon';
import { daemonIdentity } from '../helpers/launch';
import { livePidsWithEnv } from '../helpers/proc';

/*
 * The daemon trusts only paths its own user controls, and its restart sweep
 * finds what it promises: a real trld (as the unprivileged test user).
 */

test('a runtime directory made by another user stops start-up with a message naming it and what to do', async () => {
  const parent = mkdtempSync('/tmp/trl-hijack-');
  const dir = join(parent, 'run');
  try {
    chmodSync(parent, 0o755);
    mkdirSync(dir, { mode: 0o700 });
    // "Another user": neither root nor the daemon's user.
    chownSync(dir, 65534, 65534);
    const exit = await runDaemonToExit({ env: { TRL_RUNTIME_DIR: dir } });
    assert.equal(exit.code, 1);
    assert.match(exit.stderr, new RegExp(`runtime directory ${dir} is owned by uid 65534, not by the daemon's user`));
    assert.match(exit.stderr, /TRL_RUNTIME_DIR/);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a malformed ledger entry never stops start-up', async () => {
  const id = daemonIdentity();
  const parent = mkdtempSync('/tmp/trl-ledger-');
  chownSync(parent, id.uid, id.gid);
  const dir = join(parent, 'run');
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, id.uid, id.gid);
  const file = join(dir, 'orphans.json');
  writeFileSync(file, JSON.stringify({ v: 1, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim(), owner: { pid: 4_000_001, startTime: '1' }, entries: [{ pgid: 4_000_002, pid: 4_000_002, startTime: 'x', sessionId: 's' }] }), { mode: 0o600 });
  chownSync(file, id.uid, id.gid);
  const d = await TestDaemon.start({ env: { TRL_RUNTIME_DIR: dir } });
  try {
    const c = await d.connect();
    assert.equal((await c.request<{ ok?: boolean; version?: string }>('system.ping', {})) !== null, true);
    c.close();
  } finally {
    await d.dispose();
    rmSync(parent, { recursive: true, force: true });
  }
});

test('after trld is SIGKILLed, the restart sweep kills what an already finished command daemonized', async () => {
  const mark = `TRL_TEST_MARK=${randomUUID()}`;
  const first = await TestDaemon.start();
  let second: TestDaemon | null = null;
  try {
    const c = await first.connect();
    const sid = (await c.request<{ session_id: string }>('session.create', { working_dir: '/tmp' })).session_id;
    const [k, v] = mark.split('=') as [string, string];
    // setsid + double fork (the subshell exits at once), markers intact; the command itself ends at once.
    const r = await c.request<{ exit_code: number }>('exec.run', {
      session_id: sid,
      command: `(setsid sh -c 'exec sleep 600' </dev/null >/dev/null 2>&1 &)`,
      env: { [k]: v },
    });
    assert.equal(r.exit_code, 0);
    assert.ok(await waitFor(() => livePidsWithEnv(mark).length === 1), 'the daemonized sleep runs');
    await sleep(300); // the command's group is gone and forgotten; the ledger written
    c.close();
    await first.stop('SIGKILL');
    second = await TestDaemon.start({ env: { TRL_RUNTIME_DIR: join(first.dir, 'run') } });
    assert.ok(await waitFor(() => livePidsWithEnv(mark).length === 0, 5000), `survivors after the restart: ${livePidsWithEnv(mark)}`);
  } finally {
    for (const pid of livePidsWithEnv(mark)) process.kill(pid, 'SIGKILL');
    await second?.dispose();
    await first.dispose();
  }
});
