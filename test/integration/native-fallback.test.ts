import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DAEMON_ROOT, launch, makePrivateDir } from '../helpers/launch';

/**
 * A build whose native addon is absent (a copy of dist/ without native/
 * beside it): the daemon still serves, starts commands with child_process,
 * and says so in exactly one warning.
 */
test('without its native addon the daemon warns once, falls back to child_process and runs commands', async () => {
  const root = makePrivateDir('trl-no-native-');
  const cleanup = [root];
  try {
    cpSync(join(DAEMON_ROOT, 'dist'), join(root, 'dist'), { recursive: true });
    symlinkSync(join(DAEMON_ROOT, 'node_modules'), join(root, 'node_modules'));
    // The default spawner (native) is asked for even under `make test-fallback`: its loss is what is tested.
    const { child, dir } = launch({ root, args: ['--stdio'], env: { TRL_SPAWNER: 'native' } });
    cleanup.push(dir);
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const ask = async (id: number, method: string, params: object) => {
      child.stdin!.write(`${JSON.stringify({ id, method, params })}\n`);
      const { value } = await lines.next();
      return JSON.parse(value as string);
    };
    const s = await ask(1, 'session.create', {});
    assert.equal(s.ok, true, JSON.stringify(s));
    const r = await ask(2, 'exec.run', { session_id: s.data.session_id, command: 'echo $((6*7))' });
    assert.equal(r.data?.stdout, '42\n', JSON.stringify(r));
    const stats = await ask(3, 'system.stats', {});
    assert.equal(stats.data?.spawner, 'child_process', 'system.stats names the spawner in use');
    child.stdin!.end();
    await new Promise((resolve) => child.once('exit', resolve));
    const warnings = stderr.split('\n').filter((l) => l.includes('native layer unavailable'));
    assert.equal(warnings.length, 1, stderr);
    assert.match(warnings[0]!, /not hardened/);
    assert.match(warnings[0]!, /child_process/);
  } finally {
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  }
});
