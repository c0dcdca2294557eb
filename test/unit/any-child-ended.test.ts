import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { nativeAddon } from '../../src/native/addon';

/*
 * anyChildEnded (native/adopt.c), what the adoption scan asks after a
 * SIGCHLD before it looks at each adopted process: true exactly while an
 * ended child waits to be reaped, and asking reaps nothing. In a process of
 * its own, made a subreaper, that adopts a real orphan.
 */

const { addon, error } = nativeAddon();
const skip = addon ? false : `no addon: ${error}`;

const HELPER = `
const { nativeAddon } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'native', 'addon'))});
const { addon } = nativeAddon();
addon.becomeSubreaper();
// The shell ends at once; its background sleep is re-parented to this process, which libuv does not reap.
const pid = Number(require('node:child_process').execFileSync('/bin/sh', ['-c', 'sleep 0.3 >/dev/null 2>&1 & echo $!']).toString());
const seen = { running: addon.anyChildEnded() };
setTimeout(() => {
  seen.ended = addon.anyChildEnded();
  seen.endedAgain = addon.anyChildEnded();
  seen.reaped = addon.reapChild(pid);
  seen.afterReap = addon.anyChildEnded();
  process.stdout.write(JSON.stringify(seen));
}, 1000);
`;

test('anyChildEnded: false while the adopted child runs, true once it ended (asking twice reaps nothing), false once it is reaped', { skip }, () => {
  const seen = JSON.parse(execFileSync(process.execPath, ['-e', HELPER], { encoding: 'utf8', timeout: 10_000 }));
  assert.deepEqual(seen, { running: false, ended: true, endedAgain: true, reaped: true, afterReap: false });
});
