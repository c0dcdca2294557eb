import type { ExecStreamRequest, TrlClient } from '../client/client';
import { cancelOnInterrupt } from './interrupt';
import { envPairs, seconds, type Options } from './options';
import { localTerminalSize, takeTerminal } from './local-tty';
import { exitStatus, render } from './render';
import { ModeTracker } from './tty-modes';
import { forwardStdin } from './stdin';
import { UsageError } from './usage';

/** `trl exec`: runs a command (in a temporary session unless --session), streams its output, returns its exit status. */
export async function exec(client: TrlClient, argv: string[], opts: Options): Promise<number> {
  if (argv.length === 0) throw new UsageError('exec needs a command after --');
  // One argument is a shell command line as written; several are quoted word by word.
  const command = argv.length === 1 ? argv[0]! : argv.map(shellQuote).join(' ');
  const timeout_s = seconds(opts.timeout, '--timeout');
  const idle_timeout_s = seconds(opts['idle-timeout'], '--idle-timeout');
  const env = envPairs(opts.env);
  const interactive = opts.interactive ?? false;
  // Checked before anything is created: no terminal here, nothing to do there.
  const pty = opts.tty ? localTerminalSize() : undefined;
  // The remote programs draw for this terminal: they are told its type, as ssh does.
  const termEnv = pty ? { TERM: process.env.TERM || 'xterm-256color', ...env } : env;
  let sessionId = opts.session;
  const temporary = sessionId === undefined;
  if (temporary) {
    // temporary: the daemon destroys it with this connection, even if this process is killed.
    const created = await client.createSession({
      working_dir: opts.cwd ?? process.cwd(),
      ...(opts.shell ? { shell: opts.shell } : {}),
      temporary: true,
    });
    sessionId = created.session_id;
  } else if (opts.cwd || opts.shell) {
    throw new UsageError('--cwd and --shell apply to a new session; with --session, cd inside the command');
  }
  const params: ExecStreamRequest = {
    session_id: sessionId!,
    command,
    ...(timeout_s !== undefined ? { timeout_s } : {}),
    ...(idle_timeout_s !== undefined ? { idle_timeout_s } : {}),
    ...(termEnv ? { env: termEnv } : {}),
    ...(interactive && !pty ? { stdin_open: true } : {}),
    ...(pty ? { pty } : {}),
    // Nobody but this process can reach a temporary session: if it goes away, so does the command.
    ...(temporary ? { kill_on_disconnect: true } : {}),
    // Like a terminal or a pipe: a slow reader (trl exec … > file) slows the command instead of losing output.
    lossless: true,
    // trl writes bytes, never text: nothing is decoded and re-encoded, and binary output is not six bytes a byte.
    output_encoding: 'base64',
  };
  const stopInterrupts = { dispose: () => {}, used: () => false };
  const input = { stop: () => {} };
  const modes = new ModeTracker();
  const terminal = { restore: (_extra: string) => {} };
  try {
    const stream = await client.stream(params);
    if (opts['print-id']) process.stderr.write(`trl: exec ${stream.execId} (session ${sessionId})\n`);
    Object.assign(stopInterrupts, cancelOnInterrupt(client, stream.execId));
    if (pty) Object.assign(terminal, await takeTerminal(client, stream.execId));
    else if (interactive) Object.assign(input, forwardStdin(client, stream.execId));
    let brokenPipe = false;
    const exit = await render(
      stream.events,
      () => {
        brokenPipe = true;
        void client.cancel(stream.execId).catch(() => {});
      },
      pty ? (bytes) => modes.see(bytes) : undefined,
    );
    return exitStatus(exit, stopInterrupts.used() || brokenPipe);
  } finally {
    // A program that died in the alternate screen, with the cursor hidden or in raw mode leaves nothing behind here.
    terminal.restore(modes.resets());
    stopInterrupts.dispose();
    input.stop();
    if (temporary) await client.request('session.destroy', { session_id: sessionId }).catch(() => {});
  }
}

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
