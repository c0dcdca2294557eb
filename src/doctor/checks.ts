import { lstatSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tokenProblem, MIN_TOKEN_LENGTH } from '../config/http';
import { isHttpSocketUnit, worldWritable, type DoctorContext } from './context';

export type Status = 'pass' | 'fail' | 'n/a';

/** One line of the report. `fix` says what to do when it failed (or why it could not be checked). */
export interface CheckResult {
  id: string;
  title: string;
  status: Status;
  detail: string;
  fix?: string;
}

type Check = (ctx: DoctorContext) => CheckResult;

const pass = (id: string, title: string, detail: string): CheckResult => ({ id, title, status: 'pass', detail });
const fail = (id: string, title: string, detail: string, fix: string): CheckResult => ({ id, title, status: 'fail', detail, fix });
const na = (id: string, title: string, detail: string, fix?: string): CheckResult => ({ id, title, status: 'n/a', detail, ...(fix ? { fix } : {}) });
const mode = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/** Runtime runs as non-root: the unit's User= and the running daemon's uid; TRL_ALLOW_ROOT is not set. */
export const nonRoot: Check = (ctx) => {
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
  if (allow && ['1', 'true', 'yes', 'on'].includes(allow.toLowerCase())) {
    return fail(id, title, 'TRL_ALLOW_ROOT is set: trld would accept running as root', 'remove TRL_ALLOW_ROOT from the env file and the unit');
  }
  const u = ctx.runtimeUser;
  if (!u) return na(id, title, 'no unit installed and no daemon running: nothing to check', 'start the daemon (or pass --unit/--socket) and run trl doctor again');
  if (u.uid === 0) return fail(id, title, `runs as root (${u.source})`, 'run trld as an unprivileged user');
  return pass(id, title, `${u.name ?? `uid ${u.uid}`} (${u.source})`);
};

