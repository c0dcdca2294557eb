import type { Terminal } from '@xterm/headless';
import type { TerminalSize } from './master';

/** The screen as a person at the terminal would see it. */
export interface ScreenSnapshot {
  cols: number;
  rows: number;
  /** One string per row, top to bottom, trailing blanks trimmed. */
  lines: string[];
  /** Zero-based, from the top-left cell. */
  cursor: { row: number; col: number };
  /** The last title the program set (OSC 0 or 2); "" when none. */
  title: string;
  /** The program switched to the alternate screen (full-screen programs: editors, pagers, top). */
  alternate: boolean;
  /** Up to the asked number of lines that scrolled off the top, oldest first (normal screen only). */
  scrollback: string[];
}

/** Output not yet parsed by the emulator above which the terminal stops reading the command (and below which it reads again). */
const PENDING_HIGH = 1024 * 1024;
const PENDING_LOW = 256 * 1024;

/**
 * A terminal emulator (@xterm/headless) fed with everything a command on a
 * terminal writes, so its screen can be read at any time. Its memory is the
 * grid plus at most `scrollback` lines; when the command writes faster than
 * the emulator parses, `onBacklog(true)` asks for the reading to stop until
 * the emulator has caught up (`onBacklog(false)`), as a slow terminal would.
 */
export class TerminalScreen {
  private readonly term: Terminal;
  private title = '';
  private pending = 0;
  private backlogged = false;
  /** After the command: the last screen as text, the emulator gone (a retained exec keeps only this). */
  private frozen: ScreenSnapshot | null = null;

  constructor(
    size: TerminalSize,
    scrollback: number,
    private readonly onBacklog: (stop: boolean) => void,
  ) {
    // Loaded on the first terminal: a daemon that never runs one does not pay for the emulator.
    const { Terminal: Emulator } = require('@xterm/headless') as typeof import('@xterm/headless');
    this.term = new Emulator({ cols: size.cols, rows: size.rows, scrollback, allowProposedApi: true });
    this.term.onTitleChange((t) => (this.title = t));
  }

  write(chunk: Buffer): void {
    this.pending += chunk.length;
    this.term.write(chunk, () => {
      this.pending -= chunk.length;
      if (this.backlogged && this.pending <= PENDING_LOW) {
        this.backlogged = false;
        this.onBacklog(false);
      }
    });
    if (!this.backlogged && this.pending > PENDING_HIGH) {
      this.backlogged = true;
      this.onBacklog(true);
    }
  }

  resize(size: TerminalSize): void {
    if (!this.frozen) this.term.resize(size.cols, size.rows);
  }

  /** What a retained exec keeps of the screen once frozen: its text (UTF-16); 0 while the emulator runs (counted as a running command). */
  get retainedBytes(): number {
    if (!this.frozen) return 0;
    let chars = this.frozen.title.length;
    for (const l of this.frozen.lines) chars += l.length;
    for (const l of this.frozen.scrollback) chars += l.length;
    return chars * 2;
  }

  get size(): TerminalSize {
    const { cols, rows } = this.frozen ?? this.term;
    return { cols, rows };
  }

  /**
   * The command has ended: once the emulator has parsed everything, the
   * screen and all its scrollback are kept as text and the emulator is
   * disposed, so a retained exec holds characters, not a grid of cells.
   */
  freeze(): Promise<void> {
    return this.snapshot(Number.MAX_SAFE_INTEGER).then((last) => {
      this.frozen = last;
      this.term.dispose();
    });
  }

  /** The screen once everything written so far is parsed. */
  snapshot(scrollbackLines = 0): Promise<ScreenSnapshot> {
    if (this.frozen) {
      const f = this.frozen;
      return Promise.resolve({ ...f, scrollback: scrollbackLines > 0 ? f.scrollback.slice(-scrollbackLines) : [] });
    }
    return new Promise((resolve) => {
      this.term.write('', () => {
        const buf = this.term.buffer.active;
        // Spaces a program painted (vim's `~` rows) are trimmed as well as empty cells: a row ends at its last visible character.
        const line = (y: number) => (buf.getLine(y)?.translateToString(true) ?? '').replace(/ +$/, '');
        const lines: string[] = [];
        for (let y = 0; y < this.term.rows; y++) lines.push(line(buf.baseY + y));
        const scrollback: string[] = [];
        for (let y = Math.max(0, buf.baseY - scrollbackLines); y < buf.baseY; y++) scrollback.push(line(y));
        resolve({
          cols: this.term.cols,
          rows: this.term.rows,
          lines,
          cursor: { row: buf.cursorY, col: buf.cursorX },
          title: this.title,
          alternate: buf.type === 'alternate',
          scrollback,
        });
      });
    });
  }
}
