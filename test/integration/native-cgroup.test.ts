import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeAddon } from '../../src/native/addon';
import { nativeSpawner } from '../../src/exec/spawn-native';
import type { SpawnedProcess } from '../../src/exec/spawn';

/*
 * The native spawner given a cgroup leaf it cannot start the child in — a
 * leaf removed between its creation and the spawn, or a directory that is no
 * cgroup — ends the command the way the shell's entry line did: exit 125 and
 * "trl: cannot enter the command's cgroup", never a command run outside it;
 * no fd and no zombie left.
 */

const { addon, error } = nativeAddon();

function collect(child: SpawnedProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  child.stdin.end();
  const closed = Promise.all([child.stdout, child.stderr, child.state].map((s) => new Promise<void>((r) => s.once('close', () => r()))));
  return new Promise((resolve) => child.onExit((code, signal) => void closed.then(() => resolve({ code, signal, stdout, stderr }))));
}

const openFds = () => readdirSync('/proc/self/fd').length;

test('a cgroup leaf that is gone or is no cgroup: exit 125 with the entry error, the command never runs; no fd left', { skip: addon ? false : `no addon: ${error}` }, async () => {
  const spawn = nativeSpawner(addon!);
  const scratch = mkdtempSync(join(tmpdir(), 'trl-native-cg-'));
  try {
    const before = openFds();
    for (const cgroupDir of [join(scratch, 'removed-leaf'), scratch]) {
      const child = await spawn({ file: '/bin/sh', args: ['-c', 'echo ran'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, cgroupDir });
      const r = await collect(child);
      assert.equal(r.code, 125, cgroupDir);
      assert.equal(r.stdout, '', 'the command did not run');
      assert.equal(r.stderr, "trl: cannot enter the command's cgroup\n");
      assert.equal(child.signal('SIGTERM'), false, 'a reaped leader is not signalled');
    }
    // Sockets close on the next turns of the loop.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(openFds(), before, 'no fd left behind');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('the leader is signalled through its pidfd: SIGTERM ends exactly it', { skip: addon ? false : `no addon: ${error}` }, async () => {
  const spawn = nativeSpawner(addon!);
  const child = await spawn({ file: '/bin/sleep', args: ['30'], cwd: '/', env: {} });
  const ended = collect(child);
  assert.equal(child.signal('SIGTERM'), true);
  const r = await ended;
  assert.deepEqual([r.code, r.signal], [null, 'SIGTERM']);
});
