import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TerminalScreen } from '../../src/exec/pty/screen';
import { ModeTracker } from '../../src/cli/tty-modes';
import { ExecRunParams, ExecResizeParams } from '../../src/protocol/messages';

/** The terminal parts without a process: the emulator's screen and pacing, the CLI's mode tracker, the pty param. */

test('pty: true is 80x24, false or absent is pipes, a size is kept; 0, fractions and more than 10000 are refused', () => {
  const base = { session_id: 's', command: 'true' };
  assert.deepEqual(ExecRunParams.parse({ ...base, pty: true }).pty, { cols: 80, rows: 24 });
  assert.equal(ExecRunParams.parse({ ...base, pty: false }).pty, null);
  assert.equal(ExecRunParams.parse(base).pty, undefined);
  assert.deepEqual(ExecRunParams.parse({ ...base, pty: { cols: 132, rows: 43 } }).pty, { cols: 132, rows: 43 });
  for (const bad of [{ cols: 0, rows: 24 }, { cols: 80, rows: 24.5 }, { cols: 10_001, rows: 24 }, { cols: 80 }, 'yes']) {
    assert.equal(ExecRunParams.safeParse({ ...base, pty: bad }).success, false, JSON.stringify(bad));
  }
  assert.equal(ExecResizeParams.safeParse({ exec_id: 'e', cols: 80, rows: 0 }).success, false);
});

test('the screen: cursor addressing, wrapping and the title as a terminal shows them; scrollback bounded by its setting', async () => {
  const screen = new TerminalScreen({ cols: 10, rows: 3 }, 5, () => {});
  screen.write(Buffer.from('\x1b]2;t1\x07'));
  for (let i = 1; i <= 20; i++) screen.write(Buffer.from(`line${i}\r\n`));
  screen.write(Buffer.from('0123456789abc'));
  const s = await screen.snapshot(100);
  assert.deepEqual(s.lines, ['line20', '0123456789', 'abc']);
  assert.deepEqual(s.cursor, { row: 2, col: 3 });
  assert.equal(s.title, 't1');
  assert.deepEqual(s.scrollback, ['line15', 'line16', 'line17', 'line18', 'line19']);
});

test('a screen far behind asks for the reading to stop, and to go on once it caught up', async () => {
  const calls: boolean[] = [];
  const screen = new TerminalScreen({ cols: 80, rows: 24 }, 0, (stop) => calls.push(stop));
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (let i = 0; i < 32; i++) screen.write(chunk); // 2 MiB at once: more than the emulator takes in one go
  assert.deepEqual(calls, [true]);
  await screen.snapshot();
  assert.deepEqual(calls, [true, false]);
});

test('a frozen screen answers as before, its emulator gone', async () => {
  const screen = new TerminalScreen({ cols: 20, rows: 2 }, 10, () => {});
  screen.write(Buffer.from('a\r\nb\r\nc'));
  const live = await screen.snapshot(5);
  await screen.freeze();
  assert.deepEqual(await screen.snapshot(5), live);
  assert.deepEqual((await screen.snapshot(0)).scrollback, []);
  screen.resize({ cols: 40, rows: 10 }); // ignored once frozen
  assert.deepEqual(screen.size, { cols: 20, rows: 2 });
});

test('the CLI puts back exactly the modes a program left on, even when a sequence is split between chunks', () => {
  const m = new ModeTracker();
  m.see(Buffer.from('\x1b[?104'));
  m.see(Buffer.from('9h\x1b[?25l\x1b[?2004h'));
  m.see(Buffer.from('\x1b[?2004l'));
  const r = m.resets();
  assert.ok(r.includes('\x1b[?1049l') && r.includes('\x1b[?25h'), JSON.stringify(r));
  assert.ok(!r.includes('2004'), JSON.stringify(r));
  const clean = new ModeTracker();
  clean.see(Buffer.from('\x1b[?1049h\x1b[?1049l\x1b[?25l\x1b[?25h plain text'));
  assert.equal(clean.resets(), '');
});

test('a row ends at its last visible character: spaces a program painted are trimmed like empty cells', async () => {
  const screen = new TerminalScreen({ cols: 20, rows: 2 }, 0, () => {});
  screen.write(Buffer.from('~      \x1b[7m   \x1b[0m\r\n  x   '));
  assert.deepEqual((await screen.snapshot()).lines, ['~', '  x']);
});
