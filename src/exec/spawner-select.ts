import { nativeAddon } from '../native/addon';
import type { Hardening } from '../native/harden';
import { CommandUserError, resolveCommandUser } from './command-user';
import { spawnWithNode, type CommandUser, type SpawnSpec, type Spawner } from './spawn';
import { nativeSpawner, type SpawnerLog } from './spawn-native';

export type SpawnerName = 'native' | 'child_process';

interface SelectLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The spawner the daemon starts commands with: the one the setting asks for,
 * child_process when it asks for native and the addon does not load, each
 * command run as TRL_COMMAND_USER when set. Logs at most one warning for the
 * native layer (hardening and spawner together). Throws CommandUserError for
 * a command user that cannot be used.
 */
export function selectSpawner(
  settings: { spawner: SpawnerName; command_user?: string | undefined },
  daemonUid: number,
  hardening: Hardening,
  log: SelectLog,
): { name: SpawnerName; spawner: Spawner } {
  const user = settings.command_user ? resolveCommandUser(settings.command_user, daemonUid) : null;
  const chosen = chooseSpawner(settings.spawner, user, log);
  if (user) log.info({ command_user: user.name, uid: user.uid }, 'commands run as another user');
  const problem = hardening.error ?? chosen.fallbackReason;
  if (problem) {
    const lost = [hardening.error && 'the daemon is not hardened (commands of its user can read its memory and environment)', chosen.fallbackReason && 'commands start with child_process'];
    log.warn({ err: problem, spawner: chosen.name }, `native layer unavailable: ${lost.filter(Boolean).join('; ')}`);
  }
  return { name: chosen.name, spawner: chosen.spawner };
}

export { CommandUserError };

/**
 * The spawner the setting asks for; child_process when it asks for native and
 * the addon does not load, with the reason for the one start-up warning.
 */
function chooseSpawner(wanted: SpawnerName, user: CommandUser | null, log: SpawnerLog): { name: SpawnerName; spawner: Spawner; fallbackReason: string | null } {
  const chosen = pick(wanted, log);
  if (!user) return chosen;
  const inner = chosen.spawner;
  return { ...chosen, spawner: Object.assign((spec: SpawnSpec) => inner({ ...spec, user }), { setsUpChild: inner.setsUpChild, adopted: inner.adopted }) };
}

function pick(wanted: SpawnerName, log: SpawnerLog): { name: SpawnerName; spawner: Spawner; fallbackReason: string | null } {
  if (wanted === 'child_process') return { name: 'child_process', spawner: spawnWithNode, fallbackReason: null };
  const { addon, error } = nativeAddon();
  if (!addon) return { name: 'child_process', spawner: spawnWithNode, fallbackReason: error };
  return { name: 'native', spawner: nativeSpawner(addon, log, { adopt: true }), fallbackReason: null };
}
