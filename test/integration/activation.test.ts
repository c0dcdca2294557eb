import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DAEMON_ENTRY, daemonIdentity, makePrivateDir } from '../helpers/launch';
import { RawWire } from '../helpers/raw-wire';
import { ACTIVATE, activate } from '../helpers/activate';

const activationModule = resolve(__dirname, '../../src/system/socket-activation.js');
const noActivate = !existsSync(ACTIVATE) && 'systemd-socket-activate not installed';

/** Sends one line and resolves with the first line of the answer (rejects after 10 s). */
async function ask(sock: string, line: string): Promise<string> {
  const [first] = await RawWire.exchange(sock, `${line}\n`, 1);
  return first!;
}

const FIXTURE = `
const { takeActivatedSockets } = require(process.argv[1]);
const { execFileSync } = require('node:child_process');
const net = require('node:net');
const sockets = takeActivatedSockets();
const left = ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'].filter((k) => k in process.env);
const server = net.createServer((c) => {
  c.on('data', () => {
    const childFds = execFileSync('ls', ['/proc/self/fd'], { encoding: 'utf8' }).split(/\\s+/).filter(Boolean);
    const childEnv = execFileSync('env', { encoding: 'utf8' });
    c.end(JSON.stringify({ pid: process.pid, sockets, left, childFds, childSeesListen: /^LISTEN_/m.test(childEnv) }) + '\\n');
    server.close();
  });
});
if (sockets.length === 0) { process.stdout.write(JSON.stringify({ sockets, left })); process.exit(0); }
server.listen({ fd: sockets[0].fd });
`;

test('takeActivatedSockets adopts the passed fd, clears LISTEN_*, and children inherit neither', { skip: noActivate }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trl-act-'));
  const sock = join(dir, 'trl.sock');
  const proc = await activate(sock, [process.execPath, '-e', FIXTURE, activationModule]);
  try {
    const reply = JSON.parse(await ask(sock, 'hello')) as {
      pid: number; sockets: { fd: number; name: string }[]; left: string[]; childFds: string[]; childSeesListen: boolean;
    };
    assert.deepEqual(reply.sockets, [{ fd: 3, name: 'trl' }]);
    assert.deepEqual(reply.left, [], 'LISTEN_* removed from process.env');
    assert.equal(reply.childSeesListen, false);
    // ls itself opens fd 3 for /proc/self/fd; the listening socket would be another one.
    assert.ok(reply.childFds.length <= 4, `child fds: ${reply.childFds.join(' ')}`);
    await new Promise((r) => proc.once('exit', r));
    assert.ok(statSync(sock).isSocket(), 'the socket passed in is not unlinked');
  } finally {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LISTEN_FDS meant for another pid is ignored, and still cleared', () => {
  const code = `const { takeActivatedSockets } = require(process.argv[1]);
const s = takeActivatedSockets();
process.stdout.write(JSON.stringify({ s, left: Object.keys(process.env).filter((k) => k.startsWith('LISTEN_')) }));`;
  for (const env of [{ LISTEN_PID: '1', LISTEN_FDS: '1' }, { LISTEN_FDS: '1' }, {}]) {
    const r = spawnSync(process.execPath, ['-e', code, activationModule], { env: { ...env, LISTEN_FDNAMES: 'x' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { s: [], left: [] });
  }
});

test('trld under socket activation: first connection starts it and is answered; the socket is its, not a bound one', { skip: noActivate || (!existsSync(DAEMON_ENTRY) && 'dist/src/main.js not built') }, async (t) => {
  const dir = makePrivateDir('trl-act-');
  const sock = join(dir, 'trl.sock');
  const ownPath = join(dir, 'own.sock');
  // setpriv execs (the pid, and so LISTEN_PID, stays) after dropping to the daemon's test user.
  const id = daemonIdentity();
  const asUser = id.user !== null ? ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups'] : [];
  const proc = await activate(sock, [...asUser, process.execPath, DAEMON_ENTRY], [
    `TRL_SOCKET_PATH=${ownPath}`, `TRL_RUNTIME_DIR=${join(dir, 'run')}`, 'TRL_LOG_LEVEL=warn', `HOME=${dir}`,
  ]);
  try {
    const started = process.hrtime.bigint();
    const first = JSON.parse(await ask(sock, '{"id":"1","method":"system.ping","params":{}}')) as { id: string; ok: boolean };
    const coldMs = Number(process.hrtime.bigint() - started) / 1e6;
    t.diagnostic(`cold start, connect to first answer (unbundled dist): ${coldMs.toFixed(0)} ms`);
    assert.deepEqual([first.id, first.ok], ['1', true]);
    const again = JSON.parse(await ask(sock, '{"id":"2","method":"system.ping"}')) as { ok: boolean };
    assert.equal(again.ok, true, 'later connections are served on the same fd');
    assert.equal(existsSync(ownPath), false, 'no socket of its own bound at TRL_SOCKET_PATH');

    const session = JSON.parse(await ask(sock, '{"id":"3","method":"session.create","params":{}}')) as { data: { session_id: string } };
    const run = JSON.parse(await ask(sock, JSON.stringify({
      id: '4', method: 'exec.run', params: { session_id: session.data.session_id, command: 'env | grep -c "^LISTEN_" || true' },
    }))) as { ok: boolean; data: { stdout: string } };
    assert.equal(run.ok, true);
    assert.equal(run.data.stdout.trim(), '0', 'commands see no LISTEN_* variables');

    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    assert.ok(statSync(sock).isSocket(), 'trld does not unlink a socket systemd passed');
  } finally {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
