import { join } from 'node:path';

/** Where the orphan ledger lives: TRL_RUNTIME_DIR, systemd's RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR/trl, else /tmp/trl-<uid>. */
export function runtimeDir(configured: string | undefined, env: NodeJS.ProcessEnv, uid: number): string {
  if (configured) return configured;
  const systemd = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (systemd) return systemd;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'trl');
  return `/tmp/trl-${uid}`;
}
