import type { ExecStreamRequest, TrlClient } from '../client/client';
import { cancelOnInterrupt } from './interrupt';
import { envPairs, seconds, type Options } from './options';
import { exitStatus, render } from './render';
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
    ...(env ? { env } : {}),
    ...(interactive ? { stdin_open: true } : {}),
    // Nobody but this process can reach a temporary session: if it goes away, so does the command.
    ...(temporary ? { kill_on_disconnect: true } : {}),
    // Like a terminal or a pipe: a slow reader (trl exec … > file) slows the command instead of losing output.
    lossless: true,
  };
  const stopInterrupts = { dispose: () => {}, used: () => false };
  const input = { stop: () => {} };
  try {
    const stream = await client.stream(params);
    if (opts['print-id']) process.stderr.write(`trl: exec ${stream.execId} (session ${sessionId})\n`);
    Object.assign(stopInterrupts, cancelOnInterrupt(client, stream.execId));
    if (interactive) Object.assign(input, forwardStdin(client, stream.execId));
    let brokenPipe = false;
    const exit = await render(stream.events, () => {
      brokenPipe = true;
      void client.cancel(stream.execId).catch(() => {});
    });
    return exitStatus(exit, stopInterrupts.used() || brokenPipe);
  } finally {
    stopInterrupts.dispose();
    input.stop();
    if (temporary) await client.request('session.destroy', { session_id: sessionId }).catch(() => {});
  }
}

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
