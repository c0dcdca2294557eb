import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * A systemd unit as systemd would see it, for the keys doctor asks about:
 * the file plus its drop-ins (`<unit>.d/*.conf` beside it and under
 * /etc/systemd/system, /run/systemd/system), in systemd's order. Every
 * assignment is kept; an empty assignment resets a list, as systemd does.
 */
export class UnitFile {
  private readonly values = new Map<string, string[]>();

  constructor(
    readonly path: string,
    readonly files: string[],
    /** Specifiers to expand in values (a user unit's %t, %E, %h); none for system units. */
    private readonly specifiers: Record<string, string> = {},
  ) {
    for (const f of files) this.parse(readFileSync(f, 'utf8'));
  }

  /**
   * Reads `path` and its drop-ins; null when `path` does not exist. `dropInDirs`
   * (a user unit's directories, weakest first) replaces the system directories.
   */
  static load(path: string, opts: { dropInDirs?: string[]; specifiers?: Record<string, string> } = {}): UnitFile | null {
    if (!existsSync(path)) return null;
    const name = basename(path);
    // A unit given by flag (tests) takes only its own drop-ins; an installed one those of every system directory.
    const dirs = opts.dropInDirs
      ? [...new Set([...opts.dropInDirs.map((d) => join(d, `${name}.d`)), `${path}.d`])]
      : isSystemPath(path)
        ? [...new Set([`/usr/lib/systemd/system/${name}.d`, `/lib/systemd/system/${name}.d`, `/run/systemd/system/${name}.d`, `/etc/systemd/system/${name}.d`])]
        : [`${path}.d`];
    // Drop-ins of the same name: the later directory wins; the set is applied in file-name order.
    const byName = new Map<string, string>();
    for (const d of dirs) {
      let names: string[] = [];
      try {
        names = readdirSync(d).filter((n) => n.endsWith('.conf'));
      } catch {
        continue;
      }
      for (const n of names) byName.set(n, join(d, n));
    }
    const dropIns = [...byName.keys()].sort().map((n) => byName.get(n)!);
    return new UnitFile(path, [path, ...dropIns], opts.specifiers);
  }

  /** The last value of `Section.Key` (e.g. `Service.User`), or undefined when never set (or reset to empty). */
  get(key: string): string | undefined {
    const v = this.values.get(key);
    if (!v || v.length === 0) return undefined;
    return v[v.length - 1];
  }

  /** Whether the key was assigned at all (an empty assignment counts). */
  has(key: string): boolean {
    return this.values.has(key);
  }

  /** Every value of a list-valued key (Environment=, ListenStream=), after resets. */
  all(key: string): string[] {
    return this.values.get(key) ?? [];
  }

  /** Environment= assignments as name → value (later wins). */
  environment(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const line of this.all('Service.Environment')) {
      for (const word of splitWords(line)) {
        const eq = word.indexOf('=');
        if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
      }
    }
    return env;
  }

  private expand(value: string): string {
    if (Object.keys(this.specifiers).length === 0) return value;
    return value.replace(/%(.)/g, (m, c: string) => (c === '%' ? '%' : (this.specifiers[c] ?? m)));
  }

  private parse(text: string): void {
    let section = '';
    let pending = '';
    for (const raw of text.split('\n')) {
      let line = pending + raw.trim();
      pending = '';
      if (line.endsWith('\\')) {
        pending = line.slice(0, -1) + ' ';
        continue;
      }
      line = line.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) {
        section = sec[1]!;
        continue;
      }
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = `${section}.${line.slice(0, eq).trim()}`;
      const value = this.expand(line.slice(eq + 1).trim());
      if (value === '') this.values.set(key, []);
      else this.values.set(key, [...(this.values.get(key) ?? []), value]);
    }
  }
}

function isSystemPath(path: string): boolean {
  return /^\/(etc|run|lib|usr\/lib)\/systemd\/system\//.test(path);
}

/** Splits a unit value into words, honouring double and single quotes. */
function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/** Where an installed unit lives: /etc overrides /run overrides /usr/lib and /lib. */
export function findInstalledUnit(name: string): string | null {
  for (const d of ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system']) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** A socket unit for the HTTP listener (FileDescriptorName=http), not the agents' Unix socket. */
export function isHttpSocketUnit(u: UnitFile): boolean {
  return (u.get('Socket.FileDescriptorName') ?? '').split(':').includes('http');
}
