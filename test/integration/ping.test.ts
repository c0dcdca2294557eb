import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

let daemon: TestDaemon;
before(async () => {
  daemon = await TestDaemon.start();
});
after(() => daemon.dispose());

test('a one-shot client (connect, one line, read one line, close) gets ping back', async () => {
  const r = await daemon.oneShot({ id: 'p1', method: 'system.ping' });
  assert.equal(r.id, 'p1');
  assert.equal(r.ok, true);
  assert.equal(typeof r.data.uptime_s, 'number');
  assert.match(r.data.version, /^\d+\.\d+\.\d+/);
});
