/**
 * The terminal modes a program can switch on with DEC private sequences and
 * leave on when it dies (an editor killed in the alternate screen, a TUI
 * that hid the cursor): followed in the output passed to the local terminal,
 * so that `trl exec -t` can switch back exactly those at the end.
 */
const RESETS: Record<string, string> = {
  '1049': '\x1b[?1049l', // alternate screen, cursor saved
  '1047': '\x1b[?1047l', // alternate screen
  '47': '\x1b[?47l', // alternate screen (old form)
  '25': '\x1b[?25h', // cursor hidden (reset is "show")
  '1': '\x1b[?1l', // application cursor keys
  '2004': '\x1b[?2004l', // bracketed paste
  '1000': '\x1b[?1000l', // mouse reporting
  '1002': '\x1b[?1002l',
  '1003': '\x1b[?1003l',
  '1006': '\x1b[?1006l',
};

/** CSI ? n [; n…] h|l: a DEC private mode set or reset. */
const MODE_SEQUENCE = /\x1b\[\?([\d;]+)([hl])/g;
/** Bytes kept from the end of a chunk, in case a sequence is cut in two. */
const CARRY = 32;

export class ModeTracker {
  private readonly on = new Set<string>();
  private carry = '';

  see(chunk: Buffer): void {
    const text = this.carry + chunk.toString('latin1');
    for (const m of text.matchAll(MODE_SEQUENCE)) {
      for (const mode of m[1]!.split(';')) {
        if (!(mode in RESETS)) continue;
        // For the cursor, "l" is the unusual state (hidden); for the others, "h".
        const unusual = mode === '25' ? m[2] === 'l' : m[2] === 'h';
        if (unusual) this.on.add(mode);
        else this.on.delete(mode);
      }
    }
    const lastEsc = text.lastIndexOf('\x1b');
    this.carry = lastEsc >= 0 && text.length - lastEsc < CARRY ? text.slice(lastEsc) : '';
  }

  /** What switches every mode still on back off (and resets colours if anything was left on). */
  resets(): string {
    if (this.on.size === 0) return '';
    return [...this.on].map((m) => RESETS[m]).join('') + '\x1b[0m';
  }
}
