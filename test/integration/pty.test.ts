import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDaemonAndClient } from '../helpers/daemon';
import { readUntil } from '../helpers/terminal';
import { collectStream, type ExitEvent, type StreamEvent, type TrlClient } from '../../src/client/client';

/**
 * Commands on a terminal (pty): real programs on a real pseudo-terminal of
 * the native spawner; sizes, keys, ^C, the screen an emulator keeps.
 */

const fallback = process.env.TRL_SPAWNER === 'child_process';
const skip = fallback ? 'TRL_SPAWNER=child_process: a controlling terminal needs the native process layer (refusal tested below)' : false;

let client: TrlClient;
withDaemonAndClient({ env: { TRL_DEFAULT_TIMEOUT_S: '60', TRL_PTY_MAX_COLS: '300', TRL_PTY_MAX_ROWS: '100' } }, (_d, c) => {
  client = c;
});

async function session(): Promise<string> {
  return (await client.createSession({ working_dir: '/tmp' })).session_id;
}

/** The remaining events up to the exit event. */
async function exitOf(it: AsyncIterator<StreamEvent>): Promise<{ exit: ExitEvent; stdout: string }> {
  let stdout = '';
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error('no exit event');
    if (r.value.event === 'output') stdout += r.value.data;
    if (r.value.event === 'exit') return { exit: r.value, stdout };
  }
}

test('pty: true is an 80x24 xterm on /dev/pts/N, the command is its session leader, stderr arrives merged as stdout', { skip }, async () => {
  const r = await client.run({ session_id: await session(), command: 'tty; stty size; echo "term=$TERM"; echo to-stderr >&2; ps -o sid=,tpgid=,pgid= -p $$', pty: true });
  assert.equal(r.exit_code, 0, r.stdout);
  const lines = r.stdout.split('\r\n');
  assert.match(lines[0]!, /^\/dev\/pts\/\d+$/);
  assert.equal(lines[1], '24 80');
  assert.equal(lines[2], 'term=xterm-256color');
  assert.equal(lines[3], 'to-stderr');
  assert.equal(r.stderr, '');
  assert.equal(r.stderr_bytes, 0);
  // The shell leads its own session; the terminal's foreground group is the shell's group.
  const [sid, tpgid, pgid] = lines[4]!.trim().split(/\s+/).map(Number);
  assert.equal(sid, pgid);
  assert.equal(tpgid, pgid);
});

test('exec.run stdin on a terminal is typed at the start', { skip }, async () => {
  const r = await client.run({ session_id: await session(), command: 'stty -echo; read x; echo "got:$x"', pty: true, stdin: 'typed\r' });
  assert.equal(r.exit_code, 0);
  assert.match(r.stdout, /got:typed\r\n$/);
});

test('a TERM in the command env wins over xterm-256color', { skip }, async () => {
  const r = await client.run({ session_id: await session(), command: 'echo "$TERM"', pty: true, env: { TERM: 'vt100' } });
  assert.equal(r.stdout, 'vt100\r\n');
});

test('stty size follows exec.resize, and the foreground program gets SIGWINCH', { skip }, async () => {
  const py = 'import os,signal,sys\n' +
    'signal.signal(signal.SIGWINCH, lambda *a: os.write(1, b"winch %d %d\\n" % tuple(os.get_terminal_size(0))))\n' +
    'print("start", *os.get_terminal_size(0), flush=True)\n' +
    'sys.stdin.readline()';
  const s = await client.stream({ session_id: await session(), command: `stty size; python3 -c '${py}'; stty size`, pty: { cols: 100, rows: 30 } });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (out) => out.includes('30 100\r\n') && out.includes('start 100 30\r\n'));
  const resized = await client.resize(s.execId, 120, 40);
  assert.deepEqual(resized, { exec_id: s.execId, cols: 120, rows: 40 });
  await readUntil(it, (out) => out.includes('winch 120 40\r\n'));
  await client.input(s.execId, '\r');
  const { exit, stdout } = await exitOf(it);
  assert.equal(exit.exit_code, 0);
  assert.match(stdout, /40 120\r\n$/);
});

