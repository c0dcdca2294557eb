import { lstatSync, type Stats } from 'node:fs';
import type { Config } from '../config/schema';
import { inspectCodeCaches } from './code-caches';
import { collectDaemonEnv, queryDaemon } from './daemon-probe';
import { defaultRuntimePaths } from './runtime-paths';
import { parseSettings, trlSettings } from './settings';
import type { UnitFile } from './unit';

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
  /** What trld and trl would do with their code caches; null when doctor does not run from the package. */
  codeCaches: ReturnType<typeof inspectCodeCaches>;
}

/**
 * What differs between the two instances doctor checks (the system service and
 * a user's own): where the units, the env file and the socket are, and who the
 * daemon runs as. The rest of the context is gathered the same way for both.
 */
export interface Instance {
  unit: UnitFile | null;
  socketUnits: UnitFile[];
  envFile: DoctorContext['envFile'];
  /** The socket, given the TRL_* settings the daemon would read. */
  socket(settings: Record<string, string>): DoctorContext['socket'];
  /** Who the daemon runs as, once it was asked. */
  runtimeUser(daemon: DoctorContext['daemon'], socket: DoctorContext['socket']): DoctorContext['runtimeUser'];
}

/** The context of one instance: its settings parsed, its daemon asked, its environment and runtime files found. */
export async function gatherContext(opts: DoctorOptions, instance: Instance): Promise<DoctorContext> {
  const { unit, socketUnits, envFile } = instance;
  const settingsRaw = trlSettings(envFile, unit);
  const socket = instance.socket(settingsRaw);
  const daemon = socket ? await queryDaemon(socket.path) : null;
  return {
    unit,
    socketUnits,
    envFile,
    settingsRaw,
    settings: parseSettings(settingsRaw),
    runtimeUser: instance.runtimeUser(daemon, socket),
    socket,
    daemon,
    daemonEnv: collectDaemonEnv(unit, daemon),
    runtimePaths: opts.runtimePaths.length ? opts.runtimePaths : defaultRuntimePaths(unit),
    codeCaches: inspectCodeCaches(opts.env),
  };
}

/** lstat of `path`, or the error code that stopped it (ENOENT, EACCES). */
export function statFile(path: string): FileInfo {
  try {
    return { path, stat: lstatSync(path), error: null };
  } catch (err) {
    return { path, stat: null, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}
