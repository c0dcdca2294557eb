/** What `trl --help` prints, and what follows a usage error. */
export const USAGE = `Usage: trl [--socket PATH] COMMAND

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
      -t, --tty                run the command on a terminal the size of yours, yours in raw mode meanwhile:
                               every key goes to it (Ctrl-C interrupts it there), your window size follows;
                               your terminal is restored afterwards (needs trl's stdin and stdout on a terminal)
      --print-id               print the exec id on stderr when the command starts
                               Ctrl-C cancels the command (TERM, grace, KILL); a second Ctrl-C kills it at once
  attach EXEC_ID [--from-stdout N] [--from-stderr N]
                               follow a running or recently finished command from the given byte offsets
                               (default: everything still retained); exits with its exit code.
                               Ctrl-C detaches and leaves the command running
  cancel EXEC_ID [--signal SIG]  cancel a command (default TERM, grace, KILL; with --signal only that signal)
  cancel --session ID [--signal SIG]  cancel the command running in a session
  shell [--session ID]         an interactive shell on a terminal in a session (default: a temporary one)
  execs [--session ID]         list running and recently finished commands
  destroy SESSION_ID           destroy a session and everything it started
  doctor [--json] [--user] ... check this host against the deployment checklist; --user: your own instance
                               (trl doctor --help)
  mcp [--socket PATH] [--cwd DIR]  an MCP server on stdio for coding agents (trl mcp --help)

The socket: --socket, else TRL_SOCKET_PATH, else your own instance at $XDG_RUNTIME_DIR/trl/trl.sock
if present, else the system instance at /run/trl/trl.sock if present.
Start your own instance (commands run as you, in your home): systemctl --user enable --now trl.socket
`;

/** The command line was wrong: trl prints the message, then the usage, and exits 2. */
export class UsageError extends Error {}
