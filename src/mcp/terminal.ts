import type { ExecScreen } from '../client/client';
import type { Follower } from './follower';

/** Quiet time after the last output (or input) before read_screen takes the screen: a redraw usually comes in one burst. */
const SETTLE_QUIET_MS = 250;
/** read_screen never waits longer than this for a program that keeps printing (a clock, a progress bar). */
const SETTLE_MAX_MS = 3000;

/**
 * Waits until the command's output has been quiet for a moment, so the screen
 * shows the effect of the keys just sent rather than half a redraw. Returns at
 * once for a command that ended, is waiting for input, or is not followed.
 */
export async function settle(f: Follower | undefined): Promise<void> {
  if (!f) return;
  const deadline = Date.now() + SETTLE_MAX_MS;
  for (;;) {
    if (!f.running || f.waitingPid !== null) return;
    const quietFor = Date.now() - f.lastActivity;
    if (quietFor >= SETTLE_QUIET_MS || Date.now() >= deadline) return;
    await new Promise((res) => setTimeout(res, Math.min(SETTLE_QUIET_MS - quietFor, deadline - Date.now())));
  }
}

/**
 * read_screen's answer: the state, size, title, cursor and the rows numbered
 * from 0 (as the cursor is), so a model can tell where it is typing. Blank rows
 * at the bottom are summarised in one line.
 */
export function renderScreen(s: ExecScreen): string {
  const lines = [
    `exec_id: ${s.exec_id}`,
    `state: ${s.state}`,
    `size: ${s.cols} columns x ${s.rows} rows`,
    `title: ${s.title === '' ? '(none)' : JSON.stringify(s.title)}`,
    `alternate screen: ${s.alternate ? 'yes (a full-screen program: editor, pager, top, …)' : 'no'}`,
    `cursor: row ${s.cursor.row}, column ${s.cursor.col} (from 0, top-left)`,
  ];
  if (s.scrollback.length > 0) {
    lines.push(`scrollback (${s.scrollback.length} lines above the screen, oldest first):`);
    for (const l of s.scrollback) lines.push(`   | ${l.trimEnd()}`);
  }
  // A program that paints spaces to the end of a row (vim does) leaves blanks the emulator keeps: they tell a model nothing.
  const rows = s.lines.map((l) => l.trimEnd());
  let last = rows.length - 1;
  while (last >= 0 && rows[last] === '' && last !== s.cursor.row) last--;
  const width = String(rows.length - 1).length;
  lines.push(`screen (row | text):`);
  for (let i = 0; i <= last; i++) lines.push(`${String(i).padStart(width)} | ${rows[i]}`);
  if (last < rows.length - 1) lines.push(last + 1 === rows.length - 1 ? `(row ${last + 1} is blank)` : `(rows ${last + 1}–${rows.length - 1} are blank)`);
  return lines.join('\n');
}
