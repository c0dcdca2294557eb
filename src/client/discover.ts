import { existsSync } from 'node:fs';
import { TrlClient } from './client';
import { SYSTEM_SOCKET, START_USER_INSTANCE, socketCandidates, type DiscoverOptions, type SocketCandidate } from './socket-path';

/** No socket answered: `tried` says, for each place, what happened there. */
export class DaemonNotFoundError extends Error {
  constructor(
    readonly tried: { candidate: SocketCandidate; error: string }[],
    noRuntimeDir = false,
  ) {
    super(notFoundMessage(tried, noRuntimeDir));
    this.name = 'DaemonNotFoundError';
  }
}

function notFoundMessage(tried: { candidate: SocketCandidate; error: string }[], noRuntimeDir: boolean): string {
  const lines = tried.map(({ candidate, error }) => `  ${candidate.path} (${candidate.source}): ${error}`);
  // Without a login session (su, sudo, cron) the user instance's place is unknown: say so rather than skip it silently.
  if (noRuntimeDir) lines.unshift('  $XDG_RUNTIME_DIR/trl/trl.sock (your own instance): XDG_RUNTIME_DIR is not set (log in as the user, or set it to /run/user/$(id -u))');
  const explicit = tried.some((t) => t.candidate.explicit);
  return [
    `cannot connect to trld; tried:`,
    ...lines,
    explicit
      ? `check that path, or unset it to use your own instance (${START_USER_INSTANCE}) or the system one (${SYSTEM_SOCKET})`
      : `start your own instance with: ${START_USER_INSTANCE}  (or name a socket with --socket PATH or TRL_SOCKET_PATH)`,
  ].join('\n');
}

/**
 * Connects to trld where `socketCandidates` says: the first that accepts the
 * connection wins; an absent or refusing one is noted and the next tried.
 * Throws DaemonNotFoundError naming every path tried and what failed there.
 */
export async function connectToDaemon(opts: DiscoverOptions = {}): Promise<TrlClient & { socketPath: string }> {
  const tried: { candidate: SocketCandidate; error: string }[] = [];
  for (const candidate of socketCandidates(opts)) {
    if (!candidate.explicit && !existsSync(candidate.path)) {
      tried.push({ candidate, error: 'not present' });
      continue;
    }
    try {
      const client = await TrlClient.connect(candidate.path);
      return Object.assign(client, { socketPath: candidate.path });
    } catch (err) {
      tried.push({ candidate, error: (err as { cause?: NodeJS.ErrnoException }).cause?.code ?? (err as Error).message });
    }
  }
  const env = opts.env ?? process.env;
  throw new DaemonNotFoundError(tried, !tried.some((t) => t.candidate.explicit) && !env.XDG_RUNTIME_DIR);
}