test('a line typed through exec.input reaches python input(), echoed by the terminal', { skip }, async () => {
  const s = await client.stream({ session_id: await session(), command: `python3 -c 'print("got:" + input("name? "))'`, pty: true });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (out) => out.includes('name? '));
  await client.input(s.execId, 'Ada Lovelace\r');
  const { exit, stdout } = await exitOf(it);
  assert.equal(exit.exit_code, 0);
  assert.equal(stdout, 'Ada Lovelace\r\ngot:Ada Lovelace\r\n');
});

test('^D through exec.input ends input: cat sees end-of-file', { skip }, async () => {
  const s = await client.stream({ session_id: await session(), command: 'stty -echo; echo ready; cat; echo "cat done"', pty: true });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (out) => out.includes('ready'));
  await client.input(s.execId, 'one\r\u0004');
  const { exit, stdout } = await exitOf(it);
  assert.equal(exit.exit_code, 0);
  assert.equal(stdout, 'one\r\ncat done\r\n');
});

test('^C through exec.input interrupts sleep 100 through the line discipline, and the result says so', { skip }, async () => {
  const s = await client.stream({ session_id: await session(), command: 'echo sleeping; sleep 100', pty: true });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (out) => out.includes('sleeping'));
  // The shell echoes before it forks sleep: wait for sleep to be the one in the foreground.
  await waitFor(async () => (await client.run({ session_id: await session(), command: `pgrep -s ${s.response.pid} -x sleep || true` })).stdout.trim() !== '');
  await client.input(s.execId, '\u0003');
  const { exit, stdout } = await exitOf(it);
  assert.ok(exit.signal === 'SIGINT' || exit.exit_code === 130, `ended by ^C: ${JSON.stringify(exit)}`);
  assert.equal(exit.cancelled, false);
  assert.equal(exit.timed_out, false);
  assert.match(stdout, /\^C/); // the terminal echoes the interrupt, as a person would see it
});

test('exec.screen reads a full-screen redraw: alternate screen, cursor addressing, title; while running and after exit', { skip }, async () => {
  const draw = String.raw`printf '\e]0;my title\a\e[?1049h\e[2J\e[5;10Hhello\e[2;1Hsecond row\e[5;15H'`;
  const s = await client.stream({ session_id: await session(), command: `${draw}; read x; printf '\\e[?1049l'; echo bye`, pty: { cols: 40, rows: 10 } });
  const it = s.events[Symbol.asyncIterator]();
  await readUntil(it, (out) => out.includes('second row'));
  const live = await client.screen(s.execId);
  assert.equal(live.state, 'running');
  assert.equal(live.cols, 40);
  assert.equal(live.rows, 10);
  assert.equal(live.lines.length, 10);
  assert.equal(live.lines[1], 'second row');
  assert.equal(live.lines[4], '         hello');
  assert.deepEqual(live.lines.filter((_l, i) => i !== 1 && i !== 4), Array(8).fill(''));
  assert.deepEqual(live.cursor, { row: 4, col: 14 });
  assert.equal(live.title, 'my title');
  assert.equal(live.alternate, true);
  await client.resize(s.execId, 50, 12);
  await client.input(s.execId, '\r');
  await exitOf(it);
  const after = await client.screen(s.execId);
  assert.equal(after.state, 'exited');
  assert.deepEqual((await client.execs()).find((e) => e.exec_id === s.execId)?.pty, { cols: 50, rows: 12 });
  assert.equal(after.alternate, false);
  assert.equal(after.cols, 50);
  assert.equal(after.rows, 12);
  assert.ok(after.lines.includes('bye'), JSON.stringify(after.lines));
});

test('exec.screen keeps scrollback up to the asked number of lines', { skip }, async () => {
  const s = await client.stream({ session_id: await session(), command: 'seq 1 50', pty: { cols: 20, rows: 5 } });
  await collectStream(s.events);
  const sc = await client.screen(s.execId, 3);
  assert.deepEqual(sc.lines, ['47', '48', '49', '50', '']);
  assert.deepEqual(sc.scrollback, ['44', '45', '46']);
});

