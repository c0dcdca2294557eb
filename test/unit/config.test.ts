import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load';

const uid = process.getuid!();
const dir = mkdtempSync(join(tmpdir(), 'trl-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function envFile(content: string, mode = 0o600): string {
  const p = join(dir, `env${n++}`);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('defaults when nothing is set', () => {
  const { config, envFileVars, unknownKeys } = loadConfig([], {}, uid);
  assert.equal(config.socket_path, '/tmp/trl.sock');
  assert.equal(config.max_sessions, 64);
  assert.equal(config.default_timeout_s, 300);
  assert.equal(config.kill_grace_ms, 5000);
  assert.equal(config.max_output_bytes, 4 * 1024 * 1024);
  assert.equal(config.allow_root, false);
  assert.deepEqual(envFileVars, {});
  assert.deepEqual(unknownKeys, []);
});

test('precedence: defaults < env file < TRL_* environment < flags', () => {
  const file = envFile('TRL_MAX_SESSIONS=3\nTRL_DEFAULT_TIMEOUT_S=7\nTRL_KILL_GRACE_MS=11\n');
  const { config } = loadConfig(
    ['--max-sessions', '5'],
    { TRL_ENV_FILE: file, TRL_MAX_SESSIONS: '4', TRL_DEFAULT_TIMEOUT_S: '8' },
    uid,
  );
  assert.equal(config.max_sessions, 5, 'flag beats environment');
  assert.equal(config.default_timeout_s, 8, 'environment beats env file');
  assert.equal(config.kill_grace_ms, 11, 'env file beats default');
  assert.equal(config.max_idle_sec, 1800, 'default where nothing is set');
});

test('--trl-env-file flag names the env file too (Node 20 takes --env-file for itself)', () => {
  const file = envFile('TRL_MAX_SESSIONS=9\n');
  assert.equal(loadConfig(['--trl-env-file', file], {}, uid).config.max_sessions, 9);
});

test('compatible names: TRL_SOCKET_PATH and --socket-path', () => {
  assert.equal(loadConfig([], { TRL_SOCKET_PATH: '/tmp/a.sock' }, uid).config.socket_path, '/tmp/a.sock');
  assert.equal(loadConfig(['--socket-path', '/tmp/b.sock'], { TRL_SOCKET_PATH: '/tmp/a.sock' }, uid).config.socket_path, '/tmp/b.sock');
});

test('an empty TRL_* variable counts as unset', () => {
  assert.equal(loadConfig([], { TRL_MAX_SESSIONS: '' }, uid).config.max_sessions, 64);
});

test('booleans: TRL_ALLOW_ROOT=1/true/0 and --allow-root', () => {
  assert.equal(loadConfig([], { TRL_ALLOW_ROOT: '1' }, uid).config.allow_root, true);
  assert.equal(loadConfig([], { TRL_ALLOW_ROOT: 'true' }, uid).config.allow_root, true);
  assert.equal(loadConfig([], { TRL_ALLOW_ROOT: '0' }, uid).config.allow_root, false);
  assert.equal(loadConfig(['--allow-root'], {}, uid).config.allow_root, true);
});

test('invalid values name the key (environment name and flag)', () => {
  const cases: [Record<string, string>, string[], string][] = [
    [{ TRL_MAX_SESSIONS: 'abc' }, [], 'TRL_MAX_SESSIONS'],
    [{ TRL_MAX_SESSIONS: '0' }, [], 'TRL_MAX_SESSIONS'],
    [{ TRL_MAX_SESSIONS: '2.5' }, [], 'TRL_MAX_SESSIONS'],
    [{ TRL_DEFAULT_TIMEOUT_S: '-1' }, [], 'TRL_DEFAULT_TIMEOUT_S'],
    [{ TRL_MAX_OUTPUT_BYTES: '10' }, [], 'TRL_MAX_OUTPUT_BYTES'],
    [{ TRL_LOG_LEVEL: 'loud' }, [], 'TRL_LOG_LEVEL'],
    [{ TRL_ALLOW_ROOT: 'maybe' }, [], 'TRL_ALLOW_ROOT'],
    [{}, ['--max-idle-sec', 'soon'], 'max-idle-sec'],
  ];
  for (const [env, argv, key] of cases) {
    const msg = configError(() => loadConfig(argv, env, uid));
    assert.ok(msg.includes(key), `${JSON.stringify(env)} ${argv.join(' ')}: ${msg}`);
  }
});

test('an invalid value in the env file names the key', () => {
  const file = envFile('TRL_MAX_SESSIONS=lots\n');
  assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: file }, uid)), /TRL_MAX_SESSIONS/);
});

