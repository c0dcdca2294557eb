import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { environValue } from '../../src/system/proc';

test('environValue reads one whole entry of /proc/<pid>/environ, never the tail of another name', async () => {
  const child = spawn('/bin/sleep', ['5'], { env: { XTRL_SESSION_ID: 'wrong', TRL_SESSION_ID: 'right', EMPTY: '' } });
  try {
    await new Promise((r) => child.once('spawn', r));
    assert.equal(environValue(child.pid!, 'TRL_SESSION_ID'), 'right');
    assert.equal(environValue(child.pid!, 'EMPTY'), '');
    assert.equal(environValue(child.pid!, 'SESSION_ID'), null);
    assert.equal(environValue(child.pid!, 'ABSENT'), null);
  } finally {
    child.kill();
  }
  assert.equal(environValue(2 ** 22 + 7, 'PATH'), null, 'a process that does not exist');
});
