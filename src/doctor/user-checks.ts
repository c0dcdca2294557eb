import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import { fail, mode, na, pass, type Check } from './result';
import { daemon } from './unit-checks';
import type { UserDoctorContext } from './user-instance';

type UserCheck = Check<UserDoctorContext>;

const ENABLE = 'systemctl --user enable --now trl.socket';

/** A user instance is the user's own: never root (root's commands would run as root). */
export const userNotRoot: UserCheck = (ctx) => {
  const id = 'user_non_root';
  const title = 'the user instance runs as you, not root';
  if (ctx.user.uid === 0) return fail(id, title, 'trl doctor --user runs as root: a user instance of root runs every command as root', 'run trl doctor --user as the user whose instance it is; root uses the system instance');
  const other = ctx.daemon?.ok ? ctx.daemon.pids.filter((p) => p.uid !== ctx.user.uid) : [];
  if (other.length) return fail(id, title, `the process serving ${ctx.socket?.path} (pid ${other.map((p) => p.pid).join(', ')}) runs as uid ${other[0]!.uid}, not you (${ctx.user.uid})`, `stop it and ${ENABLE}`);
  return pass(id, title, `${ctx.user.name} (uid ${ctx.user.uid})`);
};

/** The user units are installed and the socket is enabled and listening in this user's manager. */
export const userUnit: UserCheck = (ctx) => {
  const id = 'user_unit';
  const title = 'user units installed, trl.socket enabled and listening';
  if (!ctx.unit || ctx.socketUnits.length === 0) return fail(id, title, 'no trl.service/trl.socket among the user unit directories (/usr/lib/systemd/user, /etc/systemd/user, ~/.config/systemd/user)', 'install the trl package (it ships /usr/lib/systemd/user/trl.socket and trl.service)');
  const where = `${ctx.unit.path}, ${ctx.socketUnits[0]!.path}`;
  const state = ctx.user.socketUnitState;
  if ('error' in state) return na(id, title, `${where}; the user manager could not be asked (${state.error})`, 'log in as the user (or loginctl enable-linger USER and set XDG_RUNTIME_DIR=/run/user/UID), then run trl doctor --user again');
  if (!['enabled', 'enabled-runtime', 'linked', 'linked-runtime'].includes(state.enabled)) return fail(id, title, `${where}: trl.socket is ${state.enabled}`, ENABLE);
  if (state.active !== 'active') return fail(id, title, `${where}: trl.socket is ${state.enabled} but ${state.active}`, `systemctl --user reset-failed trl.service trl.socket; ${ENABLE}; journalctl --user -u trl.service`);
  return pass(id, title, `${where}: trl.socket ${state.enabled}, ${state.active}`);
};

/** The socket and its directory are the user's alone. */
export const userSocket: UserCheck = (ctx) => {
  const id = 'user_socket';
  const title = 'socket is mode 0600 in a directory only you can enter';
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const u of ctx.socketUnits) {
    const sm = u.get('Socket.SocketMode');
    if (sm === undefined || (Number.parseInt(sm, 8) & 0o077) !== 0) {
      problems.push(`${u.path} ${sm === undefined ? 'sets no SocketMode= (systemd then uses 0666)' : `sets SocketMode=${sm}`}`);
      fixes.push(`SocketMode=0600 in a drop-in (systemctl --user edit trl.socket)`);
    }
  }
  const s = ctx.socket;
  if (!s) return fail(id, title, 'no socket path: XDG_RUNTIME_DIR is not set and /run/user/UID does not exist', 'log in as the user (or loginctl enable-linger USER)');
  if (!s.stat) {
    problems.push(`no socket at ${s.path} (${s.source})`);
    fixes.push(ENABLE);
  } else if (!s.stat.isSocket()) {
    problems.push(`${s.path} is not a socket`);
    fixes.push(`rm ${s.path}; ${ENABLE}`);
  } else {
    if ((s.stat.mode & 0o077) !== 0) problems.push(`${s.path} has mode ${mode(s.stat.mode)}: other users can connect and run commands as you`);
    if (s.stat.uid !== ctx.user.uid) problems.push(`${s.path} is owned by uid ${s.stat.uid}, not you (${ctx.user.uid})`);
    try {
      const dir = lstatSync(dirname(s.path));
      if ((dir.mode & 0o077) !== 0 || dir.uid !== ctx.user.uid) problems.push(`${dirname(s.path)} is mode ${mode(dir.mode)}, owner uid ${dir.uid}: it must be yours, 0700`);
    } catch (err) {
      problems.push(`${dirname(s.path)}: ${(err as NodeJS.ErrnoException).code}`);
    }
    if (problems.length) fixes.push(`systemctl --user stop trl.socket trl.service; rm -r ${dirname(s.path)}; ${ENABLE}`);
  }
  if (problems.length) return fail(id, title, problems.join('; '), fixes.join('; '));
  return pass(id, title, `${s.path}: mode ${mode(s.stat!.mode)}, yours (uid ${s.stat!.uid}), in a 0700 directory`);
};

const HARDENING: [string, (v: string | undefined) => boolean, string][] = [
  ['NoNewPrivileges', (v) => v === 'yes' || v === 'true', 'NoNewPrivileges=yes'],
  ['RestrictSUIDSGID', (v) => v === 'yes' || v === 'true', 'RestrictSUIDSGID=yes'],
  ['LimitCORE', (v) => v === '0', 'LimitCORE=0'],
  ['SystemCallFilter', (v) => v !== undefined, 'SystemCallFilter=@system-service'],
];

/** What the user unit keeps of the sandbox (docs/operations.md says why the namespace options are not there). */
export const userUnitHardening: UserCheck = (ctx) => {
  const id = 'user_unit_hardening';
  const title = 'unit: hardening that fits a user service (NoNewPrivileges, RestrictSUIDSGID, LimitCORE=0, SystemCallFilter)';
  if (!ctx.unit) return na(id, title, 'no user unit installed (trl.service)');
  const missing = HARDENING.filter(([key, ok]) => !ok(ctx.unit!.get(`Service.${key}`))).map((h) => h[2]);
  if (missing.length) return fail(id, title, `${ctx.unit.path} lacks ${missing.join(', ')}`, `add ${missing.join(' ')} (systemctl --user edit trl.service); see systemd/user/trl.service in the source`);
  return pass(id, title, `${ctx.unit.path}: ${HARDENING.map((h) => h[2]).join(', ')}`);
};

/** The shared daemon check, its fixes addressed to the user manager. */
export const userDaemon: UserCheck = (ctx) => {
  const r = daemon(ctx);
  return r.fix ? { ...r, fix: r.fix.replace(/systemctl (?!--user)/g, 'systemctl --user ').replace(/journalctl -u/g, 'journalctl --user -u').replace(/run trl doctor as root or as the runtime user/, 'run trl doctor --user as the user who owns the instance') } : r;
};
