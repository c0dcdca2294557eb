import { readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { statFile, type DoctorContext, type DoctorOptions } from './context';
import type { UnitFile } from './unit';

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
