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
export async function takeTerminal(client: TrlClient, execId: string): Promise<{ restore: (extra: string) => void }> {
  const saved = sttySettings();
  const watcher = saved ? restoreIfTrlDies(saved) : null;
  // In-process (tcsetattr): nothing of it can outlive a killed trl. libuv keeps the settings from
  // before it and puts exactly those back on setRawMode(false), output processing included.
  process.stdin.setRawMode(true);
  // libuv's raw mode keeps output processing (a \n becomes \r\n): the remote terminal already did
  // that, and a program in raw mode there means a bare \n. Output passes through untouched, as with ssh.
  // The watcher switches it off itself, before it waits for trl's end, so that a trl killed meanwhile
  // cannot leave an stty of its own running that lands after the watcher's restore.
  if (!(watcher && (await watcher.ready))) stty(['-opost']);
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
        // Told, it exits without touching the terminal: a late stty would undo the line editing of the shell that prompts next.
        watcher.child.stdin?.end('restored\n');
        watcher.child.unref();
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

/** How long trl waits for the watcher to take the terminal's output processing off before doing it itself. */
const WATCHER_READY_MS = 2000;

/**
 * A shell that switches output processing off, says "ready", then waits for
 * end-of-file on a pipe from trl and restores the terminal unless trl said
 * it had: trl's end, however it comes. `ready` is false if it never said so.
 */
function restoreIfTrlDies(saved: string): { child: ChildProcess; ready: Promise<boolean> } | null {
  if (!/^[0-9a-fA-F:]+$/.test(saved)) return null;
  try {
    // End-of-file without "restored" means trl died: the modes a program may have left on go too.
    const script = `trap '' INT HUP TERM QUIT; stty -opost <&2; echo "ready $?"; read -r how; [ "$how" = restored ] && exit 0; printf '${DIED_RESETS}' >&2; stty ${saved} <&2`;
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'pipe', process.stdin] });
    child.on('error', () => {});
    const ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), WATCHER_READY_MS);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      child.stdout!.once('data', (chunk: Buffer) => settle(chunk.toString().startsWith('ready 0')));
      child.stdout!.once('end', () => settle(false));
      child.once('error', () => settle(false));
    });
    // Afterwards its output is nothing we read; it must not hold trl's event loop open.
    void ready.then(() => {
      child.stdout!.destroy();
    });
    return { child, ready };
  } catch {
    return null;
  }
}
