import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TestDaemon } from '../helpers/daemon';
import { daemonIdentity, makePrivateDir } from '../helpers/launch';

const REPO = resolve(__dirname, '../../..');
const DOCTOR = join(REPO, 'dist/src/doctor/main.js');
const USER = daemonIdentity().user ?? userInfo().username;

let daemon: TestDaemon;
let base: string;
const dirs: string[] = [];

before(async () => {
  daemon = await TestDaemon.start();
  base = makePrivateDir('trl-doctor-');
  dirs.push(base);
});
after(async () => {
  await daemon.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Install {
  dir: string;
  unit: string;
  socketUnit: string;
  envFile: string;
  lib: string;
}

/**
 * A host as the package installs it, in a private directory: the shipped
 * trl.service and trl.socket (paths and user adapted), an env file 0600, the
 * runtime's files, and the running test daemon's socket.
 */
function install(name: string, opts: { env?: string; unitEdit?: (u: string) => string } = {}): Install {
  const dir = join(base, name);
  mkdirSync(join(dir, 'lib'), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const trld = join(dir, 'lib', 'trld.js');
  writeFileSync(trld, `#!${process.execPath}\nrequire('./main.js');\n`, { mode: 0o755 });
  const lib = join(dir, 'lib', 'main.js');
  writeFileSync(lib, '// the bundle\n', { mode: 0o644 });
  const envFile = join(dir, 'trl.env');
  writeFileSync(envFile, opts.env ?? 'TRL_MAX_SESSIONS=32\nGIT_TERMINAL_PROMPT=0\n', { mode: 0o600 });
  chmodSync(envFile, 0o600);
  let unit = readFileSync(join(REPO, 'systemd/trl.service'), 'utf8')
    .replace(/^ExecStart=.*$/m, `ExecStart=${trld}`)
    .replace(/^User=.*$/m, `User=${USER}`)
    .replace(/^Group=.*$/m, `Group=${USER}`)
    .replace(/^EnvironmentFile=.*$/m, `EnvironmentFile=-${envFile}`);
  if (opts.unitEdit) unit = opts.unitEdit(unit);
  writeFileSync(join(dir, 'trl.service'), unit);
  const socketUnit = readFileSync(join(REPO, 'systemd/trl.socket'), 'utf8')
    .replace(/^ListenStream=.*$/m, `ListenStream=${daemon.socketPath}`)
    .replace(/^SocketUser=.*$/m, `SocketUser=${USER}`)
    .replace(/^SocketGroup=.*$/m, `SocketGroup=${USER}`);
  writeFileSync(join(dir, 'trl.socket'), socketUnit);
  return { dir, unit: join(dir, 'trl.service'), socketUnit: join(dir, 'trl.socket'), envFile, lib };
}

interface Check {
  id: string;
  status: 'pass' | 'fail' | 'n/a';
  title: string;
  detail: string;
  fix?: string;
}
function doctor(inst: Install | null, extra: string[] = []) {
  const args = inst ? ['--unit', inst.unit, ...extra] : extra;
  const r = spawnSync(process.execPath, [DOCTOR, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function doctorJson(inst: Install | null, extra: string[] = []) {
  const r = doctor(inst, ['--json', ...extra]);
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: Check[]; summary: Record<string, number> };
  const by = Object.fromEntries(report.checks.map((c) => [c.id, c])) as Record<string, Check>;
  return { code: r.code, report, by };
}

test('a correct install passes every check: exit 0, each line PASS (or N/A for HTTP, which is off)', () => {
  const inst = install('good');
  const r = doctor(inst);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const line of ['runtime runs as a non-root user', 'env file is mode 0600', 'Unix socket is mode 0600', 'logging cannot carry env values', 'max session limit is configured', 'default command timeout is set', 'not world-writable', 'NotifyAccess=main', 'UMask=0077', 'hardening', 'the daemon answers on the socket']) {
    assert.match(r.stdout, new RegExp(`^PASS  .*${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'), line);
  }
  assert.match(r.stdout, /^N\/A   TRL_AUTH_TOKEN is set if HTTP is enabled: HTTP is off/m);
  assert.match(r.stdout, /TRL_MAX_SESSIONS=32/, 'the settings were read from the env file the unit names');
  assert.match(r.stdout, /No check failed/);
  const j = doctorJson(inst);
  assert.equal(j.code, 0);
  assert.equal(j.report.ok, true);
  assert.equal(j.report.summary.fail, 0);
  assert.equal(j.by.daemon!.status, 'pass', 'system.stats was read from the running daemon');
  assert.match(j.by.non_root!.detail, new RegExp(USER));
});

test('a world-readable env file fails, with the chmod that fixes it', () => {
  const inst = install('readable-env');
  chmodSync(inst.envFile, 0o644);
  const r = doctor(inst);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`^FAIL  env file is mode 0600.*${inst.envFile}.*mode 0644`, 'm'));
  assert.match(r.stdout, new RegExp(`fix: chmod 600 ${inst.envFile}`));
  const j = doctorJson(inst);
  assert.equal(j.report.ok, false);
  assert.equal(j.by.env_file!.status, 'fail');
  assert.equal(j.by.env_file!.fix, `chmod 600 ${inst.envFile}`);
  assert.equal(j.by.socket!.status, 'pass', 'only the broken thing fails');
});

test('HTTP enabled without a token fails; with a short one fails; with a good one passes, and the token is never printed', () => {
  const noToken = doctorJson(install('http-none', { env: 'TRL_HTTP_LISTEN=127.0.0.1:8787\n' }));
  assert.equal(noToken.code, 1);
  assert.equal(noToken.by.http_token!.status, 'fail');
  assert.match(noToken.by.http_token!.detail, /TRL_AUTH_TOKEN is not set/);
  assert.match(noToken.by.http_token!.fix!, /openssl rand -hex 32/);

  const short = 'short-' + randomBytes(4).toString('hex');
  const shortRun = doctor(install('http-short', { env: `TRL_HTTP_LISTEN=127.0.0.1:8787\nTRL_AUTH_TOKEN=${short}\n` }));
  assert.equal(shortRun.code, 1);
  assert.match(shortRun.stdout, /^FAIL  TRL_AUTH_TOKEN is set if HTTP is enabled: .*too short/m);
  assert.ok(!shortRun.stdout.includes(short), 'the token is not printed');

  const good = 'good-token-' + randomBytes(20).toString('hex');
  const inst = install('http-good', { env: `TRL_HTTP_LISTEN=127.0.0.1:8787\nTRL_AUTH_TOKEN=${good}\n` });
  const text = doctor(inst);
  const j = doctorJson(inst);
  assert.equal(j.by.http_token!.status, 'pass');
  assert.equal(j.code, 0);
  assert.ok(!text.stdout.includes(good) && !JSON.stringify(j.report).includes(good), 'the token is not printed');
});

test('the token in the unit\'s Environment= fails (systemctl show prints it to any user)', () => {
  const token = randomBytes(24).toString('hex');
  const j = doctorJson(install('token-in-unit', { env: 'TRL_HTTP_LISTEN=127.0.0.1:8787\n', unitEdit: (u) => u + `Environment=TRL_AUTH_TOKEN=${token}\n` }));
  assert.equal(j.by.http_token!.status, 'fail');
  assert.match(j.by.http_token!.detail, /systemctl show/);
  assert.ok(!JSON.stringify(j.report).includes(token));
});

test('an EnvironmentFile= owned by the runtime user fails (every command could read it); a unit without LimitCORE=0 fails hardening', () => {
  const inst = install('env-owned-by-runtime-user', { unitEdit: (u) => u.replace(/^LimitCORE=.*$/m, '') });
  const id = daemonIdentity();
  if (id.user === null) return; // not root: the file cannot be given to another user
  chownSync(inst.envFile, id.uid, id.gid);
  const j = doctorJson(inst);
  assert.equal(j.by.env_file!.status, 'fail');
  assert.match(j.by.env_file!.detail, /not root: systemd reads EnvironmentFile= as root.*every command/);
  assert.equal(j.by.env_file!.fix, `chown root:root ${inst.envFile}`);
  assert.equal(j.by.unit_hardening!.status, 'fail');
  assert.match(j.by.unit_hardening!.detail, /LimitCORE=0/);
});

test('the shipped unit\'s EnvironmentFile= (root-owned) passes, and says commands cannot open it', () => {
  const j = doctorJson(install('env-root'));
  assert.equal(j.by.env_file!.status, 'pass');
  assert.match(j.by.env_file!.detail, /EnvironmentFile= of .*commands cannot open it/);
});

test('a world-writable runtime file fails, naming it', () => {
  const inst = install('writable-lib');
  chmodSync(inst.lib, 0o666);
  const r = doctor(inst);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`^FAIL  runtime binary, bundle and libraries are not world-writable: world-writable: ${inst.lib} \\(0666\\)`, 'm'));
  assert.match(r.stdout, /fix: chmod o-w/);
  // a world-writable directory holding them fails too
  const inst2 = install('writable-dir');
  chmodSync(join(inst2.dir, 'lib'), 0o777);
  const j = doctorJson(inst2);
  assert.equal(j.by.runtime_files!.status, 'fail');
  assert.match(j.by.runtime_files!.detail, new RegExp(`${join(inst2.dir, 'lib')} \\(0777\\)`));
});

test('a unit without NotifyAccess=main, UMask, hardening, running as root: each its own FAIL line', () => {
  const j = doctorJson(
    install('weak-unit', {
      unitEdit: (u) =>
        u
          .replace(/^NotifyAccess=.*$/m, 'NotifyAccess=all')
          .replace(/^UMask=.*$/m, '')
          .replace(/^NoNewPrivileges=.*$/m, '')
          .replace(/^User=.*$/m, 'User=root'),
    }),
  );
  assert.equal(j.code, 1);
  assert.equal(j.by.unit_notify_access!.status, 'fail');
  assert.match(j.by.unit_notify_access!.fix!, /NotifyAccess=main/);
  assert.equal(j.by.unit_umask!.status, 'fail');
  assert.match(j.by.unit_umask!.detail, /0022/);
  assert.equal(j.by.unit_hardening!.status, 'fail');
  assert.match(j.by.unit_hardening!.detail, /NoNewPrivileges=yes/);
  assert.equal(j.by.non_root!.status, 'fail');
  assert.match(j.by.non_root!.fix!, /User=trl/);
});

test('a drop-in overrides the unit, as systemd would apply it', () => {
  const inst = install('drop-in');
  mkdirSync(`${inst.unit}.d`);
  writeFileSync(join(`${inst.unit}.d`, 'override.conf'), '[Service]\nUMask=0022\n');
  const j = doctorJson(inst);
  assert.equal(j.by.unit_umask!.status, 'fail');
});

test('no default timeout, NODE_DEBUG=child_process in the daemon\'s environment: FAIL', () => {
  const j = doctorJson(
    install('no-timeout', { env: 'TRL_DEFAULT_TIMEOUT_S=0\n', unitEdit: (u) => u + 'Environment=NODE_DEBUG=child_process\n' }),
  );
  assert.equal(j.by.default_timeout!.status, 'fail');
  assert.match(j.by.default_timeout!.fix!, /TRL_DEFAULT_TIMEOUT_S/);
  assert.equal(j.by.logging!.status, 'fail');
  assert.match(j.by.logging!.detail, /NODE_DEBUG/);
  const bad = doctorJson(install('bad-setting', { env: 'TRL_MAX_SESSIONS=lots\n' }));
  assert.equal(bad.by.max_sessions!.status, 'fail');
  assert.match(bad.by.max_sessions!.detail, /TRL_MAX_SESSIONS/);
});

test('without systemd: the unit checks are N/A, the rest read from the flags', () => {
  const inst = install('no-systemd');
  const j = doctorJson(null, ['--unit', 'none', '--trl-env', inst.envFile, '--socket', daemon.socketPath, '--runtime-path', join(inst.dir, 'lib')]);
  for (const id of ['unit_notify_access', 'unit_umask', 'unit_hardening']) assert.equal(j.by[id]!.status, 'n/a', id);
  assert.equal(j.by.non_root!.status, 'pass');
  assert.match(j.by.non_root!.detail, /the running daemon \(pid \d+\)/, 'the uid of the process serving the socket');
  assert.equal(j.by.daemon!.status, 'pass');
  assert.equal(j.code, 0);
});

test('a socket other users can connect to fails (the socket file and the socket unit)', () => {
  const inst = install('open-socket', {});
  writeFileSync(inst.socketUnit, readFileSync(inst.socketUnit, 'utf8').replace(/^SocketMode=.*$/m, ''));
  const j = doctorJson(inst);
  assert.equal(j.by.socket!.status, 'fail');
  assert.match(j.by.socket!.detail, /no SocketMode= \(systemd then uses 0666\)/);
  chmodSync(daemon.socketPath, 0o666);
  try {
    const j2 = doctorJson(install('open-socket-2'));
    assert.equal(j2.by.socket!.status, 'fail');
    assert.match(j2.by.socket!.detail, /mode 0666/);
    assert.equal(j2.code, 1);
  } finally {
    chmodSync(daemon.socketPath, 0o600);
  }
});

test('usage errors exit 2', () => {
  const r = doctor(null, ['--bogus']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Usage: trl doctor/);
});
