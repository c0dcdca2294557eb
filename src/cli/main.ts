import { runDoctor } from '../doctor/doctor';
import { TrlRequestError } from '../client/client';
import { connectToDaemon } from '../client/discover';
import { attach } from './attach';
import { exec } from './exec';
import { shell } from './shell';
import { parseCommandLine } from './options';
import { USAGE, UsageError } from './usage';

/** trl: one verb a run; returns the exit status. */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'doctor') return runDoctor(argv.slice(1));
  // Loaded only for `trl mcp`: the MCP SDK costs the other subcommands nothing at start.
  if (argv[0] === 'mcp') return (require('../mcp/main') as typeof import('../mcp/main')).runMcp(argv.slice(1));
  const { opts, positionals, command } = parseCommandLine(argv);
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
      case 'shell':
        return await shell(client, opts);
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

function print(data: unknown): void {
  process.stdout.write(JSON.stringify(data, null, 2) + '\n');
}

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
