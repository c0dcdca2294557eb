import { CONFIG_KEYS, ConfigSchema, envNameOf } from '../config/schema';
import type { DoctorContext } from './context';
import type { UnitFile } from './unit';

/** TRL_* settings as the daemon would get them: the env file, overridden by the unit's Environment=. */
export function trlSettings(envFile: DoctorContext['envFile'], unit: UnitFile | null): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const src of [envFile?.vars ?? {}, unit?.environment() ?? {}]) for (const [k, v] of Object.entries(src)) if (k.startsWith('TRL_') && v !== '') raw[k] = v;
  return raw;
}

/** The settings through the daemon's own schema: its config, or the problems that would stop it. */
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
