import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sharedScan } from '../../src/system/proc-scan';

// A pass over few pids finishes within the call: the next caller must still get a new pass, not that one.
test('sharedScan: a later call sees a process born after the previous pass, however few pids there are', async () => {
  await sharedScan(() => {});
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const { stats } = await sharedScan(() => {});
    assert.ok(stats.some((st) => st.pid === child.pid), `pid ${child.pid} is in the second pass`);
  } finally {
    child.kill('SIGKILL');
  }
});
