import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';

/**
 * Pipelined requests are flow-controlled, not refused: at the in-flight
 * limit the daemon stops reading the connection until an answer goes out.
 */

let daemon: TestDaemon;
test.before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_MAX_INFLIGHT_PER_CONNECTION: '4' } });
});
test.after(() => daemon.dispose());

test('1000 pipelined pings written at once are all answered ok (in-flight limit 4)', async (t) => {
  const conn = await RawWire.open(daemon.socketPath);
  const lines = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ id: `p${i}`, method: 'system.ping' }) + '\n').join('');
  conn.socket.write(lines);
  const answers = await conn.waitLines(1000, 30_000);
  conn.close();
  const refused = answers.filter((a) => !a.ok);
  t.diagnostic(`answers: ${answers.length}, refused: ${refused.length}`);
  assert.equal(refused.length, 0, `first refusal: ${JSON.stringify(refused[0])}`);
  assert.deepEqual(new Set(answers.map((a) => a.id)).size, 1000);
});

test('at the limit, a slow request holds the rest back instead of failing them', async () => {
  const conn = await RawWire.open(daemon.socketPath);
  conn.send({ id: 's', method: 'session.create', params: {} });
  const sid = (await conn.waitId('s')).data.session_id;
  const lines = [
    { id: 'slow', method: 'exec.run', params: { session_id: sid, command: 'sleep 0.5; echo done' } },
    ...Array.from({ length: 20 }, (_, i) => ({ id: `q${i}`, method: 'system.ping' })),
  ];
  conn.socket.write(lines.map((l) => JSON.stringify(l) + '\n').join(''));
  const answers = await conn.waitLines(1 + lines.length, 15_000);
  conn.close();
  assert.ok(answers.every((a) => a.ok), JSON.stringify(answers.filter((a) => !a.ok)));
  assert.equal(answers.find((a) => a.id === 'slow').data.stdout, 'done\n');
});