/** The env file: a regular file, no group/other bits, owned by root or the runtime user. */
export const envFile: Check = (ctx) => {
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
export const socketFile: Check = (ctx) => {
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
export const httpToken: Check = (ctx) => {
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

/** Nothing in the daemon's own environment or its output routing lets env values reach the log. */
export const logging: Check = (ctx) => {
  const id = 'logging';
  const title = 'logging cannot carry env values';
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const { source, env } of ctx.daemonEnv) {
    const debug = env.NODE_DEBUG;
    if (debug !== undefined && /child_process|\*/i.test(debug)) {
      problems.push(`NODE_DEBUG=${debug} in ${source}: Node then logs every spawn's environment`);
      fixes.push(`remove NODE_DEBUG from ${source}`);
    }
    const nodeOptions = env.NODE_OPTIONS;
    if (nodeOptions !== undefined && /--(inspect|trace|report-on|heapsnapshot)/.test(nodeOptions)) {
      problems.push(`NODE_OPTIONS in ${source} enables inspection, tracing or reports, which can dump the daemon's memory (env values) to disk or a debugger`);
      fixes.push(`remove those NODE_OPTIONS from ${source}`);
    }
  }
  if (ctx.unit) {
    for (const key of ['Service.StandardOutput', 'Service.StandardError']) {
      const v = ctx.unit.get(key);
      const m = v ? /^(?:file|append|truncate):(.+)$/.exec(v) : null;
      if (!m) continue;
      const st = safeStat(m[1]!);
      if (st && (st.mode & 0o004) !== 0) {
        problems.push(`${key.split('.')[1]}= writes the log to ${m[1]}, which everyone can read (mode ${mode(st.mode)})`);
        fixes.push(`chmod o-r ${m[1]} or log to the journal`);
      }
    }
  }
  const level = ctx.settings.ok ? ctx.settings.config.log_level : 'info';
  if (problems.length) return fail(id, title, problems.join('; '), fixes.join('; '));
  const seen = ctx.daemonEnv.length ? `checked ${ctx.daemonEnv.map((e) => e.source).join(', ')}` : 'no daemon environment to check';
  return pass(id, title, `trld logs names and ids only, with redaction (log level ${level}); ${seen}`);
};

/** The settings trld would read parse; max sessions has a value. */
export const maxSessions: Check = (ctx) => {
  const id = 'max_sessions';
  const title = 'max session limit is configured';
  if (!ctx.settings.ok) return fail(id, title, `the settings are invalid, trld would refuse to start: ${ctx.settings.problems.join('; ')}`, 'correct them in the env file or the unit');
  const set = ctx.settingsRaw.TRL_MAX_SESSIONS !== undefined;
  return pass(id, title, `TRL_MAX_SESSIONS=${ctx.settings.config.max_sessions}${set ? '' : ' (the default)'}`);
};

/** A default command timeout is in force (0 would mean none). */
export const defaultTimeout: Check = (ctx) => {
  const id = 'default_timeout';
  const title = 'default command timeout is set';
  if (!ctx.settings.ok) return fail(id, title, `the settings are invalid: ${ctx.settings.problems.join('; ')}`, 'correct them in the env file or the unit');
  const t = ctx.settings.config.default_timeout_s;
  if (t === 0) return fail(id, title, 'TRL_DEFAULT_TIMEOUT_S=0: a command that never ends holds its session forever', 'set TRL_DEFAULT_TIMEOUT_S to a number of seconds (default 300)');
  return pass(id, title, `TRL_DEFAULT_TIMEOUT_S=${t}${ctx.settingsRaw.TRL_DEFAULT_TIMEOUT_S === undefined ? ' (the default)' : ''}`);
};

/** No runtime file (binary, bundle, libraries), nor a directory holding them, is world-writable. */
export const runtimeFiles: Check = (ctx) => {
  const id = 'runtime_files';
  const title = 'runtime binary, bundle and libraries are not world-writable';
  if (ctx.runtimePaths.length === 0) return na(id, title, 'no runtime files found', 'pass --runtime-path PATH');
  const bad: string[] = [];
  const missing: string[] = [];
  let count = 0;
  const LIMIT = 100_000;
  const walk = (p: string) => {
    if (count++ > LIMIT) return;
    const st = safeStat(p);
    if (!st) return;
    if (worldWritable(st)) bad.push(`${p} (${mode(st.mode)})`);
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(p);
      } catch {
        return;
      }
      for (const n of names) walk(join(p, n));
    }
  };
  for (const p of ctx.runtimePaths) {
    if (!safeStat(p)) {
      missing.push(p);
      continue;
    }
    walk(p);
    // the directories above: world-writable without the sticky bit lets anyone swap the files
    for (let d = dirname(p); ; d = dirname(d)) {
      const st = safeStat(d);
      if (st && worldWritable(st) && (st.mode & 0o1000) === 0) bad.push(`${d} (${mode(st.mode)}, above ${p})`);
      if (d === '/') break;
    }
  }
  const uniq = [...new Set(bad)];
  if (uniq.length) {
    const shown = uniq.slice(0, 10).join(', ') + (uniq.length > 10 ? ` and ${uniq.length - 10} more` : '');
    return fail(id, title, `world-writable: ${shown}`, `chmod o-w on each (e.g. chmod -R o-w ${ctx.runtimePaths.join(' ')}); anyone could otherwise replace the code the daemon runs`);
  }
  if (missing.length) return fail(id, title, `not found: ${missing.join(', ')}`, 'reinstall trl (apt install --reinstall trl), or pass --runtime-path');
  return pass(id, title, `${count} files and directories under ${ctx.runtimePaths.join(', ')}`);
};

const noUnit = (id: string, title: string) => na(id, title, 'no systemd unit installed (trl.service)');

/** READY/STATUS/WATCHDOG only from trld itself: commands in its cgroup must not speak for it. */
export const unitNotifyAccess: Check = (ctx) => {
  const id = 'unit_notify_access';
  const title = 'unit: NotifyAccess=main';
  if (!ctx.unit) return noUnit(id, title);
  const v = ctx.unit.get('Service.NotifyAccess');
  if (ctx.unit.get('Service.Type') === 'notify' && v !== 'main') {
    return fail(id, title, `${ctx.unit.path}: NotifyAccess=${v ?? '(unset)'}${v === 'all' ? ': any command can send READY/STOPPING/WATCHDOG for the service' : ''}`, 'set NotifyAccess=main in the unit');
  }
  if (v !== undefined && v !== 'main' && v !== 'none') return fail(id, title, `${ctx.unit.path}: NotifyAccess=${v}`, 'set NotifyAccess=main in the unit');
  return pass(id, title, `${ctx.unit.path}: NotifyAccess=${v ?? 'none'}`);
};

