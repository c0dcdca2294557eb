import { randomBytes } from 'node:crypto';

/**
 * Sessions of `trl mcp` are named `mcp:<pid>:<nonce>` (the connection's
 * session) and `mcp:<pid>:<nonce>:bg` (one per start_command). A new server
 * recognises what a crashed one left: an `mcp:` session whose pid is gone.
 */
const NAME_RE = /^mcp:(\d+):[0-9a-f]+(:bg)?$/;

/** True for a session left by a `trl mcp` process that no longer exists. */
export function isOrphanName(name: string | null): boolean {
  const m = name ? NAME_RE.exec(name) : null;
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A fresh name for one MCP connection's session; its started commands' sessions add `:bg`. */
export function connectionSessionName(): string {
  return `mcp:${process.pid}:${randomBytes(4).toString('hex')}`;
}
