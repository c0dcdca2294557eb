import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ToolError, type DaemonLink } from './link';
import type { McpSession } from './session';
import { renderScreen, settle } from './terminal';

/** Scrollback lines read_screen returns at most: the daemon keeps TRL_PTY_SCROLLBACK_LINES (1000 by default). */
const MAX_SCROLLBACK = 10_000;

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

/** The daemon's answer for an exec without a terminal names exec.run/exec.stream; an MCP agent needs the tool's name. */
function onTerminal<T>(tool: string, run: () => Promise<T>): Promise<T> {
  return run().catch((err: Error) => {
    if (err instanceof ToolError && /not on a terminal/.test(err.message)) {
      throw new ToolError(`${err.message}\n${tool} needs a command started with start_command and pty: true; for a command on pipes use read_output.`);
    }
    throw err;
  });
}

/** read_screen and resize_terminal: for commands started with `pty`. */
export function registerTerminalTools(server: McpServer, session: McpSession, link: DaemonLink, execId: z.ZodString): void {
  server.registerTool(
    'read_screen',
    {
      description:
        'The screen of a command started with pty, as a person at that terminal would see it now: the rows as text (numbered from 0), the cursor position, the window title, ' +
        'and whether a full-screen program (editor, pager, top) shows its alternate screen. Waits up to 3 s for the output to pause, so the screen shows the effect of the last send_input. ' +
        'Use it instead of read_output for anything that redraws the screen. Works while the command runs and for a while after it ended.',
      inputSchema: {
        exec_id: execId,
        scrollback: z.number().int('scrollback must be an integer').min(0, 'scrollback must be ≥ 0').max(MAX_SCROLLBACK, `scrollback must be at most ${MAX_SCROLLBACK}`).optional().describe('also return up to this many lines that scrolled off the top (default 0)'),
      },
    },
    async (args) => {
      await settle(session.followers.get(args.exec_id));
      const s = await onTerminal('read_screen', () => link.call(`read_screen of exec ${args.exec_id}`, (c) => c.screen(args.exec_id, args.scrollback ?? 0)));
      return text(renderScreen(s));
    },
  );

  server.registerTool(
    'resize_terminal',
    {
      description: 'Change the size of a running command\'s terminal (started with pty); the program gets SIGWINCH and usually redraws: read_screen afterwards.',
      inputSchema: {
        exec_id: execId,
        cols: z.number().int('cols must be an integer').min(1, 'cols must be at least 1').max(10_000, 'cols must be at most 10000').describe('columns'),
        rows: z.number().int('rows must be an integer').min(1, 'rows must be at least 1').max(10_000, 'rows must be at most 10000').describe('rows'),
      },
    },
    async (args) => {
      const r = await onTerminal('resize_terminal', () => link.call(`resize_terminal of exec ${args.exec_id}`, (c) => c.resize(args.exec_id, args.cols, args.rows)));
      // The program redraws after SIGWINCH: a read_screen right after this waits for it.
      session.followers.get(args.exec_id)?.touched();
      return text(`exec ${r.exec_id}: terminal resized to ${r.cols} columns x ${r.rows} rows; read_screen shows the redraw`);
    },
  );
}

