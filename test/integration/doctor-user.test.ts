import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TestDaemon } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';

const REPO = resolve(__dirname, '../../..');
const DOCTOR = join(REPO, 'dist/src/doctor/main.js');

let daemon: TestDaemon;
let base: string;

/**
 * A user instance as the package ships it, owned by the daemon's user: the
 * user units (ExecStart pointed at a private copy of the runtime, the socket
 * at %t/trl.sock, so $XDG_RUNTIME_DIR is the running test daemon's directory)
 * and $XDG_CONFIG_HOME/trl/.
 */
before(async () => {
  daemon = await TestDaemon.start();
  base = makePrivateDir('trl-doctor-user-');
  const id = daemonIdentity();
  mkdirSync(join(base, 'lib'), { mode: 0o755 });
  writeFileSync(join(base, 'lib', 'trld.js'), `#!${process.execPath}\n`, { mode: 0o755 });
  const unit = readFileSync(join(REPO, 'systemd/user/trl.service'), 'utf8').replace(/^ExecStart=.*$/m, `ExecStart=${join(base, 'lib', 'trld.js')}`);
  writeFileSync(join(base, 'trl.service'), unit);
  writeFileSync(join(base, 'trl.socket'), readFileSync(join(REPO, 'systemd/user/trl.socket'), 'utf8').replace(/^ListenStream=.*$/m, 'ListenStream=%t/trl.sock'));
  mkdirSync(join(base, 'config', 'trl'), { recursive: true, mode: 0o700 });
  for (const p of ['lib', 'lib/trld.js', 'trl.service', 'trl.socket', 'config', 'config/trl']) chownSync(join(base, p), id.uid, id.gid);
});
after(async () => {
  await daemon.dispose();
  rmSync(base, { recursive: true, force: true });
});

interface Check {
  id: string;
  status: 'pass' | 'fail' | 'n/a';
  detail: string;
  fix?: string;
}

/** `trl doctor --user --json` as the daemon's user (or as `uid`), in that user's environment. */
function doctorUser(uid = daemonIdentity().uid) {
  const id = daemonIdentity();
  const args = [DOCTOR, '--user', '--json', '--unit', join(base, 'trl.service'), '--socket-unit', join(base, 'trl.socket')];
  const env = { PATH: '/usr/bin:/bin', HOME: base, XDG_RUNTIME_DIR: daemon.dir, XDG_CONFIG_HOME: join(base, 'config') };
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, timeout: 30_000, ...(uid === id.uid ? { uid: id.uid, gid: id.gid } : {}) });
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  return { code: r.status, by: Object.fromEntries(report.checks.map((c) => [c.id, c])) as Record<string, Check> };
}

test('doctor --user: the shipped user units, the socket in $XDG_RUNTIME_DIR and the running daemon pass; no env file is fine', () => {
  const r = doctorUser();
  for (const id of ['user_non_root', 'user_socket', 'user_unit_hardening', 'unit_notify_access', 'unit_umask', 'runtime_files', 'daemon']) {
    assert.equal(r.by[id]!.status, 'pass', `${id}: ${r.by[id]!.detail} ${r.by[id]!.fix ?? ''}`);
  }
  assert.match(r.by.user_socket!.detail, new RegExp(`${daemon.dir}/trl.sock`), '%t in ListenStream= is $XDG_RUNTIME_DIR');
  assert.equal(r.by.env_file!.status, 'n/a');
  assert.match(r.by.env_file!.detail, /config\/trl\/trl\.env/, 'the env file is looked for under $XDG_CONFIG_HOME (%E)');
  assert.notEqual(r.by.user_unit!.status, 'fail', r.by.user_unit!.detail);
});

test('doctor --user: an env file others can read fails, with the chmod; at 0600 its settings are read', () => {
  const file = join(base, 'config', 'trl', 'trl.env');
  const id = daemonIdentity();
  writeFileSync(file, 'TRL_MAX_SESSIONS=7\n');
  chownSync(file, id.uid, id.gid);
  try {
    chmodSync(file, 0o644);
    const bad = doctorUser();
    assert.equal(bad.by.env_file!.status, 'fail');
    assert.match(bad.by.env_file!.fix!, /chmod 600 .*trl\.env/);
    assert.equal(bad.code, 1);
    chmodSync(file, 0o600);
    const good = doctorUser();
    assert.equal(good.by.env_file!.status, 'pass', good.by.env_file!.detail);
    assert.match(good.by.max_sessions!.detail, /TRL_MAX_SESSIONS=7/);
  } finally {
    rmSync(file, { force: true });
  }
});

test('doctor --user as root fails: a user instance of root would run every command as root', { skip: process.getuid!() !== 0 }, () => {
  const r = doctorUser(0);
  assert.equal(r.by.user_non_root!.status, 'fail');
  assert.equal(r.code, 1);
});

test('--user NAME (and --runtime-user NAME) still name the system instance runtime user; --user alone is the user instance', () => {
  const id = daemonIdentity();
  const name = id.user ?? 'root';
  for (const flag of [['--user', name], [`--user=${name}`], ['--runtime-user', name]]) {
    const r = spawnSync(process.execPath, [DOCTOR, '--json', ...flag, '--unit', 'none', '--trl-env', 'none', '--socket', 'none'], { encoding: 'utf8', timeout: 30_000 });
    const ids = (JSON.parse(r.stdout) as { checks: Check[] }).checks.map((c) => c.id);
    assert.ok(ids.includes('non_root') && !ids.includes('user_socket'), `${flag.join(' ')}: the system checklist`);
    const nonRoot = (JSON.parse(r.stdout) as { checks: Check[] }).checks.find((c) => c.id === 'non_root')!;
    assert.match(nonRoot.detail, /--user/, `${flag.join(' ')}: the runtime user came from the flag`);
  }
  const r = spawnSync(process.execPath, [DOCTOR, '--user', '--json', '--socket', 'none'], { encoding: 'utf8', timeout: 30_000 });
  assert.ok((JSON.parse(r.stdout) as { checks: Check[] }).checks.some((c) => c.id === 'user_socket'));
});
