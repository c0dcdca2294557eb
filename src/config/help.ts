import { CONFIG_HELP, CONFIG_KEYS, ConfigSchema, envNameOf, flagOf, hasFlag, isBooleanKey } from './schema';

/** `trld --help`: every setting with its flag, environment name and default. */
export function renderHelp(version: string): string {
  const defaults = ConfigSchema.parse({}) as Record<string, unknown>;
  const lines = [
    `trld ${version} — the Terminal Runtime Layer daemon`,
    '',
    'Usage: trld [--flag value ...]',
    '',
    'Settings, weakest source first: default < env file < TRL_* environment < flag.',
    '',
  ];
  for (const key of CONFIG_KEYS) {
    const flag = hasFlag(key) ? `--${flagOf(key)}${isBooleanKey(key) ? '' : ' VALUE'}` : '(no flag)';
    const def = defaults[key] === undefined ? '(unset)' : JSON.stringify(defaults[key]);
    lines.push(`  ${flag.padEnd(36)} ${envNameOf(key)}`);
    lines.push(`      ${CONFIG_HELP[key]}. Default: ${def}`);
  }
  lines.push('', '  --help                               this text', '  --version                            print the version', '');
  return lines.join('\n');
}