test('bad sizes are refused with INVALID_PARAMS naming the field', { skip }, async () => {
  const sid = await session();
  await assert.rejects(client.run({ session_id: sid, command: 'true', pty: { cols: 0, rows: 24 } }), { code: 'INVALID_PARAMS', message: /params\.pty\.cols/ });
  await assert.rejects(client.run({ session_id: sid, command: 'true', pty: { cols: 80, rows: 1e9 } }), { code: 'INVALID_PARAMS', message: /params\.pty\.rows/ });
  await assert.rejects(client.run({ session_id: sid, command: 'true', pty: { cols: 301, rows: 24 } }), { code: 'INVALID_PARAMS', message: /TRL_PTY_MAX_COLS 300/ });
  await assert.rejects(client.run({ session_id: sid, command: 'true', pty: { cols: 80.5, rows: 24 } as never }), { code: 'INVALID_PARAMS' });
  const s = await client.stream({ session_id: sid, command: 'read x', pty: true });
  await assert.rejects(client.resize(s.execId, 80, 0), { code: 'INVALID_PARAMS', message: /params\.rows/ });
  await assert.rejects(client.resize(s.execId, 80, 101), { code: 'INVALID_PARAMS', message: /TRL_PTY_MAX_ROWS 100/ });
  await client.input(s.execId, '\r');
  await collectStream(s.events);
});

test('input and resize to a finished terminal exec: EXEC_NOT_RUNNING; resize or screen of a pipe exec: INVALID_PARAMS', { skip }, async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: 'true', pty: true });
  await collectStream(s.events);
  await assert.rejects(client.input(s.execId, 'x'), { code: 'EXEC_NOT_RUNNING' });
  await assert.rejects(client.resize(s.execId, 100, 30), { code: 'EXEC_NOT_RUNNING' });
  const p = await client.stream({ session_id: sid, command: 'sleep 30', stdin_open: true });
  await assert.rejects(client.resize(p.execId, 100, 30), { code: 'INVALID_PARAMS', message: /not on a terminal/ });
  await assert.rejects(client.screen(p.execId), { code: 'INVALID_PARAMS', message: /not on a terminal/ });
  await client.cancel(p.execId, 'SIGKILL');
  await collectStream(p.events);
});

test('a terminal command carries cd and export over when its shell exits normally, and times out like any other', { skip }, async () => {
  const sid = await session();
  const r = await client.run({ session_id: sid, command: 'cd /usr && export PTY_CARRIED=yes', pty: true });
  assert.equal(r.exit_code, 0);
  const after = await client.run({ session_id: sid, command: 'echo "$PWD $PTY_CARRIED"' });
  assert.equal(after.stdout, '/usr yes\n');
  const t = await client.run({ session_id: sid, command: 'sleep 100', pty: true, timeout_s: 0.5 });
  assert.equal(t.timed_out, true);
  assert.equal(t.killed_by, 'timeout');
});

test('a flood on the terminal: every byte is counted, ping is answered meanwhile, the screen shows its end', { skip }, async () => {
  const sid = await session();
  const s = await client.stream({ session_id: sid, command: `head -c 20000000 /dev/zero | tr '\\0' x; echo; echo END`, pty: { cols: 100, rows: 5 } });
  const ping = await client.request<{ uptime_s: number }>('system.ping');
  assert.equal(typeof ping.uptime_s, 'number');
  const got = await collectStream(s.events);
  assert.equal(got.exit?.exit_code, 0);
  // A terminal turns each \n into \r\n (onlcr): 20,000,000 x, two newlines, END.
  // The last bytes come after the slave hangs up: they are read to the end, not cut at end-of-file.
  assert.equal(got.exit?.stdout_bytes, 20_000_000 + 2 * 2 + 3);
  assert.equal(got.stdout.subarray(-8).toString(), 'x\r\nEND\r\n');
  const sc = await client.screen(s.execId);
  assert.equal(sc.lines[3], 'END');
});

test('under the child_process spawner a pty is refused with INVALID_PARAMS naming the native process layer', { skip: fallback ? false : 'native spawner in use' }, async () => {
  await assert.rejects(client.run({ session_id: await session(), command: 'true', pty: true }), { code: 'INVALID_PARAMS', message: /native process layer/ });
});

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('condition not reached in 5 s');
}
