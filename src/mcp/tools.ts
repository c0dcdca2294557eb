import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { renderResult, renderSince, renderSummary } from './render';
import type { McpSession } from './session';
import type { DaemonLink } from './link';
import { registerTerminalTools } from './terminal-tools';

const MAX_TIMEOUT_S = 7 * 24 * 3600;
const command = z.string().min(1, 'command must not be empty').describe('a shell command line, run by the session\'s shell as `sh -c`');
const timeout = z.number().nonnegative('timeout_s must be ≥ 0').max(MAX_TIMEOUT_S, 'timeout_s must be at most 7 days').describe('stop the command (TERM, grace, KILL) after this many seconds; 0 = no timeout; default: the daemon\'s');
const env = z.record(z.string(), z.string()).describe('variables for this command only');
const pty = z
  .union([z.boolean(), z.object({ cols: ptySide('cols'), rows: ptySide('rows') })])
  .describe('run on a terminal (true: 80 columns x 24 rows, or {cols, rows}) for programs that need one: prompts (sudo, ssh, passwd), editors, pagers, REPLs, colours, progress bars, line-buffered output');
const execId = z.string().min(1, 'exec_id must not be empty').max(128, 'exec_id is at most 128 characters').describe('the id start_command returned');

function ptySide(name: string) {
  return z.number().int(`${name} must be an integer`).min(1, `${name} must be at least 1`).max(10_000, `${name} must be at most 10000`);
}

/** How long read_output waits for something new before answering "nothing new". */
const READ_WAIT_MS = 1000;
/** How long cancel_command waits to report the exit of a command it follows. */
const CANCEL_WAIT_MS = 10_000;

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

/** The tools, by the names agents' configurations rely on. */
export function registerTools(server: McpServer, session: McpSession, link: DaemonLink): void {
  server.registerTool(
    'run_command',
    {
      description:
        'Run a shell command and wait for it. The directory (cd) and exported variables carry over to the next run_command of this connection. ' +
        'Stdin is closed. Returns exit_code (or the signal), timed_out, duration, stdout and stderr; a long output shows its first and last parts and how many bytes were left out between them. ' +
        'With pty the command sees a terminal (colours, line-buffered output) and stderr is merged into stdout; a program that waits for keys needs start_command with pty instead.',
      inputSchema: { command, timeout_s: timeout.optional(), env: env.optional(), pty: pty.optional() },
    },
    async (args, extra) => {
      const { result, note } = await session.run(args, extra.signal);
      return text(renderResult(result, note) + (args.pty ? '\n(on a terminal: stderr is merged into stdout, and lines end in \\r\\n)' : ''));
    },
  );

  server.registerTool(
    'start_command',
    {
      description:
        'Start a long-running command (a server, a watcher, a long build) without waiting; returns its exec_id for read_output, send_input and cancel_command. ' +
        'It runs in a session of its own, in the current directory of run_command\'s session, with its stdin open. Variables exported by run_command do not carry over: pass them in env. ' +
        'Use pty for a program that needs a terminal (prompts, editors such as vi, pagers such as less, top, REPLs, colours). Then drive it in a loop: start_command with pty, read_screen to see what a person would see, ' +
        'send_input with keys ("\\r" is Enter, "\\u0003" Ctrl-C, "\\u001b" Escape, "\\u001b[A" the up arrow), read_screen again; resize_terminal changes its size.',
      inputSchema: { command, env: env.optional(), timeout_s: timeout.optional(), pty: pty.optional() },
    },
    async (args) => {
      const f = await session.start(args);
      const next = args.pty
        ? `It runs on a terminal: see it with read_screen {"exec_id": "${f.execId}"}, type with send_input ("\\r" is Enter). read_output gives the raw output, escape sequences included.`
        : `Read its output with read_output {"exec_id": "${f.execId}"}.`;
      return text(`exec_id: ${f.execId}\nstarted: ${args.command}\n${next}`);
    },
  );

  server.registerTool(
    'read_output',
    {
      description:
        'What a started command printed since the previous read_output on this connection, whether it still runs, its exit status once ended, ' +
        'and a hint when it waits for input. Waits up to 1 s when nothing is new.',
      inputSchema: {
        exec_id: execId,
        max_bytes: z.number().int('max_bytes must be an integer').min(256, 'max_bytes must be at least 256').max(1024 * 1024, 'max_bytes must be at most 1048576').optional().describe('at most this much text in all (default 65536); beyond, the first and last parts'),
      },
    },
    async (args) => {
      const f = await session.follow(args.exec_id);
      await f.waitForNews(READ_WAIT_MS);
      return text(renderSince(f, args.max_bytes ?? 64 * 1024));
    },
  );

  server.registerTool(
    'send_input',
    {
      description:
        'Write text to a started command\'s stdin (add "\\n" to end a line); eof: true closes stdin afterwards. ' +
        'The text is written byte for byte, control characters and escape sequences included, so on a terminal command (started with pty) it types keys: ' +
        '"\\r" Enter, "\\u0003" Ctrl-C (interrupts the foreground program), "\\u0004" Ctrl-D (end of input at the start of a line), "\\u001b" Escape, "\\u001b[A"/"\\u001b[B"/"\\u001b[C"/"\\u001b[D" the arrows, "\\t" Tab. ' +
        'On a terminal, eof: true only stops further input; send "\\u0004" to end input.',
      inputSchema: { exec_id: execId, text: z.string().describe('written as is: raw keys for a terminal command'), eof: z.boolean().optional() },
    },
    async (args) => {
      const r = await link.call(`send_input to exec ${args.exec_id}`, (c) => c.input(args.exec_id, args.text, args.eof ?? false));
      session.followers.get(args.exec_id)?.inputSent();
      return text(`sent ${r.bytes} bytes to exec ${r.exec_id}${r.eof ? ' and closed its stdin' : ''}`);
    },
  );

  server.registerTool(
    'cancel_command',
    {
      description: 'Stop a started command and everything it started: TERM, then KILL after a grace period. With signal (e.g. SIGINT), send only that signal.',
      inputSchema: { exec_id: execId, signal: z.string().max(16, 'signal is a name like SIGINT').optional() },
    },
    async (args) => {
      const r = await link.call(`cancel_command of exec ${args.exec_id}`, (c) => c.cancel(args.exec_id, args.signal));
      const f = session.followers.get(args.exec_id);
      if (f && r.escalates) await Promise.race([f.ended, new Promise((res) => setTimeout(res, CANCEL_WAIT_MS).unref())]);
      const status = f?.exit ? `; it exited with code ${f.exit.exit_code}${f.exit.signal ? ` (${f.exit.signal})` : ''}` : '';
      return text(`sent ${r.signal}${r.escalates ? ' (then SIGKILL after the grace period)' : ''} to exec ${r.exec_id}${status}`);
    },
  );

  server.registerTool(
    'list_commands',
    { description: 'Commands started on this connection (and by an earlier trl mcp that ended without cleaning up), running or recently finished.', inputSchema: {} },
    async () => {
      const execs = await session.list();
      return text(execs.length === 0 ? 'no commands' : execs.map(renderSummary).join('\n'));
    },
  );

  registerTerminalTools(server, session, link, execId);
}
