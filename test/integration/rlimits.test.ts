import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TestDaemon } from '../helpers/daemon';
import { newSession, run } from '../helpers/requests';
import type { TrlClient } from '../../src/client/client';

/*
 * A session's rlimits reach its commands with the same values, soft and
 * hard, under either spawner (the native child sets them with setrlimit,
 * child_process through the shell's ulimit lines), and a limit that cannot
 * be set ends the command with 125 and says which.
 */

let daemon: TestDaemon;
let c: TrlClient;
before(async () => {
  daemon = await TestDaemon.start();
  c = await daemon.connect();
});
after(async () => {
  c.close();
  await daemon.dispose();
});

const spawner = () => process.env.TRL_SPAWNER ?? 'native';

test('cpu_s, nofile, core_bytes and as_bytes: soft and hard values as the command sees them', async () => {
  const sid = await newSession(c, { limits: { cpu_s: 2.5, nofile: 77, core_bytes: 0, as_bytes: 300 * 1024 * 1024 + 1 } });
  const r = await run(c, sid, `grep -E '^Max (cpu time|open files|core file size|address space)' /proc/self/limits`);
  assert.equal(r.exit_code, 0, r.stderr);
  const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(name))!.replace(name, '').trim().split(/\s+/).slice(0, 2);
  assert.deepEqual(row('Max cpu time'), ['3', '4'], 'CPU: soft whole seconds (SIGXCPU), hard one second later');
  assert.deepEqual(row('Max open files'), ['77', '77']);
  assert.deepEqual(row('Max core file size'), ['0', '0'], 'the daemon\'s own hard limit is 0 (it is hardened): no larger one can be asked');
  assert.deepEqual(row('Max address space'), [String(300 * 1024 * 1024 + 1024), String(300 * 1024 * 1024 + 1024)], 'address space in KiB, rounded up');
  // The shell itself runs under them, before any line of the command.
  assert.match(readFileSync(`/proc/${daemon.pid}/limits`, 'utf8'), /^Max open files\s+(?!77\s)/m, 'the daemon keeps its own');
});

test('a limit the daemon cannot grant ends the command with 125 and names it; the session keeps working', async () => {
  const hard = Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync(`/proc/${daemon.pid}/limits`, 'utf8'))![1]);
  const sid = await newSession(c, { limits: { nofile: hard + 1 } });
  const r = await run(c, sid, 'echo never');
  assert.equal(r.exit_code, 125);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^trl: cannot set RLIMIT_NOFILE$/m);
  const ok = await newSession(c, { limits: { nofile: 64 } });
  assert.equal((await run(c, ok, 'ulimit -n')).stdout, '64\n');
});

test('native spawner: the shell runs no ulimit line (the limits are set before exec)', { skip: spawner() !== 'native' && 'child_process writes ulimit lines' }, async () => {
  const sid = await newSession(c, { limits: { nofile: 99, cpu_s: 5 } });
  const r = await run(c, sid, `tr '\\0' ' ' < /proc/$$/cmdline`);
  assert.doesNotMatch(r.stdout, /ulimit/);
  assert.equal((await run(c, sid, 'ulimit -n')).stdout, '99\n');
});
