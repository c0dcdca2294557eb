/**
 * Parses `export -p` as dash and bash print it, so the EXIT trap can report
 * the environment with a builtin instead of starting `env` (a whole program
 * per command). Entries:
 *   dash: export NAME='value'   (a ' inside is written '"'"')
 *   bash: declare -x NAME="value"  or  declare -x NAME=$'line1\nline2'
 *   both: export NAME / declare -x NAME  (exported but unset: skipped)
 * Values are assembled as bytes and decoded as UTF-8 at the end, because
 * bash writes non-ASCII bytes as octal escapes in some locales.
 */
export function parseExportP(text: Buffer): Record<string, string> {
  const env: Record<string, string> = {};
  const p = new Parser(text);
  while (!p.done()) {
    const entry = p.entry();
    if (entry) env[entry[0]] = entry[1];
  }
  return env;
}

const NL = 10;
const SPACE = 32;
const isNameByte = (b: number, first: boolean): boolean =>
  b === 95 || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (!first && b >= 48 && b <= 57);

class Parser {
  private i = 0;
  constructor(private readonly s: Buffer) {}

  done(): boolean {
    return this.i >= this.s.length;
  }

  /** One entry (through its end of line); null for lines that are not NAME=value entries. */
  entry(): [string, string] | null {
    const s = this.s;
    let skip = false;
    if (this.lit('export ')) {
      /* dash, or bash in POSIX mode */
    } else if (this.lit('declare -')) {
      const start = this.i;
      while (this.i < s.length && s[this.i] !== SPACE && s[this.i] !== NL) this.i++;
      const flags = s.toString('latin1', start, this.i);
      skip = !flags.includes('x') || flags.includes('a') || flags.includes('A');
      if (s[this.i] === SPACE) this.i++;
    } else {
      this.toEndOfLine();
      return null;
    }
    const nameStart = this.i;
    while (this.i < s.length && isNameByte(s[this.i]!, this.i === nameStart)) this.i++;
    const name = s.toString('latin1', nameStart, this.i);
    if (s[this.i] !== 61 /* = */) {
      this.toEndOfLine();
      return null;
    }
    this.i++;
    const value = this.word();
    this.toEndOfLine();
    if (skip || name === '') return null;
    return [name, value.toString('utf8')];
  }

  private lit(word: string): boolean {
    for (let k = 0; k < word.length; k++) if (this.s[this.i + k] !== word.charCodeAt(k)) return false;
    this.i += word.length;
    return true;
  }

  private toEndOfLine(): void {
    const nl = this.s.indexOf(NL, this.i);
    this.i = nl < 0 ? this.s.length : nl + 1;
  }

  /** A shell word: quoted and unquoted pieces up to an unquoted blank or newline. */
  private word(): Buffer {
    const s = this.s;
    const out: number[] = [];
    let depth = 0; // bash arrays: NAME=( … ) — only skipped over
    while (this.i < s.length) {
      const b = s[this.i]!;
      if ((b === NL || b === SPACE) && depth === 0) break;
      if (b === 39 /* ' */) {
        const end = s.indexOf(39, this.i + 1);
        const stop = end < 0 ? s.length : end;
        for (let k = this.i + 1; k < stop; k++) out.push(s[k]!);
        this.i = stop + 1;
      } else if (b === 36 /* $ */ && s[this.i + 1] === 39) {
        this.i += 2;
        this.ansiC(out);
      } else if (b === 34 /* " */) {
        this.i++;
        while (this.i < s.length && s[this.i] !== 34) {
          const c = s[this.i]!;
          const n = s[this.i + 1];
          if (c === 92 /* \ */ && (n === 36 || n === 96 || n === 34 || n === 92 || n === NL)) {
            if (n !== NL) out.push(n);
            this.i += 2;
          } else {
            out.push(c);
            this.i++;
          }
        }
        this.i++;
      } else if (b === 92 && this.i + 1 < s.length) {
        out.push(s[this.i + 1]!);
        this.i += 2;
      } else {
        if (b === 40) depth++;
        else if (b === 41 && depth > 0) depth--;
        out.push(b);
        this.i++;
      }
    }
    return Buffer.from(out);
  }

  /** The inside of $'…' (bash's ANSI-C quoting), after the opening quote. */
  private ansiC(out: number[]): void {
    const s = this.s;
    const simple: Record<number, number> = { 110: 10, 116: 9, 114: 13, 97: 7, 98: 8, 101: 27, 69: 27, 102: 12, 118: 11, 92: 92, 39: 39, 34: 34, 63: 63 };
    while (this.i < s.length && s[this.i] !== 39) {
      const c = s[this.i]!;
      if (c !== 92) {
        out.push(c);
        this.i++;
        continue;
      }
      const e = s[this.i + 1]!;
      this.i += 2;
      if (simple[e] !== undefined) out.push(simple[e]!);
      else if (e >= 48 && e <= 55) {
        let v = e - 48;
        for (let k = 0; k < 2 && s[this.i]! >= 48 && s[this.i]! <= 55; k++) v = v * 8 + (s[this.i++]! - 48);
        out.push(v & 0xff);
      } else if (e === 120 /* x */) {
        out.push(this.hex(2) & 0xff);
      } else if (e === 117 /* u */ || e === 85 /* U */) {
        for (const byte of Buffer.from(String.fromCodePoint(this.hex(e === 117 ? 4 : 8)))) out.push(byte);
      } else if (e === 99 /* c */) {
        out.push(s[this.i++]! & 0x1f);
      } else {
        out.push(92, e);
      }
    }
    this.i++;
  }

  private hex(max: number): number {
    let v = 0;
    let k = 0;
    for (; k < max; k++) {
      const d = parseInt(String.fromCharCode(this.s[this.i] ?? 0), 16);
      if (Number.isNaN(d)) break;
      v = v * 16 + d;
      this.i++;
    }
    return Math.min(v, 0x10ffff);
  }
}
