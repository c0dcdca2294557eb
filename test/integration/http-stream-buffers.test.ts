import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { TestDaemon } from '../helpers/daemon';
import { httpRequest, httpUrlOf } from '../helpers/http';

/*
 * Over HTTP, as over the socket (read-buffers.test.ts): an output event's
 * line refers to its read buffer's bytes and may wait in the response's
 * queue; the buffer is read into again only once the response has written
 * them. A slow reader keeps lines queued while the command goes on and the
 * window (small here) drops their chunks.
 */

const TOKEN = randomBytes(24).toString('base64url');
const WINDOW = 256 * 1024;
let daemon: TestDaemon;
let url: string;

before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN, TRL_STREAM_WINDOW_BYTES: String(WINDOW) } });
  url = httpUrlOf(daemon);
});
after(() => daemon.dispose());

const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` };

/** A response read 64 KiB at a time with a pause after each. */
function slowRead(body: string): Promise<Buffer> {
  const u = new URL('/', url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: '/', method: 'POST', headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let sincePause = 0;
      res.on('data', (c: Buffer) => {
        parts.push(c);
        sincePause += c.length;
        if (sincePause >= 64 * 1024) {
          sincePause = 0;
          res.pause();
          setTimeout(() => res.resume(), 5);
        }
      });
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a slow reader of exec.stream over HTTP gets the bytes of a flood as the command wrote them, at their offsets, while read buffers are used again', { timeout: 90_000 }, async () => {
  const created = JSON.parse((await httpRequest(url, { headers, body: { id: 'c', method: 'session.create', params: {} } })).text);
  const n = 2_000_000;
  const want = Buffer.from(Array.from({ length: n }, (_, i) => `${i + 1} `).join(''));
  const body = JSON.stringify({ id: 'fl', method: 'exec.stream', params: { session_id: created.data.session_id, command: `seq 1 ${n} | tr '\\n' ' '` } });
  const lines = (await slowRead(body)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(lines[0].ok, true, JSON.stringify(lines[0]));
  const events = lines.slice(1);
  assert.equal(events.at(-1).event, 'exit');
  assert.equal(events.at(-1).exit_code, 0);
  let offset = 0;
  let bytes = 0;
  for (const [i, e] of events.entries()) {
    if (e.event === 'gap' && e.stream === 'stdout') {
      assert.equal(e.from, offset);
      offset = e.to;
    }
    if (e.event !== 'output' || e.stream !== 'stdout') continue;
    const got = Buffer.from(e.data, e.encoding === 'base64' ? 'base64' : 'utf8');
    assert.equal(e.offset, offset);
    if (!got.equals(want.subarray(offset, offset + got.length))) assert.fail(`output event ${i}: ${got.length} bytes at offset ${offset} differ from the command's`);
    offset += got.length;
    bytes += got.length;
  }
  assert.equal(offset, want.length, 'output and gaps cover the whole stream');
  assert.ok(bytes > WINDOW, `the reader got ${bytes} bytes`);
});
