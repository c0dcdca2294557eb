import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { TrlClient } from '../client/client';
import { CONFIG_KEYS, ConfigSchema, envNameOf, type Config } from '../config/schema';
import { UnitFile } from './unit';

/** Where doctor looks; every path can be given by flag (tests, unusual installs). */
export interface DoctorOptions {
  json: boolean;
  /** trl.service; null: systemd is not used. */
  unit: string | null;
  /** Socket units of trl.service (trl.socket, trl-http.socket). */
  socketUnits: string[];
  envFile: string | null;
  socket: string | null;
  runtimePaths: string[];
  user: string | null;
  /** Environment doctor itself runs in (TRL_ENV_FILE, TRL_SOCKET_PATH fallbacks). */
  env: NodeJS.ProcessEnv;
}

/** A file as doctor saw it. */
export interface FileInfo {
  path: string;
  stat: Stats | null;
  error: string | null;
}

/** What doctor learned about the installation, read once; checks are pure functions of it. */
export interface DoctorContext {
  opts: DoctorOptions;
  unit: UnitFile | null;
  socketUnits: UnitFile[];
  /** `readBy`: systemd (EnvironmentFile=, read as root before trld starts) or trld itself (TRL_ENV_FILE, LoadCredential=). */
  envFile: (FileInfo & { source: string; readBy: 'systemd' | 'trld'; vars: Record<string, string> | null }) | null;
  /** TRL_* settings as the daemon would get them: env file < unit Environment=. */
  settingsRaw: Record<string, string>;
  settings: { ok: true; config: Config } | { ok: false; problems: string[] };
  runtimeUser: { name: string | null; uid: number | null; source: string } | null;
  socket: (FileInfo & { source: string }) | null;
  daemon: { ok: true; stats: Record<string, unknown>; pids: { pid: number; uid: number }[] } | { ok: false; error: string } | null;
  /** The daemon's own environment (unit Environment=/EnvironmentFile=, the running process): names → values; never printed. */
  daemonEnv: { source: string; env: Record<string, string> }[];
  runtimePaths: string[];
}

