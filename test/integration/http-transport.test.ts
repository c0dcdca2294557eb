import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { TestDaemon } from '../helpers/daemon';
import { httpRequest, httpUrlOf } from '../helpers/http';

const TOKEN = randomBytes(24).toString('base64url');
let daemon: TestDaemon;
let url: string;

before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN, TRL_MAX_REQUEST_BYTES: '2048' } });
  url = httpUrlOf(daemon);
});
after(() => daemon.dispose());

const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` };
async function call(method: string, params: object = {}, id = 'r') {
  const r = await httpRequest(url, { headers, body: { id, method, params } });
  assert.equal(r.status, 200, r.text);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  return JSON.parse(r.text);
}
const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('exec.stream over HTTP: chunked NDJSON, the response envelope first, the output in order, ends after exit', async () => {
  const sid = (await call('session.create')).data.session_id;
  const r = await httpRequest(url, {
    headers,
    body: { id: 'st-1', method: 'exec.stream', params: { session_id: sid, command: 'echo one; printf two >&2; sleep 0.2; echo three; exit 7' } },
  });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/x-ndjson/);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  const msgs = lines(r.text);
  assert.deepEqual([msgs[0].id, msgs[0].ok], ['st-1', true]);
  const execId = msgs[0].data.exec_id;
  const events = msgs.slice(1);
  assert.ok(events.every((e) => e.exec_id === execId && e.ok === undefined));
  const last = events[events.length - 1];
  assert.equal(last.event, 'exit', 'the response ends with the exit event');
  assert.equal(last.exit_code, 7);
  const out = events.filter((e) => e.event === 'output');
  assert.equal(out.filter((e) => e.stream === 'stdout').map((e) => e.data).join(''), 'one\nthree\n');
  assert.equal(out.filter((e) => e.stream === 'stderr').map((e) => e.data).join(''), 'two');

  // exec.attach to the finished exec replays it, over HTTP too
  const a = await httpRequest(url, { headers, body: { id: 'at-1', method: 'exec.attach', params: { exec_id: execId, offsets: { stdout: 4 } } } });
  const replay = lines(a.text);
  assert.equal(replay[0].id, 'at-1');
  assert.equal(replay[0].ok, true);
  assert.equal(replay[replay.length - 1].event, 'exit');
  const stdout = replay.filter((e) => e.event === 'output' && e.stream === 'stdout');
  assert.equal(stdout.map((e) => e.data).join(''), 'three\n');
});

test('a streaming request that fails is a plain JSON answer', async () => {
  const r = await httpRequest(url, { headers, body: { id: 'st-2', method: 'exec.stream', params: { session_id: 'no-such', command: 'true' } } });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  assert.equal(JSON.parse(r.text).error.code, 'SESSION_NOT_FOUND');
});

test('kill_on_disconnect: a streaming client that goes away cancels its command', async () => {
  const sid = (await call('session.create')).data.session_id;
  const execId = await new Promise<string>((resolve, reject) => {
    const body = JSON.stringify({ id: 'kd', method: 'exec.stream', params: { session_id: sid, command: 'echo started; sleep 300', kill_on_disconnect: true } });
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/', headers: { ...headers, 'Content-Length': Buffer.byteLength(body) }, agent: false }, (res) => {
      let buf = '';
      res.on('data', (c) => {
        buf += c;
        if (buf.includes('"started')) {
          res.destroy();
          resolve(JSON.parse(buf.split('\n')[0]!).data.exec_id);
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
  // the exec ends (cancelled) because its client went away; exec.attach waits for its exit event
  const a = await httpRequest(url, { headers, body: { id: 'at', method: 'exec.attach', params: { exec_id: execId } } });
  const exit = lines(a.text).pop();
  assert.equal(exit.event, 'exit');
  assert.equal(exit.cancelled, true);
});

test('body over TRL_MAX_REQUEST_BYTES: 413, with or without Content-Length', async () => {
  const big = { id: 'big', method: 'system.ping', params: { pad: 'x'.repeat(4096) } };
  for (const chunked of [false, true]) {
    const r = await httpRequest(url, { headers, body: big, chunked });
    assert.equal(r.status, 413, `chunked: ${chunked}`);
    const body = JSON.parse(r.text);
    assert.equal(body.ok, false);
    assert.equal(body.error.code, 'INVALID_PARAMS');
    assert.match(body.error.message, /TRL_MAX_REQUEST_BYTES/);
  }
  // just under the cap is served
  const ok = await httpRequest(url, { headers, body: { id: 'fits', method: 'system.ping', params: { pad: 'x'.repeat(1900) } } });
  assert.equal(ok.status, 200);
});

test('wrong content type: 415; bad JSON: 400 with the envelope; malformed envelope: 400 with its id', async () => {
  const ct = await httpRequest(url, { headers: { ...headers, 'Content-Type': 'text/plain' }, body: { id: 'ct', method: 'system.ping' } });
  assert.equal(ct.status, 415);
  assert.match(JSON.parse(ct.text).error.message, /application\/json/);
  const none = await httpRequest(url, { headers: { Authorization: headers.Authorization }, body: '{"id":"n","method":"system.ping"}' });
  assert.equal(none.status, 415);
  const withCharset = await httpRequest(url, { headers: { ...headers, 'Content-Type': 'application/json; charset=utf-8' }, body: { id: 'cs', method: 'system.ping' } });
  assert.equal(withCharset.status, 200);

  const bad = await httpRequest(url, { headers, body: '{"id": "j", "method": ' });
  assert.equal(bad.status, 400);
  assert.deepEqual([JSON.parse(bad.text).id, JSON.parse(bad.text).ok, JSON.parse(bad.text).error.code], ['unknown', false, 'INVALID_PARAMS']);
  const env = await httpRequest(url, { headers, body: { id: 'e-1', params: {} } });
  assert.equal(env.status, 400);
  assert.deepEqual([JSON.parse(env.text).id, JSON.parse(env.text).error.code], ['e-1', 'INVALID_PARAMS']);
  const params = await call('session.create', { timeout_s: -1 }, 'p-1');
  assert.equal(params.error.code, 'INVALID_PARAMS');
  assert.match(params.error.message, /params\.timeout_s/);
});

test('wrong path: 404; wrong method: 405 with Allow: POST', async () => {
  const p = await httpRequest(url, { headers, path: '/v2/run', body: { id: 'p', method: 'system.ping' } });
  assert.equal(p.status, 404);
  assert.equal(JSON.parse(p.text).ok, false);
  const m = await httpRequest(url, { headers, method: 'GET' });
  assert.equal(m.status, 405);
  assert.equal(m.headers.allow, 'POST');
  assert.equal(JSON.parse(m.text).ok, false);
});

test('HTTP and the socket share one runtime: a session made over HTTP is used on the socket', async () => {
  const sid = (await call('session.create', { name: 'shared' })).data.session_id;
  const r = await daemon.oneShot({ id: 's', method: 'exec.run', params: { session_id: sid, command: 'echo via-socket' } });
  assert.equal(r.data.stdout, 'via-socket\n');
  const info = await call('session.info', { session_id: sid });
  assert.equal(info.data.command_count, 1);
});
