import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type TestDaemon, withDaemonAndClient } from '../helpers/daemon';
import { newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

let daemon: TestDaemon;
let c: TrlClient;
withDaemonAndClient({ env: { TRL_AUTH_TOKEN_PROBE: 'never-for-commands' } }, (d, client) => {
  daemon = d;
  c = client;
});

/** What a command running as the daemon's own user gets when it opens `path` (exit 0 = it could). */
async function tryOpen(sid: string, command: string): Promise<{ exit: number; stdout: string; stderr: string }> {
  const r = await run(c, sid, command);
  return { exit: r.exit_code, stdout: r.stdout, stderr: r.stderr };
}

test('a command of the same user cannot open the daemon\'s /proc environ, mem or fd', async () => {
  const sid = await newSession(c);
  const pid = daemon.pid;
  const environ = await tryOpen(sid, `cat /proc/${pid}/environ`);
  assert.notEqual(environ.exit, 0, `environ was readable: ${environ.stdout.slice(0, 80)}`);
  assert.match(environ.stderr, /Permission denied/);
  assert.doesNotMatch(environ.stdout, /never-for-commands/);
  const mem = await tryOpen(sid, `head -c 1 /proc/${pid}/mem >/dev/null`);
  assert.notEqual(mem.exit, 0);
  assert.match(mem.stderr, /Permission denied/);
  const fd = await tryOpen(sid, `ls /proc/${pid}/fd/`);
  assert.notEqual(fd.exit, 0);
  assert.match(fd.stderr, /Permission denied/);
  // The command's own processes stay dumpable: dumpable is reset at exec.
  const own = await tryOpen(sid, `tr '\\0' '\\n' < /proc/$$/environ | grep -c '^TRL_EXEC_ID=' && sh -c 'ls /proc/$$/fd/ >/dev/null && echo child-ok'`);
  assert.equal(own.exit, 0, own.stderr);
  assert.match(own.stdout, /child-ok/);
});

test('the daemon never dumps core: its RLIMIT_CORE is 0 (soft and hard)', () => {
  const limits = readFileSync(`/proc/${daemon.pid}/limits`, 'utf8');
  assert.match(limits, /^Max core file size\s+0\s+0\s+bytes/m);
});

test('the daemon logs no hardening warning when its addon loaded', () => {
  assert.doesNotMatch(daemon.logs, /native layer unavailable/);
});

test('the daemon starts commands with the spawner TRL_SPAWNER asks for (native by default) and says which', () => {
  const ready = daemon.logRecords().find((r) => r.msg === 'trld ready');
  assert.equal(ready?.spawner, process.env.TRL_SPAWNER ?? 'native');
});
