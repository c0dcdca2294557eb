import type { TrlClient } from '../client/client';
import { exec } from './exec';
import type { Options } from './options';

/**
 * `trl shell [--session ID]`: an interactive shell on a terminal, as
 * `trl exec -t` runs it: the session's own shell (or --shell for a new one)
 * started with -i inside the session's command wrapper, so a cd or export
 * made in it stays in that interactive shell, not in the session.
 */
export async function shell(client: TrlClient, opts: Options): Promise<number> {
  let sh = opts.shell;
  if (opts.session) {
    const info = await client.request<{ shell?: string }>('session.info', { session_id: opts.session });
    sh = info.shell;
  }
  const program = sh ? quote(sh) : '"${SHELL:-/bin/sh}"';
  return exec(client, [`${program} -i`], { ...opts, tty: true, ...(opts.session ? { shell: undefined } : {}) });
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
