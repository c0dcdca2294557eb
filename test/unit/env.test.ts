import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRuntimeEnv } from '../../src/system/runtime-env';

const PRIVATE = {
  TRL_AUTH_TOKEN: 'tok',
  TRL_MAX_SESSIONS: '2',
  TRL_SOCKET_PATH: '/x',
  NOTIFY_SOCKET: '/run/systemd/notify',
  LISTEN_FDS: '1',
  LISTEN_PID: '123',
  LISTEN_FDNAMES: 'trl',
  WATCHDOG_USEC: '1000',
  WATCHDOG_PID: '123',
};

test('the daemon’s settings and systemd protocol variables are stripped', () => {
  const env = buildRuntimeEnv({ ...PRIVATE, PATH: '/usr/bin', HOME: '/home/x', API_KEY: 'k' }, {});
  assert.deepEqual(env, { PATH: '/usr/bin', HOME: '/home/x', API_KEY: 'k' });
});

test('private names are stripped from the env file too', () => {
  const env = buildRuntimeEnv({}, { ...PRIVATE, FROM_FILE: 'f' });
  assert.deepEqual(env, { FROM_FILE: 'f' });
});

test('the daemon’s own environment overrides the env file', () => {
  const env = buildRuntimeEnv({ BOTH: 'process', ONLY_PROC: 'p' }, { BOTH: 'file', ONLY_FILE: 'f' });
  assert.deepEqual(env, { BOTH: 'process', ONLY_PROC: 'p', ONLY_FILE: 'f' });
});

test('names that merely contain a private prefix are kept; undefined values skipped', () => {
  const env = buildRuntimeEnv({ MY_TRL_X: '1', trl_lower: '2', XWATCHDOG_USEC: '3', GONE: undefined }, {});
  assert.deepEqual(env, { MY_TRL_X: '1', trl_lower: '2', XWATCHDOG_USEC: '3' });
});

test("the daemon's own malloc tuning (GLIBC_TUNABLES from the unit) does not reach commands; an env file may still set one", () => {
  assert.equal(buildRuntimeEnv({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=8192', PATH: '/usr/bin' }, {}).GLIBC_TUNABLES, undefined);
  assert.equal(buildRuntimeEnv({}, { GLIBC_TUNABLES: 'glibc.malloc.check=3' }).GLIBC_TUNABLES, 'glibc.malloc.check=3');
});
