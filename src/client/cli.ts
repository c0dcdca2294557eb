import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { runDoctor } from '../doctor/doctor';
import { connectToDaemon } from './discover';
import { TrlClient, TrlRequestError, outputBytes, type ExecStreamRequest, type ExitEvent, type Offsets, type StreamEvent } from './client';

const USAGE = `Usage: trl [--socket PATH] COMMAND

Commands:
  ping                         check that trld answers
  stats                        daemon statistics
  sessions                     list sessions
  exec [OPTIONS] -- CMD...     run CMD, streaming its stdout and stderr as they come;
                               exits with its exit code (124 on timeout, 128+N when killed by signal N)
      --session ID             run in this session (default: a temporary session, destroyed afterwards;
                               if trl itself goes away, even killed, the daemon destroys it and its command)
      --cwd DIR                working directory of the temporary session (default: the current one)
      --shell SH               shell of the temporary session
      --timeout S              stop the command after S seconds
      --idle-timeout S         stop the command after S seconds without output
      -e, --env NAME=VALUE     set a variable for this command (repeatable)
      -i, --interactive        pass trl's own stdin to the command (end of input is passed on too)
      --print-id               print the exec id on stderr when the command starts
                               Ctrl-C cancels the command (TERM, grace, KILL); a second Ctrl-C kills it at once
  attach EXEC_ID [--from-stdout N] [--from-stderr N]
                               follow a running or recently finished command from the given byte offsets
                               (default: everything still retained); exits with its exit code.
                               Ctrl-C detaches and leaves the command running
  cancel EXEC_ID [--signal SIG]  cancel a command (default TERM, grace, KILL; with --signal only that signal)
  cancel --session ID [--signal SIG]  cancel the command running in a session
  execs [--session ID]         list running and recently finished commands
  destroy SESSION_ID           destroy a session and everything it started
  doctor [--json] [--user] ... check this host against the deployment checklist; --user: your own instance
                               (trl doctor --help)
  mcp [--socket PATH] [--cwd DIR]  an MCP server on stdio for coding agents (trl mcp --help)

The socket: --socket, else TRL_SOCKET_PATH, else your own instance at $XDG_RUNTIME_DIR/trl/trl.sock
if present, else the system instance at /run/trl/trl.sock if present.
Start your own instance (commands run as you, in your home): systemctl --user enable --now trl.socket
`;

interface Options {
  socket?: string;
  session?: string;
  cwd?: string;
  timeout?: string;
  'idle-timeout'?: string;
  shell?: string;
  env?: string[];
  interactive?: boolean;
  'print-id'?: boolean;
  'from-stdout'?: string;
  'from-stderr'?: string;
  signal?: string;
  help?: boolean;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'doctor') return runDoctor(argv.slice(1));
  // Loaded only for `trl mcp`: the MCP SDK costs the other subcommands nothing at start.
  if (argv[0] === 'mcp') return (require('../mcp/main') as typeof import('../mcp/main')).runMcp(argv.slice(1));
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
      'print-id': { type: 'boolean' },
      'from-stdout': { type: 'string' },
      'from-stderr': { type: 'string' },
      signal: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const opts = values as Options;
  const verb = positionals[0];
  if (opts.help || !verb) {
    process.stdout.write(USAGE);
    return verb || opts.help ? 0 : 2;
  }
  const client = await connectToDaemon({ socket: opts.socket });
  try {
    switch (verb) {
      case 'ping':
      case 'stats':
        print(await client.request(`system.${verb}`));
        return 0;
      case 'sessions':
        print(await client.request('session.list'));
        return 0;
      case 'destroy':
        if (!positionals[1]) throw new UsageError('destroy needs a session id');
        print(await client.request('session.destroy', { session_id: positionals[1] }));
        return 0;
      case 'exec':
        return await exec(client, command.length ? command : positionals.slice(1), opts);
      case 'attach':
        if (!positionals[1]) throw new UsageError('attach needs an exec id');
        return await attach(client, positionals[1], opts);
      case 'cancel': {
        const ref = positionals[1] ? { exec_id: positionals[1] } : opts.session ? { session_id: opts.session } : null;
        if (!ref) throw new UsageError('cancel needs an exec id (or --session ID)');
        print(await client.cancel(ref, opts.signal));
        return 0;
      }
      case 'execs':
        print({ execs: await client.execs(opts.session) });
        return 0;
      default:
        throw new UsageError(`unknown command ${verb}`);
    }
  } finally {
    client.close();
  }
}

function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0)) throw new UsageError(`${flag} takes a number of seconds ≥ 0`);
  return n;
}

function offset(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} takes a byte offset (an integer ≥ 0)`);
  return n;
}

function envPairs(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env takes NAME=VALUE, got ${JSON.stringify(pair)}`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

