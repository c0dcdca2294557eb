import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/load';
import { describeIssues, ExecRunParams, ExecStreamParams, MAX_ENV_ENTRY_BYTES, SessionCreateParams } from '../../src/protocol/messages';

const uid = process.getuid!();
const load = (env: Record<string, string>) => loadConfig([], env, uid).config;
function configError(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('TRL_IDLE_EXIT_S above what a Node timer can wait (2^31-1 ms) is refused, naming the setting and the bound', () => {
  assert.equal(load({ TRL_IDLE_EXIT_S: '2147483' }).idle_exit_s, 2147483);
  const message = configError({ TRL_IDLE_EXIT_S: String(30 * 24 * 3600) });
  assert.match(message, /TRL_IDLE_EXIT_S/);
  assert.match(message, /2147483 s .*2\^31-1 ms/);
});

test('a configured timeout below a millisecond is a millisecond, not "none"', () => {
  assert.equal(load({ TRL_DEFAULT_TIMEOUT_S: '0.0004' }).default_timeout_s, 0.001);
  assert.equal(load({ TRL_DEFAULT_TIMEOUT_S: '0' }).default_timeout_s, 0);
});

test('timeout_s and idle_timeout_s below a millisecond are a millisecond; 0 stays "none"', () => {
  const p = ExecStreamParams.parse({ session_id: 's', command: 'true', timeout_s: 0.0004, idle_timeout_s: 0.0001 });
  assert.equal(p.timeout_s, 0.001);
  assert.equal(p.idle_timeout_s, 0.001);
  assert.equal(Math.round(p.timeout_s! * 1000), 1);
  assert.equal(ExecRunParams.parse({ session_id: 's', command: 'true', timeout_s: 0 }).timeout_s, 0);
  assert.equal(SessionCreateParams.parse({ timeout_s: 0.0002 }).timeout_s, 0.001);
});

test('an env key holding "NAME=VALUE" is refused without repeating the value', () => {
  const r = SessionCreateParams.safeParse({ env: { 'API_TOKEN=s3cr3t-value-xyz': '1' } });
  assert.equal(r.success, false);
  const message = describeIssues(r.error!, 'params');
  assert.doesNotMatch(message, /s3cr3t/);
  assert.match(message, /API_TOKEN/);
  assert.match(message, /must not contain "="/);
  const nul = SessionCreateParams.safeParse({ env: { 'A\0s3cr3t': '1' } });
  assert.doesNotMatch(describeIssues(nul.error!, 'params'), /s3cr3t/);
});

test('an env value that exec(2) cannot pass (NAME=VALUE of 128 KiB or more) is refused, naming the variable', () => {
  const r = SessionCreateParams.safeParse({ env: { BIG: 'x'.repeat(MAX_ENV_ENTRY_BYTES) } });
  assert.equal(r.success, false);
  const message = describeIssues(r.error!, 'params');
  assert.match(message, /params\.env\.BIG: .*E2BIG/);
  assert.doesNotMatch(message, /xxxx/);
  assert.equal(SessionCreateParams.safeParse({ env: { OK: 'x'.repeat(MAX_ENV_ENTRY_BYTES - 10) } }).success, true);
  const exec = ExecRunParams.safeParse({ session_id: 's', command: 'true', env: { BIG: 'x'.repeat(200 * 1024) } });
  assert.equal(exec.success, false);
});

test('env maps whose strings total more than the bound are refused', () => {
  const env: Record<string, string> = {};
  for (let i = 0; i < 6; i++) env[`V${i}`] = 'x'.repeat(100 * 1024);
  const r = SessionCreateParams.safeParse({ env });
  assert.equal(r.success, false);
  assert.match(describeIssues(r.error!, 'params'), /params\.env: the variables total \d+ bytes/);
});
