import { parseArgs } from 'node:util';
import { TrlClient, TrlRequestError, defaultSocketPath } from './client';

const USAGE = `Usage: trl [--socket PATH] COMMAND

Commands:
  ping                         check that trld answers
  stats                        daemon statistics
  sessions                     list sessions
  exec [--session ID] [--cwd DIR] [--timeout S] [--shell SH] -- CMD...
                               run CMD; prints its stdout and stderr, exits with its exit code
                               (without --session a temporary session is made and destroyed)
  destroy SESSION_ID           destroy a session and everything it started

The socket: --socket, else TRL_SOCKET_PATH, else /run/trl/trl.sock if it exists, else /tmp/trl.sock.
`;

interface ExecData {
  stdout: string;
  stderr: string;
  exit_code: number;
  timed_out: boolean;
  stdout_truncated?: boolean;
  stderr_truncated?: boolean;
}

async function main(argv: string[]): Promise<number> {
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
      shell: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const verb = positionals[0];
  if (values.help || !verb) {
    process.stdout.write(USAGE);
    return verb || values.help ? 0 : 2;
  }
  const client = await TrlClient.connect(values.socket ?? defaultSocketPath());
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
        return await exec(client, command.length ? command : positionals.slice(1), values);
      default:
        throw new UsageError(`unknown command ${verb}`);
    }
  } finally {
    client.close();
  }
}

async function exec(client: TrlClient, argv: string[], opts: { session?: string; cwd?: string; timeout?: string; shell?: string }): Promise<number> {
  if (argv.length === 0) throw new UsageError('exec needs a command after --');
  // One argument is a shell command line as written; several are quoted word by word.
  const command = argv.length === 1 ? argv[0]! : argv.map(shellQuote).join(' ');
  const timeout_s = opts.timeout === undefined ? undefined : Number(opts.timeout);
  if (timeout_s !== undefined && !(timeout_s >= 0)) throw new UsageError('--timeout takes a number of seconds ≥ 0');
  let sessionId = opts.session;
  const temporary = sessionId === undefined;
  if (temporary) {
    const created = await client.request<{ session_id: string }>('session.create', {
      working_dir: opts.cwd ?? process.cwd(),
      ...(opts.shell ? { shell: opts.shell } : {}),
    });
    sessionId = created.session_id;
  } else if (opts.cwd) {
    throw new UsageError('--cwd applies to a new session; with --session, cd inside the command');
  }
  try {
    const r = await client.request<ExecData>('exec.run', { session_id: sessionId, command, ...(timeout_s !== undefined ? { timeout_s } : {}) });
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    if (r.stdout_truncated || r.stderr_truncated) process.stderr.write('trl: output was truncated at the daemon\'s limit\n');
    if (r.timed_out) {
      process.stderr.write('trl: command timed out\n');
      return 124;
    }
    return r.exit_code;
  } finally {
    if (temporary) await client.request('session.destroy', { session_id: sessionId }).catch(() => {});
  }
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
