import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { VERSION } from '../system/version';
import { DaemonLink } from './link';
import { McpSession } from './session';
import { registerTools } from './tools';

const USAGE = `Usage: trl mcp [--socket PATH] [--cwd DIR]

An MCP server on stdin/stdout for coding agents: run_command, start_command,
read_output, send_input, cancel_command, list_commands, read_screen,
resize_terminal, run by trld.
One MCP connection is one trl session, started in DIR (default: the current
directory) on first use and destroyed when the connection ends.
`;

/** `trl mcp`: serves one MCP connection on stdio until its client goes away. Returns the exit code. */
export async function runMcp(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { socket: { type: 'string' }, cwd: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const link = new DaemonLink(values.socket);
  try {
    await link.client();
  } catch (err) {
    process.stderr.write(`trl mcp: ${(err as Error).message}\n`);
    return 1;
  }
  const session = new McpSession(link, resolve(values.cwd ?? process.cwd()));
  const server = new McpServer({ name: 'trl', version: VERSION });
  registerTools(server, session, link);
  const transport = new StdioServerTransport();
  // The agent closing stdin ends the connection normally; so does a polite signal (clients send
  // SIGTERM when stdin's end was not enough). Only a crash leaves the sessions to the next server.
  const closed = new Promise<void>((res) => {
    transport.onclose = () => res();
    process.stdin.once('end', () => res());
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(sig, () => res());
  });
  await server.connect(transport);
  await closed;
  await session.close();
  link.close();
  // Whatever still holds the event loop (a follower's socket) must not keep a finished server alive.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}
