import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { withDaemonAndClient, type TestDaemon } from '../helpers/daemon';

/** `trl exec -t` driven from a real terminal (a pty made by test/helpers/tty-driver.py). */

const TRL = resolve(__dirname, '../../../bin/trl');
const DRIVER = resolve(__dirname, '../../../test/helpers/tty-driver.py');
const skip = process.env.TRL_SPAWNER === 'child_process' ? 'TRL_SPAWNER=child_process: a controlling terminal needs the native process layer' : false;

let daemon: TestDaemon;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60' } }, (d) => {
  daemon = d;
});

function drive(scenario: 'resize' | 'kill' | 'shell'): Promise<{ rc: number; restored: boolean; raw_while_running: boolean | null; output: string }> {
  return new Promise((done, fail) => {
    execFile('python3', [DRIVER, process.execPath, TRL, daemon.socketPath, scenario], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`${err.message}\n${stderr}`));
      done(JSON.parse(stdout));
    });
  });
}

test('trl exec -t: the terminal size goes along and follows a window change, keys reach the program, the terminal is restored', { skip }, async () => {
  const r = await drive('resize');
  assert.match(r.output, /ready 111 33 term=xterm-256color/);
  assert.match(r.output, /winch 120 40/);
  assert.match(r.output, /got hello/);
  assert.equal(r.rc, 3, r.output);
  assert.equal(r.restored, true, 'stty -g is the same before and after');
  // The remote terminal made each \n a \r\n; the local one passes that through untouched (no \r\r\n).
  assert.doesNotMatch(r.output, /\r\r\n/);
  // The program died in the alternate screen with its cursor hidden: trl switched both back.
  const tail = r.output.slice(r.output.lastIndexOf('got hello'));
  assert.ok(tail.includes('\x1b[?1049l') && tail.includes('\x1b[?25h'), JSON.stringify(tail));
});

test('trl shell: an interactive shell on a terminal in a temporary session, its exit status passed on', { skip }, async () => {
  const r = await drive('shell');
  assert.match(r.output, /\r\nhi-2\r\n/);
  assert.equal(r.rc, 4, r.output);
  assert.equal(r.restored, true);
});

test('trl exec -t killed with SIGKILL in raw mode: the terminal is restored anyway, out of the alternate screen, cursor shown', { skip }, async () => {
  const r = await drive('kill');
  assert.equal(r.raw_while_running, true, 'trl had the terminal in raw mode');
  assert.equal(r.restored, true, r.output);
  const after = r.output.slice(r.output.lastIndexOf('\x1b[?1049h'));
  assert.ok(after.includes('\x1b[?1049l') && after.includes('\x1b[?25h'), JSON.stringify(after));
});

test('trl exec -t without a terminal is refused with a message that says so', async () => {
  const child = spawn(process.execPath, [TRL, 'exec', '-t', '--', 'true'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TRL_SOCKET_PATH: daemon.socketPath },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 2);
  assert.match(err, /-t needs a terminal: trl's stdin is not one/);
});
