import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { groupExists } from '../../src/system/proc';

test('groupExists: true while the group has a process, false once it has been reaped', async () => {
  // Our own child, so that Node reaps it: a zombie still counts as a member.
  const child = spawn('/bin/sleep', ['30'], { detached: true, stdio: 'ignore' });
  await once(child, 'spawn');
  const pgid = child.pid!;
  assert.equal(groupExists(pgid), true);
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(groupExists(pgid), false);
});

test('groupExists: false for a group that never existed', () => {
  assert.equal(groupExists(4_000_000), false);
});
