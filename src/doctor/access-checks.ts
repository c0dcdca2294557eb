import { MIN_TOKEN_LENGTH, tokenProblem } from '../config/http';
import { booleanWord } from '../config/schema';
import type { DoctorContext } from './context';
import { fail, mode, na, pass, type Check } from './result';
import { isHttpSocketUnit } from './unit';

/** Runtime runs as non-root: the unit's User= and the running daemon's uid; TRL_ALLOW_ROOT is not set. */
export const nonRoot: Check<DoctorContext> = (ctx) => {
  const id = 'non_root';
  const title = 'runtime runs as a non-root user';
  const rootDaemons = ctx.daemon?.ok ? ctx.daemon.pids.filter((p) => p.uid === 0) : [];
  if (rootDaemons.length) {
    return fail(id, title, `the running daemon (pid ${rootDaemons.map((p) => p.pid).join(', ')}) runs as root: every command runs as root`, 'run trld as an unprivileged user (the package: User=trl in trl.service) and restart it');
  }
  if (ctx.unit) {
    const user = ctx.unit.get('Service.User');
    if (!user || user === 'root' || user === '0') {
      return fail(id, title, user ? `${ctx.unit.path} runs trld as ${user}` : `${ctx.unit.path} sets no User=, so trld runs as root`, 'set User=trl and Group=trl in the unit (systemctl edit trl.service), then restart');
    }
  }
  const allow = ctx.settingsRaw.TRL_ALLOW_ROOT;
  if (allow && booleanWord(allow) === true) {
    return fail(id, title, 'TRL_ALLOW_ROOT is set: trld would accept running as root', 'remove TRL_ALLOW_ROOT from the env file and the unit');
  }
  const u = ctx.runtimeUser;
  if (!u) return na(id, title, 'no unit installed and no daemon running: nothing to check', 'start the daemon (or pass --unit/--socket) and run trl doctor again');
  if (u.uid === 0) return fail(id, title, `runs as root (${u.source})`, 'run trld as an unprivileged user');
  return pass(id, title, `${u.name ?? `uid ${u.uid}`} (${u.source})`);
};

/** The env file: a regular file, no group/other bits, owned by root or the runtime user. */
export const envFile: Check<DoctorContext> = (ctx) => {
  const id = 'env_file';
  const title = 'env file is mode 0600, owned by root or the runtime user';
  const f = ctx.envFile;
  if (!f) return na(id, title, 'no env file configured');
  if (!f.stat) {
    if (f.error === 'ENOENT') return na(id, title, `no env file at ${f.path} (${f.source}); the daemon uses its defaults`);
    return fail(id, title, `${f.path} cannot be examined (${f.error})`, 'run trl doctor as root');
  }
  if (!f.stat.isFile()) return fail(id, title, `${f.path} is not a regular file`, `replace ${f.path} with a regular file of mode 0600`);
  const problems: string[] = [];
  const fixes: string[] = [];
  if ((f.stat.mode & 0o077) !== 0) {
    problems.push(`mode ${mode(f.stat.mode)}: group or others can ${f.stat.mode & 0o044 ? 'read' : 'write'} it, and it may hold secrets`);
    fixes.push(`chmod 600 ${f.path}`);
  }
  const owner = f.stat.uid;
  const runtimeUid = ctx.runtimeUser?.uid ?? null;
  if (f.readBy === 'systemd' && owner !== 0) {
    // systemd reads it as root; owned by anyone else, that user's processes (the runtime user's: every command) can read it.
    problems.push(`owned by uid ${owner}, not root: systemd reads EnvironmentFile= as root, and any other owner${owner === runtimeUid ? ' (here the runtime user, so every command)' : ''} can read the secrets in it`);
    fixes.push(`chown root:root ${f.path}`);
  } else if (owner !== 0 && owner !== runtimeUid) {
    problems.push(`owned by uid ${owner}, neither root nor the runtime user${runtimeUid !== null ? ` (uid ${runtimeUid})` : ''}`);
    fixes.push(`chown root:root ${f.path}`);
  }
  if (problems.length) return fail(id, title, `${f.path}: ${problems.join('; ')}`, fixes.join(' && '));
  if (f.vars === null) return na(id, title, `${f.path} is mode ${mode(f.stat.mode)} but cannot be read by this user, so its settings were not checked`, 'run trl doctor as root');
  const reader =
    f.readBy === 'systemd'
      ? 'read by systemd as root; commands cannot open it'
      : 'read by trld itself, so commands (same user) can read it too; a unit can use EnvironmentFile= with a root-owned file instead';
  return pass(id, title, `${f.path} (${f.source}): mode ${mode(f.stat.mode)}, owner uid ${owner}; ${reader}`);
};

