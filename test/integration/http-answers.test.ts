import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { TestDaemon, sleep } from '../helpers/daemon';
import { readMemory } from '../../src/system/proc';
import { httpRequest, httpUrlOf } from '../helpers/http';

/** Answers over HTTP follow the same flow-control rule as on the socket: large ones chunked and written as read. */

const TOKEN = randomBytes(24).toString('base64url');
const MiB = 1024 * 1024;
let daemon: TestDaemon;
let url: string;

before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN } });
  url = httpUrlOf(daemon);
});
after(() => daemon.dispose());

const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` };
async function call(method: string, params: object = {}, id = 'r') {
  const r = await httpRequest(url, { headers, body: { id, method, params } });
  return { status: r.status, headers: r.headers, body: JSON.parse(r.text) };
}

test('a large exec.run answer is chunked and arrives whole', async () => {
  const sid = (await call('session.create')).body.data.session_id;
  const r = await call('exec.run', { session_id: sid, command: "head -c 3145728 /dev/zero | tr '\\0' '\\1'" });
  assert.equal(r.status, 200);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.body.ok, true);
  assert.equal(r.body.data.stdout.length, 3 * MiB);
  assert.ok(/^\u0001+$/.test(r.body.data.stdout));
  const small = await call('system.ping');
  assert.ok(small.headers['content-length'], 'small answers keep their Content-Length');
});

test('a large exec.run answer waits for a reader that stopped reading (the daemon does not build it whole)', async (t) => {
  const sid = (await call('session.create')).body.data.session_id;
  const rss = () => readMemory(daemon.pid)!.rss;
  const base = rss();
  const body = JSON.stringify({ id: 'big', method: 'exec.run', params: { session_id: sid, command: "head -c 4194304 /dev/zero | tr '\\0' '\\1'; head -c 4194304 /dev/zero | tr '\\0' '\\2' >&2" } });
  const u = new URL(url);
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/', headers: { ...headers, 'Content-Length': Buffer.byteLength(body) }, agent: false }, (res) => {
      res.pause();
      void (async () => {
        let peak = 0;
        for (let i = 0; i < 30; i++) {
          peak = Math.max(peak, rss());
          await sleep(100);
        }
        t.diagnostic(`HTTP exec.run of 2 × 4 MiB control bytes (48 MiB escaped), reader paused 3 s: RSS +${Math.round((peak - base) / MiB)} MiB`);
        assert.ok(peak - base < 40 * MiB, `grew ${Math.round((peak - base) / MiB)} MiB`);
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('end', resolve);
        res.resume();
      })().catch(reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.ok(received > 48 * MiB, `${received} bytes`);
});

test('temporary sessions need a connection that outlives the request: over HTTP they are refused', async () => {
  const r = await call('session.create', { temporary: true });
  assert.equal(r.body.ok, false);
  assert.equal(r.body.error.code, 'INVALID_PARAMS');
  assert.match(r.body.error.message, /temporary/);
});
