/**
 * Standing abuse scenarios: what a command, a local process without the token,
 * or a flood of silent peers can do to the daemon. Part of `make chaos`
 * (dist/test/reliability/abuse-*.chaos.js). Each case prints what it tried and
 * what held as `# figure: …` diagnostics; the assertions are what must hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { TestDaemon, sleep, waitFor } from '../helpers/daemon';
import { httpRequest, httpUrlOf } from '../helpers/http';
import { listeningTcpPorts, tcpConnectionsOn } from '../helpers/proc-net';
import { assertDaemonHealthy, createSession, figure, nextId } from './lib';
import { RawWire } from '../helpers/raw-wire';

test('SIGUSR1 to trld from its own commands, 200 times: no inspector, trld keeps serving', { timeout: 120_000 }, async (t) => {
  const d = await TestDaemon.start();
  const w = await RawWire.open(d.socketPath);
  try {
    const s = await createSession(w);
    const r = await w.request(nextId('usr1'), 'exec.run', {
      session_id: s,
      command: `n=0; while [ $n -lt 200 ]; do kill -USR1 ${d.pid} || break; n=$((n+1)); done; echo $n`,
    });
    assert.equal(r.ok, true, JSON.stringify(r));
    await sleep(500);
    const ports = listeningTcpPorts(d.pid);
    const warnings = d.logRecords().filter((l) => String(l.msg).startsWith('SIGUSR1 ignored')).length;
    figure(t, 'sigusr1', { sent: Number(r.data.stdout.trim()), tcp_listeners_after: ports, inspector_banner: /Debugger listening/.test(d.stderr), log_warnings: warnings });
    assert.deepEqual(ports, []);
    assert.doesNotMatch(d.stderr, /Debugger listening/);
    await assertDaemonHealthy(d);
  } finally {
    w.close();
    await d.dispose();
  }
});

test('a command reads /proc/<trld>/{environ,mem,fd}: what it can reach of the token and of another session', { timeout: 120_000 }, async (t) => {
  const token = randomBytes(24).toString('hex');
  const secret = `other-session-${randomBytes(8).toString('hex')}`;
  const d = await TestDaemon.start({ env: { TRL_AUTH_TOKEN: token } });
  const w = await RawWire.open(d.socketPath);
  try {
    await createSession(w, { env: { OTHER_SECRET: secret } });
    const s = await createSession(w);
    // Python reads the writable mappings through /proc/<pid>/mem, as a hostile command would.
    const probe = [
      `p=${d.pid}`,
      `if tr '\\0' '\\n' </proc/$p/environ 2>/dev/null | grep -q "^TRL_AUTH_TOKEN=${token}$"; then echo environ=token; elif cat /proc/$p/environ >/dev/null 2>&1; then echo environ=readable; else echo environ=refused; fi`,
      `if ls /proc/$p/fd >/dev/null 2>&1; then echo fd=listable; else echo fd=refused; fi`,
      `python3 - $p ${secret} <<'PY'
import sys
pid, needle = int(sys.argv[1]), sys.argv[2].encode()
try:
    mem = open('/proc/%d/mem' % pid, 'rb')
except OSError:
    print('mem=refused'); sys.exit(0)
found = False
for line in open('/proc/%d/maps' % pid):
    addr, perms = line.split()[:2]
    if not perms.startswith('rw'): continue
    a, b = (int(x, 16) for x in addr.split('-'))
    try:
        mem.seek(a)
        if needle in mem.read(min(b - a, 64 << 20)): found = True; break
    except OSError:
        pass
print('mem=secret' if found else 'mem=opened')
PY`,
    ].join('\n');
    const r = await w.request(nextId('proc'), 'exec.run', { session_id: s, command: probe }, 60_000);
    assert.equal(r.ok, true, JSON.stringify(r));
    const seen = Object.fromEntries(
      String(r.data.stdout)
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    // Once trld is not dumpable, the kernel gives its /proc files to root.
    const dumpable = statSync(`/proc/${d.pid}/environ`).uid !== 0;
    figure(t, 'proc-reach', { daemon_dumpable: dumpable, ...seen, stderr: String(r.data.stderr).slice(0, 200) });
    if (!dumpable) {
      assert.notEqual(seen.environ, 'token', 'the token is not readable from /proc/<trld>/environ');
      assert.notEqual(seen.mem, 'secret', "another session's env value is not readable from /proc/<trld>/mem");
    } else {
      t.diagnostic('trld is dumpable here: a same-uid command reaches what is printed above (see docs/security.md)');
    }
    await assertDaemonHealthy(d);
  } finally {
    w.close();
    await d.dispose();
  }
});

/** A TCP peer that connects and never sends, nor closes its side; `onGone` once the daemon closed it. */
function silentPeer(port: number, onGone: () => void): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let gone = false;
    const done = () => {
      if (gone) return;
      gone = true;
      s.destroy();
      onGone();
    };
    s.on('data', () => {});
    s.on('end', done);
    s.on('error', done);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(s));
  });
}