/** The agents' socket: a socket, mode 0600, owned by the runtime user; a socket unit sets the same. */
export const socketFile: Check<DoctorContext> = (ctx) => {
  const id = 'socket';
  const title = 'Unix socket is mode 0600, owned by the runtime user';
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const u of ctx.socketUnits) {
    if (isHttpSocketUnit(u) || !u.all('Socket.ListenStream').some((v) => v.startsWith('/'))) continue;
    const sm = u.get('Socket.SocketMode');
    if (sm === undefined || (Number.parseInt(sm, 8) & 0o077) !== 0) {
      problems.push(`${u.path} ${sm === undefined ? 'sets no SocketMode= (systemd then uses 0666)' : `sets SocketMode=${sm}`}`);
      fixes.push(`set SocketMode=0600 in ${u.path}`);
    }
    const su = u.get('Socket.SocketUser');
    const runtime = ctx.runtimeUser?.name;
    if (runtime && runtime !== 'root' && su !== runtime) {
      problems.push(`${u.path} sets ${su ? `SocketUser=${su}` : 'no SocketUser= (root then owns it)'}, not the runtime user ${runtime}`);
      fixes.push(`set SocketUser=${runtime} in ${u.path}`);
    }
  }
  const s = ctx.socket;
  if (!s) return problems.length ? fail(id, title, problems.join('; '), fixes.join('; ')) : na(id, title, 'no socket configured');
  if (!s.stat) {
    if (problems.length) return fail(id, title, problems.join('; '), fixes.join('; '));
    if (ctx.socketUnits.length) return fail(id, title, `no socket at ${s.path} (${s.source})`, 'systemctl enable --now trl.socket');
    return na(id, title, `no socket at ${s.path} (${s.source}): the daemon is not running`, 'start the daemon, or pass --socket PATH, and run trl doctor again');
  }
  if (!s.stat.isSocket()) {
    problems.push(`${s.path} is not a socket`);
    fixes.push(`remove ${s.path} and restart the daemon`);
  } else {
    if ((s.stat.mode & 0o077) !== 0) {
      problems.push(`${s.path} has mode ${mode(s.stat.mode)}: other users can connect and run commands`);
      fixes.push(`chmod 600 ${s.path} (and fix what created it: SocketMode=0600)`);
    }
    const runtimeUid = ctx.runtimeUser?.uid;
    if (runtimeUid !== undefined && runtimeUid !== null && s.stat.uid !== runtimeUid) {
      problems.push(`${s.path} is owned by uid ${s.stat.uid}, not the runtime user (uid ${runtimeUid})`);
      fixes.push(`chown the socket to the runtime user (SocketUser= in the socket unit)`);
    }
  }
  if (problems.length) return fail(id, title, problems.join('; '), fixes.join('; '));
  return pass(id, title, `${s.path}: mode ${mode(s.stat.mode)}, owner uid ${s.stat.uid}`);
};

/** HTTP on (TRL_HTTP_LISTEN or a socket unit named "http") ⇒ TRL_AUTH_TOKEN set, long enough, and not in the unit. */
export const httpToken: Check<DoctorContext> = (ctx) => {
  const id = 'http_token';
  const title = 'TRL_AUTH_TOKEN is set if HTTP is enabled';
  const httpUnit = ctx.socketUnits.find(isHttpSocketUnit);
  const listen = ctx.settingsRaw.TRL_HTTP_LISTEN;
  if (!listen && !httpUnit) return na(id, title, 'HTTP is off (no TRL_HTTP_LISTEN, no socket unit with FileDescriptorName=http)');
  const how = listen ? `TRL_HTTP_LISTEN=${listen}` : `${httpUnit!.path}`;
  const inUnit = ctx.unit?.environment().TRL_AUTH_TOKEN;
  if (inUnit !== undefined) {
    return fail(id, title, `HTTP is on (${how}) and TRL_AUTH_TOKEN is in Environment= of ${ctx.unit!.path}, which every local user can read with systemctl show`, `move TRL_AUTH_TOKEN to the env file ${ctx.envFile?.path ?? '/etc/trl/trl.env'} (mode 0600) and remove it from the unit`);
  }
  if (ctx.envFile && ctx.envFile.stat && ctx.envFile.vars === null) {
    return na(id, title, `HTTP is on (${how}); ${ctx.envFile.path} cannot be read by this user, so the token was not checked`, 'run trl doctor as root');
  }
  const problem = tokenProblem(ctx.settingsRaw.TRL_AUTH_TOKEN);
  if (problem) return fail(id, title, `HTTP is on (${how}) but ${problem}; trld refuses to start like this`, `put TRL_AUTH_TOKEN=$(openssl rand -hex 32) in ${ctx.envFile?.path ?? '/etc/trl/trl.env'}, or turn HTTP off`);
  return pass(id, title, `HTTP is on (${how}); the token is set (at least ${MIN_TOKEN_LENGTH} characters)`);
};