export function statFile(path: string): FileInfo {
  try {
    return { path, stat: lstatSync(path), error: null };
  } catch (err) {
    return { path, stat: null, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

export async function gather(opts: DoctorOptions): Promise<DoctorContext> {
  const unit = opts.unit ? UnitFile.load(opts.unit) : null;
  const socketUnits = opts.socketUnits.map((p) => UnitFile.load(p)).filter((u): u is UnitFile => u !== null);
  const unitEnv = unit?.environment() ?? {};

  const envFile = readEnvFile(opts, unit);
  const settingsRaw: Record<string, string> = {};
  for (const src of [envFile?.vars ?? {}, unitEnv]) for (const [k, v] of Object.entries(src)) if (k.startsWith('TRL_') && v !== '') settingsRaw[k] = v;
  const settings = parseSettings(settingsRaw);

  const socket = socketPath(opts, socketUnits, settingsRaw);
  const daemon = socket ? await queryDaemon(socket.path) : null;
  const daemonEnv = collectDaemonEnv(unit, daemon);
  return {
    opts,
    unit,
    socketUnits,
    envFile,
    settingsRaw,
    settings,
    runtimeUser: runtimeUser(opts, unit, daemon, socket),
    socket,
    daemon,
    daemonEnv,
    runtimePaths: opts.runtimePaths.length ? opts.runtimePaths : defaultRuntimePaths(unit),
  };
}

/**
 * The env file: --trl-env, else the unit's EnvironmentFile=, TRL_ENV_FILE (Environment=) or LoadCredential= source,
 * else TRL_ENV_FILE, else /etc/trl/trl.env.
 */
export function readEnvFile(opts: DoctorOptions, unit: UnitFile | null): DoctorContext['envFile'] {
  let path: string | null = opts.envFile;
  let source = '--trl-env';
  let readBy: 'systemd' | 'trld' = unit?.all('Service.EnvironmentFile').length ? 'systemd' : 'trld';
  const fromUnit = unit?.environment().TRL_ENV_FILE;
  if (path === null && fromUnit) {
    path = fromUnit;
    source = `Environment= of ${unit!.path}`;
    readBy = 'trld';
  }
  const environmentFile = unit?.all('Service.EnvironmentFile').at(-1);
  if (path === null && environmentFile) {
    path = environmentFile.replace(/^-/, '');
    source = `EnvironmentFile= of ${unit!.path}`;
  }
  if (path === null && unit) {
    for (const cred of unit.all('Service.LoadCredential')) {
      const m = /^trl\.env:(.+)$/.exec(cred);
      if (m) {
        path = m[1]!;
        source = `LoadCredential= of ${unit.path}`;
      }
    }
  }
  if (path === null && opts.env.TRL_ENV_FILE) {
    path = opts.env.TRL_ENV_FILE;
    source = 'TRL_ENV_FILE';
  }
  if (path === null) {
    path = '/etc/trl/trl.env';
    source = 'default';
  }
  if (path === 'none') return null;
  // "-PATH": optional (a missing file means none), as trld and systemd read it.
  if (path.startsWith('-')) path = path.slice(1);
  const info = statFile(path);
  let vars: Record<string, string> | null = null;
  if (info.stat) {
    try {
      vars = parseDotenv(readFileSync(path));
    } catch {
      vars = null; // unreadable: the checks say so
    }
  }
  return { ...info, source, readBy, vars };
}

export function parseSettings(raw: Record<string, string>): DoctorContext['settings'] {
  const byEnv = new Map(CONFIG_KEYS.map((k) => [envNameOf(k), k]));
  const input: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = byEnv.get(name);
    if (key) input[key] = value;
  }
  const parsed = ConfigSchema.safeParse(input);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((i) => `${envNameOf(String(i.path[0]) as never)}: ${i.message}`) };
}

/** The socket: --socket, else the socket unit's ListenStream= path, else TRL_SOCKET_PATH (env file, environment), else the client's default. */
function socketPath(opts: DoctorOptions, socketUnits: UnitFile[], settings: Record<string, string>): DoctorContext['socket'] {
  if (opts.socket === 'none') return null;
  let path = opts.socket;
  let source = '--socket';
  if (path === null) {
    for (const u of socketUnits) {
      if (isHttpSocketUnit(u)) continue;
      const p = u.all('Socket.ListenStream').find((v) => v.startsWith('/'));
      if (p) {
        path = p;
        source = `ListenStream= of ${u.path}`;
        break;
      }
    }
  }
  if (path === null && (settings.TRL_SOCKET_PATH || opts.env.TRL_SOCKET_PATH)) {
    path = settings.TRL_SOCKET_PATH ?? opts.env.TRL_SOCKET_PATH!;
    source = 'TRL_SOCKET_PATH';
  }
  if (path === null) {
    path = existsSync('/run/trl/trl.sock') ? '/run/trl/trl.sock' : '/tmp/trl.sock';
    source = 'default';
  }
  return { ...statFile(path), source };
}

export function isHttpSocketUnit(u: UnitFile): boolean {
  return (u.get('Socket.FileDescriptorName') ?? '').split(':').includes('http');
}

export async function queryDaemon(path: string): Promise<DoctorContext['daemon']> {
  if (!existsSync(path)) return null;
  let client: TrlClient | null = null;
  try {
    client = await withTimeout(TrlClient.connect(path), 5000, `no connection to ${path} within 5 s`);
    const stats = (await withTimeout(client.request('system.stats'), 5000, `no answer to system.stats on ${path} within 5 s`)) as Record<string, unknown>;
    return { ok: true, stats, pids: daemonPids(path) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, error: e.code ?? e.message };
  } finally {
    client?.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

/**
 * The processes serving `socketPath`: the listening socket's inode from
 * /proc/net/unix, then every process holding it open (pid 1, systemd, which
 * holds an activated socket too, excluded). Needs root to see other users' fds.
 */
export function daemonPids(socketPath: string): { pid: number; uid: number }[] {
  let inodes: Set<string>;
  try {
    inodes = new Set(
      readFileSync('/proc/net/unix', 'utf8')
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[7] === socketPath && f[5] === '01')
        .map((f) => f[6]!),
    );
  } catch {
    return [];
  }
  const found: { pid: number; uid: number }[] = [];
  if (inodes.size === 0) return found;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || name === '1') continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${name}/fd/${fd}`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
    if (!holds) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      if (/^Name:\s*systemd/m.test(status)) continue;
      const uid = Number(/^Uid:\s*(\d+)/m.exec(status)![1]);
      found.push({ pid: Number(name), uid });
    } catch {
      /* gone */
    }
  }
  return found;
}

/** The daemon's own environment as configured (unit) and as running (/proc/PID/environ, readable by root or its user). */
export function collectDaemonEnv(unit: UnitFile | null, daemon: DoctorContext['daemon']): DoctorContext['daemonEnv'] {
  const out: DoctorContext['daemonEnv'] = [];
  if (unit) {
    out.push({ source: `Environment= of ${unit.path}`, env: unit.environment() });
    for (const f of unit.all('Service.EnvironmentFile')) {
      const path = f.replace(/^-/, '');
      try {
        out.push({ source: `EnvironmentFile= ${path}`, env: parseDotenv(readFileSync(path)) });
      } catch {
        /* missing optional file, or unreadable */
      }
    }
  }
  if (daemon?.ok) {
    for (const { pid } of daemon.pids) {
      try {
        const env: Record<string, string> = {};
        for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
          const eq = kv.indexOf('=');
          if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        out.push({ source: `the running daemon (pid ${pid})`, env });
      } catch {
        /* not ours to read */
      }
    }
  }
  return out;
}

/** Who the runtime runs as: --user, else the unit's User= (root when unset), else the running daemon, else the socket's owner. */
function runtimeUser(opts: DoctorOptions, unit: UnitFile | null, daemon: DoctorContext['daemon'], socket: DoctorContext['socket']): DoctorContext['runtimeUser'] {
  if (opts.user) return { name: opts.user, uid: uidOf(opts.user), source: '--user' };
  if (unit) {
    const name = unit.get('Service.User') ?? 'root';
    return { name, uid: /^\d+$/.test(name) ? Number(name) : uidOf(name), source: unit.get('Service.User') ? `User= of ${unit.path}` : `${unit.path} sets no User=` };
  }
  if (daemon?.ok && daemon.pids.length) return { name: null, uid: daemon.pids[0]!.uid, source: `the running daemon (pid ${daemon.pids[0]!.pid})` };
  if (socket?.stat) return { name: null, uid: socket.stat.uid, source: `the owner of ${socket.path}` };
  return null;
}

export function uidOf(name: string): number | null {
  if (name === 'root') return 0;
  const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const uid = Number(r.stdout.trim());
  return r.status === 0 && Number.isInteger(uid) ? uid : null;
}

/**
 * The runtime's files when not given: the unit's ExecStart= program (and, for
 * a script, its interpreter), each with the directory it lives in; without a
 * unit, this installation (the bundle directory, or a checkout's dist/, bin/
 * and node_modules/) and the node binary running it.
 */
export function defaultRuntimePaths(unit: UnitFile | null): string[] {
  const paths = new Set<string>();
  const add = (p: string) => {
    try {
      paths.add(realpathSync(p));
    } catch {
      paths.add(p); // reported missing by the check
    }
  };
  const exec = unit?.get('Service.ExecStart');
  if (exec) {
    const program = exec.replace(/^[-@:+!]+/, '').split(/\s+/)[0]!;
    add(program);
    try {
      const real = realpathSync(program);
      paths.add(dirname(real));
      const head = readFileSync(real).subarray(0, 256).toString('latin1');
      const shebang = /^#!\s*(\S+)/.exec(head);
      if (shebang) add(shebang[1]!);
    } catch {
      /* reported by the check */
    }
  } else {
    // dist/src/doctor → the checkout; a bundle has everything in its own directory
    const here = __dirname;
    const root = resolve(here, '../../..');
    if (existsSync(join(root, 'dist')) && here.startsWith(join(root, 'dist'))) {
      for (const p of ['dist', 'bin', 'node_modules']) add(join(root, p));
    } else {
      add(here);
    }
  }
  add(process.execPath);
  return [...paths];
}

/** For the checks: whether a path's mode lets everyone write. */
export function worldWritable(st: Stats): boolean {
  return !st.isSymbolicLink() && (st.mode & 0o002) !== 0;
}
