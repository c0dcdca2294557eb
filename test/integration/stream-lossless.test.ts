import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon, sleep } from '../helpers/daemon';
import { RawWire } from '../helpers/raw-wire';

/**
 * lossless: a reader that falls far behind a small retention window still
 * gets every byte, because the daemon stops reading the command's pipe while
 * that reader is behind. The same reader without lossless gets gap events.
 */

let daemon: TestDaemon;
before(async () => {
  daemon = await TestDaemon.start({ env: { TRL_STREAM_WINDOW_BYTES: '65536', TRL_DEFAULT_TIMEOUT_S: '60' } });
});
after(() => daemon?.dispose());

const TOTAL = 8 * 1024 * 1024;

/** Starts `head -c TOTAL` through exec.stream on a raw socket, does not read for `stallMs`, then reads to the exit event. */
async function slowReader(lossless: boolean, stallMs: number): Promise<{ bytes: number; gaps: number; gapEvents: object[]; exit: any }> {
  const client = await daemon.connect();
  const { session_id } = await client.request<{ session_id: string }>('session.create', {});
  client.close();
  const socket = await RawWire.open(daemon.socketPath, { paused: true, keep: false });
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let gaps = 0;
    const gapEvents: object[] = [];
    socket.onMessage((m) => {
      if (m.event === 'output') bytes += Buffer.byteLength(m.data, m.encoding === 'base64' ? 'base64' : 'utf8');
      else if (m.event === 'gap') {
        gaps++;
        gapEvents.push({ ...m, bytes_before: bytes });
      }
      else if (m.event === 'exit') {
        socket.close();
        resolve({ bytes, gaps, gapEvents, exit: m });
      } else if (m.ok === false) reject(new Error(JSON.stringify(m)));
    });
    socket.onEnd(() => reject(new Error(`the connection ended before the exit event (${bytes} bytes)`)));
    socket.send({ id: 's', method: 'exec.stream', params: { session_id, lossless, command: `head -c ${TOTAL} /dev/zero | tr '\\0' x` } });
    void sleep(stallMs).then(() => socket.resume());
  });
}

test('a lossless reader that stalls gets every byte and no gap; the command waited for it', async () => {
  const r = await slowReader(true, 1500);
  assert.equal(r.gaps, 0, JSON.stringify(r.gapEvents));
  assert.equal(r.bytes, TOTAL);
  assert.equal(r.exit.stdout_bytes, TOTAL);
  assert.equal(r.exit.exit_code, 0);
  assert.ok(r.exit.duration_ms >= 1000, `the command was held while the reader stalled (${r.exit.duration_ms} ms)`);
});

test('the same stall without lossless: the command is not held, the reader gets gap events for what it missed', async () => {
  const r = await slowReader(false, 1500);
  assert.ok(r.gaps > 0, 'gaps reported');
  assert.ok(r.bytes < TOTAL, 'bytes were skipped');
  assert.equal(r.exit.stdout_bytes, TOTAL);
});