async function exec(client: TrlClient, argv: string[], opts: Options): Promise<number> {
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

async function attach(client: TrlClient, execId: string, opts: Options): Promise<number> {
  const from: Offsets = {};
  const fromStdout = offset(opts['from-stdout'], '--from-stdout');
  const fromStderr = offset(opts['from-stderr'], '--from-stderr');
  if (fromStdout !== undefined) from.stdout = fromStdout;
  if (fromStderr !== undefined) from.stderr = fromStderr;
  const stream = await client.attach(execId, fromStdout !== undefined || fromStderr !== undefined ? from : undefined);
  let detached = false;
  const detach = () => {
    detached = true;
    process.stderr.write(`\ntrl: detached; exec ${execId} keeps running (trl attach ${execId} to follow it again, trl cancel ${execId} to stop it)\n`);
    client.destroy();
  };
  process.once('SIGINT', detach);
  try {
    const exit = await render(stream.events, () => {});
    return exitStatus(exit, false);
  } catch (err) {
    if (detached) return 130;
    throw err;
  } finally {
    process.off('SIGINT', detach);
  }
}

/** First SIGINT/SIGTERM/SIGHUP: exec.cancel (TERM, grace, KILL); the next: exec.cancel with SIGKILL. */
function cancelOnInterrupt(client: TrlClient, execId: string): { dispose: () => void; used: () => boolean } {
  let count = 0;
  const onSignal = () => {
    count++;
    const kill = count > 1;
    process.stderr.write(kill ? '\ntrl: killing the command (SIGKILL)\n' : '\ntrl: cancelling the command (Ctrl-C again to kill it at once)\n');
    client.cancel(execId, kill ? 'SIGKILL' : undefined).catch((err: Error) => {
      if (!(err instanceof TrlRequestError && err.code === 'EXEC_NOT_RUNNING')) process.stderr.write(`trl: cancel failed: ${err.message}\n`);
    });
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  return { dispose: () => signals.forEach((s) => process.off(s, onSignal)), used: () => count > 0 };
}

/**
 * -i: trl's stdin goes to the command, one exec.input per chunk (the next
 * chunk is read only once the daemon took the previous one), then eof.
 * Chunks are cut at character boundaries; input must be UTF-8 text.
 */
function forwardStdin(client: TrlClient, execId: string): { stop: () => void } {
  let stopped = false;
  const decoder = new StringDecoder('utf8');
  const send = async (data: string, eof: boolean): Promise<void> => {
    for (;;) {
      try {
        await client.input(execId, data, eof);
        return;
      } catch (err) {
        // The command is not reading yet and the daemon's input buffer is full: wait for it.
        if (err instanceof TrlRequestError && err.code === 'RESOURCE_PRESSURE' && !stopped) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw err;
      }
    }
  };
  const run = async () => {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      if (stopped) return;
      const text = decoder.write(chunk);
      if (text) await send(text, false);
    }
    if (!stopped) await send(decoder.end(), true);
  };
  run().catch((err: Error) => {
    if (stopped) return;
    // The command ended or closed its input: nothing more to pass on.
    if (err instanceof TrlRequestError && (err.code === 'EXEC_NOT_RUNNING' || err.code === 'INVALID_PARAMS')) return;
    process.stderr.write(`trl: passing stdin on failed: ${err.message}\n`);
  });
  return {
    stop: () => {
      stopped = true;
      process.stdin.destroy();
    },
  };
}

/** Writes the command's output as raw bytes to our stdout/stderr, in order, until its exit event. */
async function render(events: AsyncIterable<StreamEvent>, onBrokenPipe: () => void): Promise<ExitEvent> {
  let stdoutBroken = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (stdoutBroken) return;
    stdoutBroken = true;
    // Like SIGPIPE in a local pipeline: nobody reads our output any more, so stop the command.
    if (err.code === 'EPIPE') onBrokenPipe();
  });
  for await (const ev of events) {
    switch (ev.event) {
      case 'output': {
        const out = ev.stream === 'stdout' ? process.stdout : process.stderr;
        if (ev.stream === 'stdout' && stdoutBroken) break;
        if (!out.write(outputBytes(ev))) await drained(out);
        break;
      }
      case 'gap':
        process.stderr.write(`\ntrl: ${ev.missed_bytes} bytes of ${ev.stream} (offsets ${ev.from}..${ev.to}) were lost: this reader fell behind the daemon's retention window\n`);
        break;
      case 'waiting_input':
        break;
      case 'exit':
        return ev;
    }
  }
  throw new Error('the output stream ended without an exit status');
}

/** Resolves once a stream that refused more (write returned false) drained, or failed. */
function drained(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('error', done);
  });
}

function exitStatus(exit: ExitEvent, ownCancel: boolean): number {
  if (exit.timed_out) {
    process.stderr.write(`trl: command timed out (${exit.timeout === 'idle' ? 'no output for --idle-timeout' : 'timeout'})\n`);
    return 124;
  }
  if (exit.cancelled && !ownCancel) process.stderr.write(`trl: the command was cancelled (${exit.cancel_signal})\n`);
  return Math.max(0, Math.min(255, exit.exit_code));
}

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function print(data: unknown): void {
  process.stdout.write(JSON.stringify(data, null, 2) + '\n');
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    if (err instanceof UsageError) process.stderr.write(`trl: ${err.message}\n\n${USAGE}`);
    else if (err instanceof TrlRequestError) process.stderr.write(`trl: ${err.code}: ${err.message}\n`);
    else process.stderr.write(`trl: ${err.message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
