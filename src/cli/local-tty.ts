import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { TrlRequestError, type TrlClient } from '../client/client';
import { UsageError } from './usage';

/** The local terminal, checked: stdin and stdout both a terminal, or a usage error that says so. */
export function localTerminalSize(): { cols: number; rows: number } {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`-t needs a terminal: trl's ${process.stdin.isTTY ? 'stdout' : 'stdin'} is not one (run it in a terminal, or drop -t and use -i to pass input)`);
  }
  return { cols: process.stdout.columns || 80, rows: process.stdout.rows || 24 };
}

/**
 * The local terminal in raw mode for the remote one: every key goes to the
 * command as it is typed (^C included: the remote line discipline interrupts
 * the remote foreground job), our window size follows SIGWINCH to exec.resize.
 * `restore` puts the terminal back as it was; so does a small watcher
 * process if trl itself is killed (even with SIGKILL), because its pipe
 * from trl closes then.
 */
export function takeTerminal(client: TrlClient, execId: string): { restore: (extra: string) => void } {
  const saved = sttySettings();
  const watcher = saved ? restoreIfTrlDies(saved) : null;
  process.stdin.setRawMode(true);
  // libuv's raw mode keeps output processing (a \n becomes \r\n): the remote terminal already did
  // that, and a program in raw mode there means a bare \n. Output passes through untouched, as with ssh.
  stty(['-opost']);
  const onResize = () => {
    client.resize(execId, process.stdout.columns, process.stdout.rows).catch(() => {}); // ended meanwhile
  };
  process.stdout.on('resize', onResize);
  const decoder = new StringDecoder('utf8');
  let stopped = false;
  const send = (text: string): void => {
    client.input(execId, text).catch((err: Error) => {
      if (stopped || (err instanceof TrlRequestError && err.code === 'EXEC_NOT_RUNNING')) return;
      process.stderr.write(`\r\ntrl: passing keys on failed: ${err.message}\r\n`);
    });
  };
  const onData = (chunk: Buffer) => {
    const text = decoder.write(chunk);
    if (text) send(text);
  };
  process.stdin.on('data', onData);
  let restored = false;
  return {
    restore: (extra) => {
      if (restored) return;
      restored = stopped = true;
      process.stdin.off('data', onData);
      process.stdout.off('resize', onResize);
      if (extra) process.stdout.write(extra);
      try {
        process.stdin.setRawMode(false);
      } catch {
        /* the terminal is gone */
      }
      process.stdin.pause();
      process.stdin.unref?.();
      if (watcher) {
        watcher.stdin?.end('restored\n'); // it restores the saved settings once more, harmlessly, and exits
        watcher.unref();
      }
    },
  };
}

/** `stty -g` of our terminal: every setting, to put back. */
function sttySettings(): string | null {
  return stty(['-g'])?.trim() ?? null;
}

/** stty on our terminal (stdin); its output, or null when it failed. */
function stty(args: string[]): string | null {
  try {
    return execFileSync('stty', args, { stdio: [0, 'pipe', 'ignore'] }).toString();
  } catch {
    return null;
  }
}

/** What a dead trl cannot switch back itself: alternate screen, hidden cursor, cursor keys, bracketed paste, mouse, colours (printf's octal escapes). */
const DIED_RESETS = ['?1049l', '?25h', '?1l', '?2004l', '?1000l', '?1002l', '?1003l', '?1006l', '0m'].map((m) => `\\033[${m}`).join('');

/** A shell that waits for end-of-file on a pipe from trl, then restores the terminal: trl's end, however it comes. */
function restoreIfTrlDies(saved: string): ChildProcess | null {
  if (!/^[0-9a-fA-F:]+$/.test(saved)) return null;
  try {
    // trl says "restored" before it ends; end-of-file without it means trl died: the modes a program may have left on go too.
    const script = `trap '' INT HUP TERM QUIT; read -r how; [ "$how" = restored ] || printf '${DIED_RESETS}' >&2; cat >/dev/null; stty ${saved} <&2`;
    const child = spawn('/bin/sh', ['-c', script], {
      stdio: ['pipe', 'ignore', process.stdin],
      detached: false,
    });
    child.on('error', () => {});
    return child;
  } catch {
    return null;
  }
}
