import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TestDaemon, runDaemonToExit, waitFor } from '../helpers/daemon';
import { DAEMON_ENTRY, daemonIdentity, makePrivateDir } from '../helpers/launch';
import { httpRequest, httpUrlOf } from '../helpers/http';

const TOKEN = randomBytes(24).toString('hex');
const dirs: string[] = [];
const daemons: TestDaemon[] = [];
after(async () => {
  await Promise.all(daemons.map((d) => d.dispose()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function privateDir(): string {
  const d = makePrivateDir('trl-http-start-');
  dirs.push(d);
  return d;
}
async function start(env: Record<string, string>): Promise<TestDaemon> {
  const d = await TestDaemon.start({ env });
  daemons.push(d);
  return d;
}
/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}
async function isListening(port: number): Promise<boolean> {
  return httpRequest(`http://127.0.0.1:${port}`, { method: 'GET' }, 2000).then(
    () => true,
    () => false,
  );
}

for (const [what, env, expect] of [
  ['without TRL_AUTH_TOKEN', {}, /TRL_AUTH_TOKEN is not set/],
  ['with a token shorter than 32 characters', { TRL_AUTH_TOKEN: 'x'.repeat(31) }, /too short \(31 characters, at least 32/],
  ['with a token containing a space', { TRL_AUTH_TOKEN: `${'a'.repeat(20)} ${'b'.repeat(20)}` }, /cannot travel in an Authorization header/],
] as const) {
  test(`HTTP enabled ${what}: refuses to start, says so, binds nothing`, async () => {
    const dir = privateDir();
    const sock = join(dir, 'trl.sock');
    const port = await freePort();
    const r = await runDaemonToExit({ env: { ...env, TRL_HTTP_LISTEN: `127.0.0.1:${port}`, TRL_SOCKET_PATH: sock } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, expect);
    assert.match(r.stderr, /HTTP is enabled/);
    if ('TRL_AUTH_TOKEN' in env) assert.ok(!r.stderr.includes(env.TRL_AUTH_TOKEN!) && !r.stdout.includes(env.TRL_AUTH_TOKEN!), 'the token is not echoed');
    assert.equal(await isListening(port), false, 'no HTTP listener');
    assert.equal(existsSync(sock), false, 'no Unix socket bound either');
  });
}

test('the token cannot be given as a flag (it would show in ps)', async () => {
  const r = await runDaemonToExit({ args: ['--auth-token', TOKEN], env: { TRL_HTTP_LISTEN: '127.0.0.1:0' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /auth-token/);
});

test('a malformed TRL_HTTP_LISTEN is refused, naming the setting', async () => {
  const r = await runDaemonToExit({ env: { TRL_HTTP_LISTEN: 'localhost:http', TRL_AUTH_TOKEN: TOKEN } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /TRL_HTTP_LISTEN/);
});

test('a bare port binds loopback, with no warning', async () => {
  const port = await freePort();
  const d = await start({ TRL_HTTP_LISTEN: String(port), TRL_AUTH_TOKEN: TOKEN });
  assert.equal(httpUrlOf(d), `http://127.0.0.1:${port}`);
  assert.ok(!d.logs.includes('non-loopback'));
});

test('a non-loopback address without TLS: served, with a warning in the log that the token travels in clear', async () => {
  const d = await start({ TRL_HTTP_LISTEN: '0.0.0.0:0', TRL_AUTH_TOKEN: TOKEN });
  const warn = d.logRecords().find((r) => r.level === 40 && String(r.msg).includes('non-loopback'));
  assert.ok(warn, d.logs);
  assert.match(String(warn.msg), /clear text/);
  assert.match(String(warn.msg), /TLS/);
  const r = await httpRequest(httpUrlOf(d), { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: { id: '1', method: 'system.ping' } });
  assert.equal(r.status, 200);
});

test('TLS from TRL_HTTP_TLS_CERT/KEY: HTTPS, and no clear-text warning on a non-loopback address', async (t) => {
  const dir = privateDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  if (gen.status !== 0) return t.skip(`openssl cannot make a certificate: ${gen.stderr}`);
  const id = daemonIdentity();
  for (const f of [cert, key]) {
    chownSync(f, id.uid, id.gid);
    chmodSync(f, 0o600);
  }
  const d = await start({ TRL_HTTP_LISTEN: '0.0.0.0:0', TRL_AUTH_TOKEN: TOKEN, TRL_HTTP_TLS_CERT: cert, TRL_HTTP_TLS_KEY: key });
  assert.ok(!d.logs.includes('non-loopback'));
  const url = new URL(httpUrlOf(d));
  assert.equal(url.protocol, 'https:');
  const body = JSON.stringify({ id: 'tls', method: 'system.ping' });
  const text = await new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: url.port, method: 'POST', path: '/', ca: readFileSync(cert), servername: 'localhost', checkServerIdentity: () => undefined,
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}`, 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve(s));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(JSON.parse(text).ok, true);
});

test('only one of the TLS pair: refused', async () => {
  const r = await runDaemonToExit({ env: { TRL_HTTP_LISTEN: '127.0.0.1:0', TRL_AUTH_TOKEN: TOKEN, TRL_HTTP_TLS_CERT: '/etc/hostname' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /TRL_HTTP_TLS_CERT and TRL_HTTP_TLS_KEY must be set together/);
});

const ACTIVATE = '/usr/bin/systemd-socket-activate';
test('socket activation: the fd named "http" in LISTEN_FDNAMES serves HTTP, the other the socket protocol', { skip: !existsSync(ACTIVATE) && 'systemd-socket-activate not installed' }, async () => {
  const dir = privateDir();
  const sock = join(dir, 'trl.sock');
  const port = await freePort();
  const id = daemonIdentity();
  const asUser = id.user !== null ? ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups'] : [];
  const proc = spawn(
    ACTIVATE,
    ['-l', sock, '-l', `127.0.0.1:${port}`, '--fdname=trl:http', `-ETRL_AUTH_TOKEN=${TOKEN}`, `-ETRL_RUNTIME_DIR=${join(dir, 'run')}`, `-EHOME=${dir}`,
      `-ETRL_SOCKET_PATH=${join(dir, 'own.sock')}`, ...asUser, process.execPath, DAEMON_ENTRY],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  proc.stdout!.on('data', (c) => (logs += c));
  proc.stderr!.on('data', (c) => (logs += c));
  try {
    assert.ok(await waitFor(() => existsSync(sock)), 'the activator bound the socket');
    chmodSync(sock, 0o600);
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` };
    const r = await httpRequest(`http://127.0.0.1:${port}`, { headers, body: { id: 'act', method: 'system.ping' } });
    assert.equal(r.status, 200, logs);
    assert.equal(JSON.parse(r.text).id, 'act');
    const denied = await httpRequest(`http://127.0.0.1:${port}`, { headers: { 'Content-Type': 'application/json' }, body: { id: 'act2', method: 'system.ping' } });
    assert.equal(denied.status, 401);
    assert.ok(await waitFor(() => logs.includes('"trld ready"')));
    const ready = logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'trld ready');
    assert.ok(ready.listen.some((w: string) => w.includes('fd 4')), JSON.stringify(ready.listen));
    assert.equal(existsSync(join(dir, 'own.sock')), false, 'nothing bound at TRL_SOCKET_PATH');
  } finally {
    proc.kill('SIGKILL');
  }
});
