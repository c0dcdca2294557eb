import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { TestDaemon, waitFor } from '../helpers/daemon';
import { httpRequest, httpUrlOf } from '../helpers/http';
import { tcpConnectionsOn } from '../helpers/proc-net';

const TOKEN = randomBytes(24).toString('hex');
const MAX = 4;
let daemon: TestDaemon;
let url: string;
let port: number;
before(async () => {
  daemon = await TestDaemon.start({
    env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN, TRL_MAX_CONNECTIONS: String(MAX), TRL_HTTP_HEADERS_TIMEOUT_S: '1' },
  });
  url = httpUrlOf(daemon);
  port = Number(new URL(url).port);
});
after(() => daemon.dispose());

/** A peer that connects and never sends a byte, nor closes its side when the daemon closes its own. */
function silentPeer(): Promise<Socket & { ended: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true }) as Socket & { ended: boolean };
    s.ended = false;
    // The daemon's FIN ('end') or its reset ('error') both mean it closed the connection.
    s.on('data', () => {});
    s.on('end', () => (s.ended = true));
    s.on('error', () => (s.ended = true));
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const ping = () => httpRequest(url, { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: { id: 'p', method: 'system.ping' } });

test('TRL_MAX_CONNECTIONS silent HTTP peers do not keep the client with the token out', async () => {
  const peers = await Promise.all(Array.from({ length: MAX }, silentPeer));
  try {
    await waitFor(() => tcpConnectionsOn(daemon.pid, port) >= MAX, 2000);
    const r = await ping();
    assert.equal(r.status, 200, r.text);
    assert.equal(JSON.parse(r.text).ok, true);
  } finally {
    for (const p of peers) p.destroy();
  }
});

test('a silent HTTP peer is answered 408 and its connection fully closed by the daemon, even if the peer never closes its side', async () => {
  const peers = await Promise.all(Array.from({ length: 3 }, silentPeer));
  try {
    assert.ok(await waitFor(() => tcpConnectionsOn(daemon.pid, port) >= 3, 5000), 'the daemon accepted the peers');
    const closed = await waitFor(() => tcpConnectionsOn(daemon.pid, port) === 0, 10_000);
    assert.ok(closed, `the daemon still holds ${tcpConnectionsOn(daemon.pid, port)} connections on its HTTP port`);
    assert.ok(await waitFor(() => peers.every((p) => p.ended), 5000), 'each peer saw the daemon close');
    assert.equal((await ping()).status, 200);
  } finally {
    for (const p of peers) p.destroy();
  }
});

test('an unauthenticated request is answered and its connection closed: it holds no slot', async () => {
  const r = await httpRequest(url, { headers: { 'Content-Type': 'application/json', Connection: 'keep-alive' }, body: { id: 'x', method: 'system.ping' } });
  assert.equal(r.status, 401);
  assert.equal(r.headers.connection, 'close');
});
