import { statSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseDotenv } from 'dotenv';
import { CONFIG_KEYS, ConfigSchema, envNameOf, flagOf, hasFlag, isBooleanKey, type Config, type ConfigKey } from './schema';

/** A configuration error: the message names the setting and what is allowed. Exit before binding anything. */
export class ConfigError extends Error {}

export interface LoadedConfig {
  config: Config;
  /** Non-TRL_* variables from the env file: runtime-level env for commands. Values never logged. */
  envFileVars: Record<string, string>;
  /** TRL_* names in the environment or env file that are not settings (names only). */
  unknownKeys: string[];
  help: boolean;
  version: boolean;
}

const SETTING_BY_ENV = new Map(CONFIG_KEYS.map((k) => [envNameOf(k), k]));
/** TRL_* names that are not settings but are read elsewhere (the test harness; the packaged loader, boot/trld.ts). */
const KNOWN_OTHER = new Set(['TRL_TEST_USER', 'TRL_TEST_DAEMON_ROOT', 'TRL_CODE_CACHE_DIR']);

/** Reads the settings: defaults < env file < TRL_* environment < flags. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, uid: number): LoadedConfig {
  const flags = parseFlags(argv);
  const raw: Partial<Record<ConfigKey, unknown>> = {};
  const unknownKeys: string[] = [];

  const envFile = (flags.values[flagOf('env_file')] as string | undefined) ?? nonEmpty(env.TRL_ENV_FILE);
  const envFileVars: Record<string, string> = {};
  if (envFile !== undefined) {
    for (const [name, value] of Object.entries(readEnvFile(envFile, uid) ?? {})) {
      if (name.startsWith('TRL_')) collect(raw, unknownKeys, name, value);
      else envFileVars[name] = value;
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('TRL_') && value !== undefined && value !== '') collect(raw, unknownKeys, name, value);
  }
  for (const key of CONFIG_KEYS) {
    if (!hasFlag(key)) continue;
    const v = flags.values[flagOf(key)];
    if (v !== undefined) raw[key] = v;
  }
  if (envFile !== undefined) raw.env_file = envFile;

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as ConfigKey;
      return `${envNameOf(key)} (--${flagOf(key)}): ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  return {
    config: parsed.data,
    envFileVars,
    unknownKeys,
    help: flags.values.help === true,
    version: flags.values.version === true,
  };
}

function collect(raw: Partial<Record<ConfigKey, unknown>>, unknown: string[], name: string, value: string): void {
  const key = SETTING_BY_ENV.get(name);
  if (key) raw[key] = value;
  else if (!KNOWN_OTHER.has(name)) unknown.push(name);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function parseFlags(argv: string[]) {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, version: { type: 'boolean' } };
  for (const key of CONFIG_KEYS) if (hasFlag(key)) options[flagOf(key)] = { type: isBooleanKey(key) ? 'boolean' : 'string' };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}; see --help`);
  }
}

/**
 * Parses the env file with dotenv.parse (which neither prints nor touches
 * process.env), after checking who may read it. A leading "-" (systemd's
 * EnvironmentFile= convention) makes a missing file mean "no env file": the
 * user unit names ~/.config/trl/trl.env, which most users never create.
 */
function readEnvFile(spec: string, uid: number): Record<string, string> | null {
  const optional = spec.startsWith('-');
  const path = optional ? spec.slice(1) : spec;
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(`env file ${path} (TRL_ENV_FILE) does not exist or cannot be read; create it with mode 0600 or unset TRL_ENV_FILE`);
  }
  if (!st.isFile()) throw new ConfigError(`env file ${path} (TRL_ENV_FILE) is not a regular file`);
  if ((st.mode & 0o077) !== 0) {
    throw new ConfigError(
      `env file ${path} (TRL_ENV_FILE) is readable or writable by group or others (mode ${(st.mode & 0o777).toString(8)}); it may hold secrets: chmod 600 ${path}`,
    );
  }
  if (st.uid !== uid && st.uid !== 0) {
    throw new ConfigError(`env file ${path} (TRL_ENV_FILE) is owned by uid ${st.uid}, not by this user (${uid}) or root; chown it`);
  }
  try {
    return parseDotenv(readFileSync(path));
  } catch {
    throw new ConfigError(`env file ${path} (TRL_ENV_FILE) cannot be read by uid ${uid}`);
  }
}
