import { nativeAddon } from './addon';

/** What hardenSelf did, for the start-up log. */
export interface Hardening {
  dumpable_off: boolean;
  core_limit_zero: boolean;
  error: string | null;
}

/**
 * Makes the daemon a hard target for its own commands (same uid): not
 * dumpable, so they cannot open /proc/<daemon>/{environ,mem,fd} or ptrace it,
 * and RLIMIT_CORE 0, so a crash leaves no core holding secrets. Called first
 * thing at start-up, before any secret is read. Never throws: without the
 * addon the daemon runs unhardened, and says so in its log.
 */
export function hardenSelf(): Hardening {
  const { addon, error } = nativeAddon();
  if (!addon) return { dumpable_off: false, core_limit_zero: false, error: `native addon not loaded: ${error}` };
  try {
    return { ...addon.harden(), error: null };
  } catch (err) {
    return { dumpable_off: false, core_limit_zero: false, error: String(err) };
  }
}