test('silent HTTP peers kept at 200 open against TRL_MAX_CONNECTIONS=32 while a client with the token pings: every ping answered', { timeout: 120_000 }, async (t) => {
  const token = randomBytes(24).toString('hex');
  const d = await TestDaemon.start({
    env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: token, TRL_MAX_CONNECTIONS: '32', TRL_HTTP_HEADERS_TIMEOUT_S: '1' },
  });
  const url = httpUrlOf(d);
  const port = Number(new URL(url).port);
  const peers = new Set<Socket>();
  let opened = 0;
  let closedByDaemon = 0;
  let flooding = true;
  const flood = (async () => {
    while (flooding) {
      if (peers.size >= 200) {
        await sleep(5);
        continue;
      }
      opened++;
      const p = await silentPeer(port, () => {
        closedByDaemon++;
        peers.delete(p);
      });
      peers.add(p);
    }
  })();
  const answered: number[] = [];
  let failed = 0;
  try {
    const until = Date.now() + 5000;
    await sleep(200); // the flood first
    while (Date.now() < until) {
      const r = await httpRequest(url, { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: { id: 'g', method: 'system.ping' } }, 5000).catch(() => null);
      if (r?.status === 200) answered.push(r.status);
      else failed++;
      await sleep(50);
    }
    flooding = false;
    await flood;
    const heldAtEnd = tcpConnectionsOn(d.pid, port);
    const t0 = Date.now();
    const freed = await waitFor(() => tcpConnectionsOn(d.pid, port) === 0, 10_000);
    figure(t, 'http-silent-flood', { peers_opened: opened, closed_by_daemon: closedByDaemon, max_connections: 32, pings_ok: answered.length, pings_failed: failed, held_when_flood_stopped: heldAtEnd, freed_within_ms: freed ? Date.now() - t0 : null });
    assert.equal(failed, 0, 'every ping of the client with the token was answered 200');
    assert.ok(freed, 'the silent peers still open were closed by the daemon');
    await assertDaemonHealthy(d);
  } finally {
    flooding = false;
    for (const p of peers) p.destroy();
    await d.dispose();
  }
});

test('a local process floods bad tokens from 127.0.0.1 while the legitimate client works: the client is never limited', { timeout: 120_000 }, async (t) => {
  const token = randomBytes(24).toString('hex');
  const d = await TestDaemon.start({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: token } });
  const url = httpUrlOf(d);
  const post = (tok: string) =>
    httpRequest(url, { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: { id: 'b', method: 'system.ping' }, localAddress: '127.0.0.1' }, 5000).then(
      (r) => r.status,
      () => 0,
    );
  const bad: Record<number, number> = {};
  const good: Record<number, number> = {};
  let flooding = true;
  const flooders = Array.from({ length: 4 }, async () => {
    while (flooding) {
      const s = await post('b'.repeat(48));
      bad[s] = (bad[s] ?? 0) + 1;
    }
  });
  try {
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      const s = await post(token);
      good[s] = (good[s] ?? 0) + 1;
      await sleep(20);
    }
    flooding = false;
    await Promise.all(flooders);
    figure(t, 'bad-token-flood', { bad_token_statuses: bad, good_token_statuses: good });
    assert.deepEqual(Object.keys(good), ['200'], 'the client with the token got 200 every time');
    assert.ok((bad[429] ?? 0) > 0, 'the flood itself was rate-limited');
    await assertDaemonHealthy(d);
  } finally {
    flooding = false;
    await d.dispose();
  }
});
