import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';
import { expectError, newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';
import { listPids, readProcState } from '../../src/system/proc';

let daemon: TestDaemon;
let c: TrlClient;
let scratch: string;

before(async () => {
  daemon = await TestDaemon.start();
  c = await daemon.connect();
  scratch = makePrivateDir('trl-spawn-faults-');
});
after(async () => {
  c.close();
  await daemon.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

const openFds = async () => (await c.request<any>('system.stats')).open_fds as number;

/** The daemon's children that have exited and were never reaped. */
function zombiesOf(pid: number): number[] {
  return listPids().filter((p) => {
    const st = readProcState(p);
    return st?.state === 'Z' && st.ppid === pid;
  });
}

/** prlimit on the daemon as its own user: root here lacks CAP_SYS_RESOURCE, and only the same uid may change another process's limits. */
function setNofile(pid: number, value: string): void {
  const id = daemonIdentity();
  const argv = ['prlimit', '--pid', String(pid), `--nofile=${value}`];
  const r = id.user ? spawnSync('runuser', ['-u', id.user, '--', ...argv], { encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
}

function ownedByDaemon(path: string): void {
  const id = daemonIdentity();
  chownSync(path, id.uid, id.gid);
}

test('a shell that stops being executable, a working directory removed, fds exhausted: each the named error, then the session works again; no fd or zombie left', async () => {
  // A copy of dash named sh: a POSIX shell, started directly (no /bin/sh in front).
  const shell = join(scratch, 'sh');
  copyFileSync(realpathSync('/bin/sh'), shell);
  chmodSync(shell, 0o755);
  ownedByDaemon(shell);
  const dir = join(scratch, 'work');
  mkdirSync(dir, { mode: 0o755 });
  ownedByDaemon(dir);
  const sid = await newSession(c, { shell, working_dir: dir });
  assert.equal((await run(c, sid, 'echo first')).stdout, 'first\n');
  const baseline = await openFds();

  chmodSync(shell, 0o644);
  await expectError(c.request('exec.run', { session_id: sid, command: 'true' }), 'COMMAND_FAILED', /EACCES/);
  chmodSync(shell, 0o755);
  assert.equal((await run(c, sid, 'echo back')).stdout, 'back\n');

  const other = await newSession(c, { working_dir: dir });
  rmSync(dir, { recursive: true });
  await expectError(c.request('exec.run', { session_id: other, command: 'true' }), 'COMMAND_FAILED', /working directory .* no longer exists/);
  mkdirSync(dir, { mode: 0o755 });
  ownedByDaemon(dir);

  // Room for a few fds beyond what the daemon holds: fewer than one spawn needs.
  const [soft, hard] = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${daemon.pid}/limits`, 'utf8'))!.slice(1);
  setNofile(daemon.pid, `${baseline + 4}:${hard}`);
  try {
    await expectError(c.request('exec.run', { session_id: sid, command: 'true' }), 'RESOURCE_PRESSURE', /EMFILE/);
  } finally {
    setNofile(daemon.pid, `${soft}:${hard}`);
  }
  assert.equal((await run(c, sid, 'echo again')).stdout, 'again\n');

  assert.ok((await openFds()) <= baseline + 1, `fds after the faults: ${await openFds()}, before: ${baseline}`);
  assert.deepEqual(zombiesOf(daemon.pid), []);
});

test('32 commands at once, half of them failing before exec (their shell not executable): each gets its own answer, the rest run; no fd or zombie left', async () => {
  // Named sh, so it is known as a POSIX shell and started directly by either spawner.
  mkdirSync(join(scratch, 'at-once'));
  const shell = join(scratch, 'at-once', 'sh');
  copyFileSync(realpathSync('/bin/sh'), shell);
  chmodSync(shell, 0o755);
  ownedByDaemon(shell);
  const failing = await Promise.all(Array.from({ length: 16 }, () => newSession(c, { shell })));
  const running = await Promise.all(Array.from({ length: 16 }, () => newSession(c)));
  const baseline = await openFds();
  chmodSync(shell, 0o644);

  const answers = await Promise.allSettled(
    running.flatMap((sid, i) => [
      c.request<{ stdout: string; exit_code: number }>('exec.run', { session_id: failing[i], command: 'true' }),
      c.request<{ stdout: string; exit_code: number }>('exec.run', { session_id: sid, command: `echo ${i}` }),
    ]),
  );
  answers.forEach((a, k) => {
    const i = k >> 1;
    if (k % 2 === 0) {
      assert.equal(a.status, 'rejected', `command ${k} of a shell that is not executable ran: ${JSON.stringify((a as PromiseFulfilledResult<unknown>).value)}`);
      assert.match(String((a as PromiseRejectedResult).reason), /EACCES/);
    } else {
      assert.equal(a.status, 'fulfilled', `command ${k}: ${String((a as PromiseRejectedResult).reason)}`);
      assert.equal((a as PromiseFulfilledResult<{ stdout: string }>).value.stdout, `${i}\n`);
    }
  });
  chmodSync(shell, 0o755);
  assert.equal((await run(c, failing[0]!, 'echo back')).stdout, 'back\n');
  assert.ok((await openFds()) <= baseline + 1, `fds after: ${await openFds()}, before: ${baseline}`);
  assert.deepEqual(zombiesOf(daemon.pid), []);
  await Promise.all([...failing, ...running].map((sid) => c.request('session.destroy', { session_id: sid })));
});

test('system.stats names the spawner in use (TRL_SPAWNER, native by default)', async () => {
  const stats = await c.request<{ spawner: string }>('system.stats');
  assert.equal(stats.spawner, process.env.TRL_SPAWNER ?? 'native');
});
