import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDaemonToExit, TestDaemon } from '../helpers/daemon';
import { listeningTcpPorts } from '../helpers/proc-net';
import { newSession, run } from '../helpers/requests';

let daemon: TestDaemon;
before(async () => {
  daemon = await TestDaemon.start();
});
after(() => daemon.dispose());

test('a command that sends SIGUSR1 to trld opens no inspector, and trld keeps serving', async () => {
  const c = await daemon.connect();
  try {
    const s = await newSession(c);
    assert.deepEqual(listeningTcpPorts(daemon.pid), [], 'no TCP listener before the signal');
    const r = await run(c, s, `kill -USR1 ${daemon.pid} && sleep 0.5 && kill -USR1 ${daemon.pid} && echo sent`);
    assert.equal(r.stdout, 'sent\n', r.stderr);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(listeningTcpPorts(daemon.pid), [], 'trld listens on no TCP port after SIGUSR1 (the inspector would be 9229)');
    assert.doesNotMatch(daemon.stderr, /Debugger listening/);
    assert.equal((await run(c, s, 'echo still')).stdout, 'still\n');
    assert.match(daemon.logs, /SIGUSR1 ignored/);
  } finally {
    c.close();
  }
});

test('trld refuses to start with an inspector flag in NODE_OPTIONS, naming NODE_OPTIONS', async () => {
  const exit = await runDaemonToExit({ env: { NODE_OPTIONS: '--inspect-port=0' } });
  assert.equal(exit.code, 2);
  assert.match(exit.stderr, /NODE_OPTIONS .*inspector flag/);
});

test('trld refuses to run with the inspector already open (--inspect)', async () => {
  const exit = await runDaemonToExit({ env: { NODE_OPTIONS: '--inspect=127.0.0.1:0' } });
  assert.equal(exit.code, 2);
  assert.match(exit.stderr, /inspector is open/);
});

/** Runs `use` with Node's arguments that load `code` before trld's first line (a file the daemon's user can read). */
async function withPreload(code: string, use: (nodeArgs: string[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trl-inspector-'));
  try {
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'preload.js'), `${code}\n`, { mode: 0o644 });
    await use(['-r', join(dir, 'preload.js')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('trld refuses to run when the inspector was opened before its first line, with no flag to tell (as a SIGUSR1 during Node\'s start would)', () =>
  withPreload("require('node:inspector').open(0, '127.0.0.1');", async (nodeArgs) => {
    const exit = await runDaemonToExit({ nodeArgs });
    assert.equal(exit.code, 2);
    assert.match(exit.stderr, /inspector is open/);
  }));

// No host: bound and listening before the preload returns (a host would be looked up first).
test('a TCP socket listening before trld\'s first line that is not the inspector does not stop it', () =>
  withPreload("require('node:net').createServer().listen(0).unref();", async (nodeArgs) => {
    const d = await TestDaemon.start({ nodeArgs });
    try {
      const pong = await d.oneShot({ id: 'p', method: 'system.ping' });
      assert.equal(pong.ok, true);
    } finally {
      await d.dispose();
    }
  }));
