import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { gatherContext, statFile, type DoctorContext, type DoctorOptions } from './context';
import { readEnvFile } from './env-file';
import { UnitFile } from './unit';

/** What `trl doctor --user` learns beyond the shared context: the user manager's view of the units. */
export interface UserInstance {
  uid: number;
  name: string;
  runtimeDir: string | null;
  /** `systemctl --user is-enabled/is-active trl.socket`, or why it could not be asked. */
  socketUnitState: { enabled: string; active: string } | { error: string };
}

export type UserDoctorContext = DoctorContext & { user: UserInstance };

/** The user manager's unit directories, weakest first (systemd.unit(5), "User Unit Search Path"). */
function userUnitDirs(env: NodeJS.ProcessEnv): string[] {
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  const dirs = ['/usr/lib/systemd/user', '/lib/systemd/user', join(homedir(), '.local/share/systemd/user'), '/run/systemd/user'];
  if (env.XDG_RUNTIME_DIR) dirs.push(join(env.XDG_RUNTIME_DIR, 'systemd/user'));
  dirs.push('/etc/systemd/user', join(config, 'systemd/user'));
  return dirs;
}

function findUserUnit(name: string, dirs: string[]): string | null {
  for (const d of [...dirs].reverse()) if (existsSync(join(d, name))) return join(d, name);
  return null;
}

function askSystemd(env: NodeJS.ProcessEnv): UserInstance['socketUnitState'] {
  const run = (verb: string) => spawnSync('systemctl', ['--user', verb, 'trl.socket'], { encoding: 'utf8', env, timeout: 5000 });
  const enabled = run('is-enabled');
  if (enabled.error) return { error: `systemctl: ${enabled.error.message}` };
  const out = enabled.stdout.trim();
  if (!out) return { error: (enabled.stderr.trim().split('\n')[0] ?? '') || `systemctl --user exited ${enabled.status}` };
  return { enabled: out, active: run('is-active').stdout.trim() || 'unknown' };
}

/**
 * `trl doctor --user`: the per-user instance of whoever runs doctor — the
 * user units with their drop-ins and specifiers expanded, the env file
 * ($XDG_CONFIG_HOME/trl/trl.env), the socket in $XDG_RUNTIME_DIR/trl.
 */
export async function gatherUser(opts: DoctorOptions): Promise<UserDoctorContext> {
  const env = opts.env;
  const me = userInfo();
  const runtimeDir = env.XDG_RUNTIME_DIR || (existsSync(`/run/user/${me.uid}`) ? `/run/user/${me.uid}` : null);
  const specifiers: Record<string, string> = { h: me.homedir, u: me.username, U: String(me.uid), E: env.XDG_CONFIG_HOME || join(me.homedir, '.config') };
  if (runtimeDir) specifiers.t = runtimeDir;
  const dirs = userUnitDirs({ ...env, ...(runtimeDir ? { XDG_RUNTIME_DIR: runtimeDir } : {}) });
  const unitPath = opts.unit ?? findUserUnit('trl.service', dirs);
  const unit = unitPath ? UnitFile.load(unitPath, { dropInDirs: dirs, specifiers }) : null;
  const socketUnitPath = opts.socketUnits[0] ?? findUserUnit('trl.socket', dirs);
  const socketUnit = socketUnitPath ? UnitFile.load(socketUnitPath, { dropInDirs: dirs, specifiers }) : null;

  // --trl-env, else the unit's TRL_ENV_FILE, else where the shipped unit looks.
  const fallback = opts.envFile === null && !unit?.environment().TRL_ENV_FILE;
  const read = readEnvFile({ ...opts, envFile: fallback ? `-${specifiers.E}/trl/trl.env` : opts.envFile }, unit);
  const envFile = read && fallback ? { ...read, source: 'the user default, $XDG_CONFIG_HOME/trl/trl.env' } : read;

  const listen = socketUnit?.all('Socket.ListenStream').find((v) => v.startsWith('/'));
  const socketPath = opts.socket ?? listen ?? (runtimeDir ? join(runtimeDir, 'trl/trl.sock') : null);
  const socket = socketPath && socketPath !== 'none' ? { ...statFile(socketPath), source: opts.socket ? '--socket' : listen ? `ListenStream= of ${socketUnit!.path}` : '$XDG_RUNTIME_DIR/trl/trl.sock' } : null;
  const ctx = await gatherContext(opts, {
    unit,
    socketUnits: socketUnit ? [socketUnit] : [],
    envFile,
    socket: () => socket,
    runtimeUser: () => ({ name: me.username, uid: me.uid, source: 'the user instance runs as the user who owns it' }),
  });
  const systemdEnv = runtimeDir ? { ...env, XDG_RUNTIME_DIR: runtimeDir } : env;
  return { ...ctx, user: { uid: me.uid, name: me.username, runtimeDir, socketUnitState: askSystemd(systemdEnv) } };
}