test('an unknown flag or a stray argument is refused', () => {
  assert.match(configError(() => loadConfig(['--no-such-flag'], {}, uid)), /no-such-flag/);
  assert.ok(configError(() => loadConfig(['positional'], {}, uid)).length > 0);
});

test('unknown TRL_* names are reported (names only), TRL_AUTH_TOKEN is not unknown', () => {
  const { unknownKeys } = loadConfig([], { TRL_NOT_A_SETTING: 'x', TRL_AUTH_TOKEN: 'secret' }, uid);
  assert.deepEqual(unknownKeys, ['TRL_NOT_A_SETTING']);
});

test('env file: non-TRL variables come back as envFileVars and do not touch process.env', () => {
  const file = envFile('TRL_MAX_SESSIONS=3\nAPI_KEY=from-file\nQUOTED="a b"\n# comment\nexport EXPORTED=yes\n');
  const { config, envFileVars } = loadConfig([], { TRL_ENV_FILE: file }, uid);
  assert.equal(config.max_sessions, 3);
  assert.deepEqual(envFileVars, { API_KEY: 'from-file', QUOTED: 'a b', EXPORTED: 'yes' });
  assert.equal(process.env.API_KEY, undefined);
  assert.equal(process.env.TRL_MAX_SESSIONS, undefined);
});

test('env file refused when group- or world-readable or -writable', () => {
  for (const mode of [0o640, 0o604, 0o620, 0o644, 0o660]) {
    const file = envFile('A=1\n', mode);
    const msg = configError(() => loadConfig([], { TRL_ENV_FILE: file }, uid));
    assert.match(msg, /TRL_ENV_FILE/, `mode ${mode.toString(8)}: ${msg}`);
    assert.ok(msg.includes(file), msg);
    assert.ok(!msg.includes('A=1'));
  }
  assert.deepEqual(loadConfig([], { TRL_ENV_FILE: envFile('A=1\n', 0o400) }, uid).envFileVars, { A: '1' });
});

test('env file refused when owned by another user', () => {
  const file = envFile('A=1\n');
  if (uid === 0) {
    // A root daemon trusts root's files; a file of another user is refused.
    chownSync(file, 4242, 4242);
    assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: file }, 0)), /owned by uid 4242/);
  } else {
    assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: file }, uid + 1)), /owned by uid/);
  }
});

test('env file missing or a directory is a config error', () => {
  assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: join(dir, 'missing') }, uid)), /TRL_ENV_FILE/);
  const sub = join(dir, 'adir');
  mkdirSync(sub, { mode: 0o700 });
  assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: sub }, uid)), /not a regular file/);
});

test('env file with a leading "-": a missing file means no env file; a present one is read and checked', () => {
  const missing = join(dir, 'absent.env');
  const { config, envFileVars } = loadConfig([], { TRL_ENV_FILE: `-${missing}` }, uid);
  assert.equal(config.max_sessions, 64);
  assert.deepEqual(envFileVars, {});
  assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: missing }, uid)), /does not exist/, 'without "-" a missing file is still an error');
  const present = envFile('TRL_MAX_SESSIONS=5\nFOO=bar\n');
  const loaded = loadConfig([], { TRL_ENV_FILE: `-${present}` }, uid);
  assert.equal(loaded.config.max_sessions, 5);
  assert.deepEqual(loaded.envFileVars, { FOO: 'bar' });
  const open = envFile('A=1\n', 0o644);
  assert.match(configError(() => loadConfig([], { TRL_ENV_FILE: `-${open}` }, uid)), /chmod 600/, 'a present optional file is checked like any other');
});