/** Files the daemon (and its commands, by default) create are private. */
export const unitUmask: Check = (ctx) => {
  const id = 'unit_umask';
  const title = 'unit: UMask=0077';
  if (!ctx.unit) return noUnit(id, title);
  const v = ctx.unit.get('Service.UMask');
  const m = v === undefined ? 0o022 : Number.parseInt(v, 8);
  if ((m & 0o077) !== 0o077) return fail(id, title, `${ctx.unit.path}: UMask=${v ?? '(unset, systemd uses 0022)'}: files it creates are readable by others`, 'set UMask=0077 in the unit');
  return pass(id, title, `${ctx.unit.path}: UMask=${v}`);
};

const HARDENING: [string, (v: string | undefined) => boolean, string][] = [
  ['NoNewPrivileges', (v) => v === 'yes' || v === 'true', 'NoNewPrivileges=yes'],
  ['ProtectSystem', (v) => v === 'strict' || v === 'full' || v === 'yes' || v === 'true', 'ProtectSystem=strict'],
  ['PrivateTmp', (v) => v === 'yes' || v === 'true', 'PrivateTmp=yes'],
  ['ProtectHome', (v) => v !== undefined && v !== 'no' && v !== 'false', 'ProtectHome=yes'],
  ['CapabilityBoundingSet', () => true, 'CapabilityBoundingSet= (empty)'],
  ['RestrictSUIDSGID', (v) => v === 'yes' || v === 'true', 'RestrictSUIDSGID=yes'],
  ['ProtectKernelModules', (v) => v === 'yes' || v === 'true', 'ProtectKernelModules=yes'],
  // A core dump of trld would hold every session's secrets.
  ['LimitCORE', (v) => v === '0', 'LimitCORE=0'],
];

/** The sandbox settings the package ships. */
export const unitHardening: Check = (ctx) => {
  const id = 'unit_hardening';
  const title = 'unit: hardening (NoNewPrivileges, ProtectSystem, PrivateTmp, …)';
  if (!ctx.unit) return noUnit(id, title);
  const missing: string[] = [];
  for (const [key, ok, want] of HARDENING) {
    if (key === 'CapabilityBoundingSet') {
      // unset means every capability; the package assigns it empty (no capability at all)
      if (!(ctx.unit.has(`Service.${key}`) && ctx.unit.all(`Service.${key}`).length === 0)) missing.push(want);
      continue;
    }
    if (!ok(ctx.unit.get(`Service.${key}`))) missing.push(want);
  }
  if (missing.length) return fail(id, title, `${ctx.unit.path} lacks ${missing.join(', ')}`, `add ${missing.join(' ')} (systemctl edit trl.service); see systemd/trl.service in the source for the shipped set`);
  return pass(id, title, `${ctx.unit.path}: ${HARDENING.map((h) => h[2]).join(', ')}`);
};

/** The running daemon answers system.stats on the socket. */
export const daemon: Check = (ctx) => {
  const id = 'daemon';
  const title = 'the daemon answers on the socket';
  if (!ctx.socket) return na(id, title, 'no socket configured');
  if (!ctx.daemon) {
    if (ctx.socketUnits.length || ctx.unit) return fail(id, title, `nothing at ${ctx.socket.path}`, 'systemctl enable --now trl.socket');
    return na(id, title, `no socket at ${ctx.socket.path}: not running`);
  }
  if (!ctx.daemon.ok) {
    const denied = ctx.daemon.error === 'EACCES';
    return denied
      ? na(id, title, `${ctx.socket.path}: permission denied (EACCES) for this user`, 'run trl doctor as root or as the runtime user')
      : fail(id, title, `${ctx.socket.path}: ${ctx.daemon.error}`, 'systemctl status trl.service trl.socket; journalctl -u trl.service');
  }
  const s = ctx.daemon.stats;
  return pass(id, title, `version ${String(s.version ?? '?')}, ${String(s.active_sessions)} sessions, ${String(s.running_commands ?? 0)} running, up ${String(s.uptime_s)} s`);
};

function safeStat(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** Every check, in report order. */
export const CHECKS: Check[] = [nonRoot, envFile, socketFile, httpToken, logging, maxSessions, defaultTimeout, runtimeFiles, unitNotifyAccess, unitUmask, unitHardening, daemon];
