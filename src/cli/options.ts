import { parseArgs } from 'node:util';
import { UsageError } from './usage';

/** trl's own flags (before `--`), as parseArgs returns them. */
export interface Options {
  socket?: string;
  session?: string;
  cwd?: string;
  timeout?: string;
  'idle-timeout'?: string;
  shell?: string;
  env?: string[];
  interactive?: boolean;
  tty?: boolean;
  'print-id'?: boolean;
  'from-stdout'?: string;
  'from-stderr'?: string;
  signal?: string;
  help?: boolean;
}

/** Splits argv at `--`: trl's flags and verb before it, the command to run after it. */
export function parseCommandLine(argv: string[]): { opts: Options; positionals: string[]; command: string[] } {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      socket: { type: 'string' },
      session: { type: 'string' },
      cwd: { type: 'string' },
      timeout: { type: 'string' },
      'idle-timeout': { type: 'string' },
      shell: { type: 'string' },
      env: { type: 'string', short: 'e', multiple: true },
      interactive: { type: 'boolean', short: 'i' },
      tty: { type: 'boolean', short: 't' },
      'print-id': { type: 'boolean' },
      'from-stdout': { type: 'string' },
      'from-stderr': { type: 'string' },
      signal: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return { opts: values as Options, positionals, command };
}

export function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0)) throw new UsageError(`${flag} takes a number of seconds ≥ 0`);
  return n;
}

export function offset(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} takes a byte offset (an integer ≥ 0)`);
  return n;
}

export function envPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env takes NAME=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
