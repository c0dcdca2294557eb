import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The package's system instance (trl.socket, runs commands as the user trl). */
export const SYSTEM_SOCKET = '/run/trl/trl.sock';
/** What starts the per-user instance; the "cannot connect" message names it. */
export const START_USER_INSTANCE = 'systemctl --user enable --now trl.socket';

/** One place a client may find trld, and why it looks there. */
export interface SocketCandidate {
  path: string;
  /** `--socket`, `TRL_SOCKET_PATH`, `$XDG_RUNTIME_DIR/trl/trl.sock` or `/run/trl/trl.sock`. */
  source: string;
  /** Named explicitly (flag or variable): used alone, never skipped for being absent. */
  explicit: boolean;
}

export interface DiscoverOptions {
  /** `--socket PATH`, when given. */
  socket?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** The system instance's socket (tests point it elsewhere). */
  systemSocket?: string;
}

/**
 * Where to look, in order: `--socket`, else `TRL_SOCKET_PATH` (either one
 * alone: a named socket is never replaced by a guess), else the user
 * instance `$XDG_RUNTIME_DIR/trl/trl.sock`, then the system instance
 * `/run/trl/trl.sock`. The last two are tried only if present.
 */
export function socketCandidates(opts: DiscoverOptions = {}): SocketCandidate[] {
  const env = opts.env ?? process.env;
  if (opts.socket) return [{ path: opts.socket, source: '--socket', explicit: true }];
  if (env.TRL_SOCKET_PATH) return [{ path: env.TRL_SOCKET_PATH, source: 'TRL_SOCKET_PATH', explicit: true }];
  const found: SocketCandidate[] = [];
  if (env.XDG_RUNTIME_DIR) found.push({ path: join(env.XDG_RUNTIME_DIR, 'trl', 'trl.sock'), source: '$XDG_RUNTIME_DIR/trl/trl.sock', explicit: false });
  found.push({ path: opts.systemSocket ?? SYSTEM_SOCKET, source: 'the system instance', explicit: false });
  return found;
}

/** The first candidate that is present (or named explicitly), else the first one: for a single connect. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = existsSync): string {
  const all = socketCandidates({ env });
  return (all.find((c) => c.explicit || exists(c.path)) ?? all[0]!).path;
}
